"""Job polling against a scripted server: the local stack cannot hold a job in `processing`
forever, nor answer with a job error in every documented shape."""

from __future__ import annotations

import itertools
import logging

import pytest

from kbc_sync.errors import JobFailedError
from kbc_sync.storage import StorageClient
from kbc_sync.storage.jobs import poll_intervals
from kbc_sync_tests.storage.stub import Reply, StubServer

JOB = "/v2/storage/jobs/77"
VERIFY = "/v2/storage/tokens/verify"


def _job(status: str, **extra: object) -> Reply:
    return Reply(200, {"id": 77, "status": status, "operationName": "tableImport", **extra})


def test_wait_for_job_polls_until_success_and_returns_job(
    stub: StubServer, client: StorageClient, caplog: pytest.LogCaptureFixture
) -> None:
    stub.add("GET", JOB, _job("waiting"), _job("processing"), _job("success", results=[]))
    caplog.set_level(logging.DEBUG, logger="kbc_sync.storage.jobs")

    job = client.wait_for_job({"id": "77", "operationName": "tableImport"})

    assert job["status"] == "success"
    assert job["results"] == {}
    assert len(stub.requests_to("GET", JOB)) == 3
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.endswith(".jobs")]
    assert lines[0] == (logging.DEBUG, "Waiting for Storage job 77 (tableImport)")
    assert [message for level, message in lines if level >= logging.INFO] == [lines[-1][1]]
    assert lines[-1][1].startswith("Storage job 77 (tableImport) ended success after ")


def test_wait_for_job_first_poll_immediate_for_finished_job(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("GET", JOB, _job("success"))

    job = client.wait_for_job("77")

    assert job["id"] == "77"
    assert len(stub.requests_to("GET", JOB)) == 1


def test_wait_for_job_error_raises_with_code_message_id_and_link(
    stub: StubServer, client: StorageClient
) -> None:
    error = {
        "code": "csvImport.columnsNotMatch",
        "message": "Some columns are missing in the csv file. Missing columns: boo.",
        "exceptionId": "exception-abc",
    }
    stub.add("GET", JOB, _job("error", error=error, tableId="in.c-a.t", results={"x": 1}))
    stub.add("GET", VERIFY, Reply(200, {"id": "1", "owner": {"id": 58, "name": "P"}}))

    with pytest.raises(
        JobFailedError,
        match=r"Storage job 77 \(tableImport\) on table in.c-a.t failed with "
        r"csvImport.columnsNotMatch: Some columns are missing.*Missing columns: boo",
    ) as info:
        client.wait_for_job("77")

    failure = info.value
    assert failure.job_id == "77"
    assert failure.code == "csvImport.columnsNotMatch"
    assert failure.url == f"{stub.url}/admin/projects/58/storage/jobs/77"
    assert failure.url in failure.message
    assert failure.results == {"x": 1}


def test_wait_for_job_error_without_project_links_api_url(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("GET", JOB, _job("error", error={"code": 12, "message": "boom"}))
    stub.add("GET", VERIFY, Reply(503))

    with pytest.raises(JobFailedError, match="failed with 12: boom") as info:
        client.wait_for_job("77")

    assert info.value.url == f"{stub.url}/v2/storage/jobs/77"


def test_wait_for_job_past_deadline_raises_retryable_timeout(stub: StubServer) -> None:
    stub.add("GET", JOB, _job("processing"))
    client = StorageClient(stub.url, "t-o-k-e-n", job_poll_max_interval=0.05, job_timeout=0.3)

    with pytest.raises(JobFailedError, match=r"did not finish within 0 s.*last status processing"):
        client.wait_for_job("77")

    assert len(stub.requests_to("GET", JOB)) > 1


def test_poll_intervals_start_at_once_then_grow_to_cap() -> None:
    waits = list(itertools.islice(poll_intervals(2.0), 12))

    assert waits[0] == 0
    assert waits[1] == 0.2
    assert all(later >= earlier for earlier, later in itertools.pairwise(waits[1:]))
    assert waits[-1] == 2.0
