"""Retry decisions against a scripted HTTP server on loopback.

The local stack can inject 5xx, maintenance and dropped connections (see the integration tests);
the stub covers what it cannot: 501, 429, 400, a GET whose connection drops, exhausted retries
and the exact number of attempts.
"""

from __future__ import annotations

import logging
import random

import pytest
import requests

from kbc_sync.errors import ApiError
from kbc_sync.storage import StorageClient
from kbc_sync.storage.retry import StorageRetry, is_resend_safe, is_retryable_status
from kbc_sync_tests.storage.conftest import TOKEN
from kbc_sync_tests.storage.stub import Reply, StubServer

VERIFY = "/v2/storage/tokens/verify"
OK = Reply(200, {"id": "1", "owner": {"id": 5, "name": "p"}, "bucketPermissions": []})


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_call_transient_status_retried_until_success(
    stub: StubServer, client: StorageClient, status: int
) -> None:
    stub.add("GET", VERIFY, Reply(status, {"error": "busy"}), Reply(status), OK)

    detail = client.verify_token()

    assert detail["owner"]["id"] == "5"
    assert len(stub.requests_to("GET", VERIFY)) == 3


@pytest.mark.parametrize("status", [400, 409, 422, 501])
def test_call_client_error_or_501_not_retried(
    stub: StubServer, client: StorageClient, status: int
) -> None:
    stub.add("GET", VERIFY, Reply(status, {"error": "no", "code": "x.y"}), OK)

    with pytest.raises(ApiError, match=f"answered {status} to GET /v2/storage/tokens/verify"):
        client.verify_token()

    assert len(stub.requests_to("GET", VERIFY)) == 1


def test_call_5xx_persisting_raises_retryable_api_error_after_max_retries(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("GET", VERIFY, Reply(500, {"error": "down", "exceptionId": "exc-1"}))

    with pytest.raises(ApiError, match=r"kept failing after retries.*exc-1") as info:
        client.verify_token()

    assert info.value.status == 500
    assert info.value.retryable is True
    assert len(stub.requests_to("GET", VERIFY)) == 4  # first attempt + max_retries=3


IMPORT = "/v2/storage/tables/in.c-a.t/import-async"
JOB = Reply(202, {"id": 9, "status": "waiting"})


@pytest.mark.parametrize("status", [503, 429])
def test_call_post_503_or_429_resent_because_server_did_no_work(
    stub: StubServer, client: StorageClient, status: int
) -> None:
    stub.add("POST", IMPORT, Reply(status, {"error": "busy"}), JOB)

    job = client.start_import("in.c-a.t", 1, incremental=True, run_id="run-1")

    assert job["id"] == "9"
    assert len(stub.requests_to("POST", IMPORT)) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", IMPORT, "tableImport"),
        ("POST", "/v2/storage/buckets/in.c-a/tables-async", "tableCreate"),
        ("POST", "/v2/storage/buckets/in.c-a/tables-definition", "tableDefinitionCreate"),
        ("DELETE", "/v2/storage/tables/in.c-a.t", "tableDrop"),
    ],
)
def test_call_job_start_5xx_not_resent_and_names_run_id(
    stub: StubServer,
    client: StorageClient,
    caplog: pytest.LogCaptureFixture,
    status: int,
    method: str,
    path: str,
    operation: str,
) -> None:
    # A gateway's 5xx may follow a job Storage already started: sending again could load twice.
    stub.add(method, path, Reply(status, {"error": "gateway timeout"}), JOB)
    caplog.set_level(logging.WARNING, logger="kbc_sync.storage.retry")
    starts = {
        "tableImport": lambda: client.start_import("in.c-a.t", 1, incremental=True, run_id="r-7"),
        "tableCreate": lambda: client.start_create_table("in.c-a", "t", 1, run_id="r-7"),
        "tableDefinitionCreate": lambda: client.start_create_table_definition(
            "in.c-a", "t", primary_key=[], columns=[{"name": "id"}], run_id="r-7"
        ),
        "tableDrop": lambda: client.start_delete_table("in.c-a.t", run_id="r-7"),
    }

    with pytest.raises(ApiError, match=rf"answered {status} to {method} {path}") as info:
        starts[operation]()

    assert info.value.status == status
    assert info.value.retryable is True
    assert f"{operation} job with runId r-7" in str(info.value)
    assert "was not sent again" in str(info.value)
    assert len(stub.requests_to(method, path + r"(\?.*)?")) == 1
    assert [r for r in caplog.records if r.name == "kbc_sync.storage.retry"] == []


def test_call_snapshot_5xx_without_run_id_says_what_to_look_for(
    stub: StubServer, client: StorageClient
) -> None:
    path = "/v2/storage/tables/in.c-a.t/snapshots"
    stub.add("POST", path, Reply(502), JOB)

    with pytest.raises(ApiError, match=r"carried no run id.*tableSnapshotCreate job of table"):
        client.start_snapshot("in.c-a.t")

    assert len(stub.requests_to("POST", path)) == 1


def test_call_resend_safe_post_5xx_resent(stub: StubServer, client: StorageClient) -> None:
    path = "/v2/storage/tables/in.c-a.t/export-async"
    stub.add("POST", path, Reply(502), Reply(504), JOB)

    job = client.start_export("in.c-a.t")

    assert job["id"] == "9"
    assert len(stub.requests_to("POST", path)) == 3


def test_call_import_501_not_resent_and_says_fix_request(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("POST", IMPORT, Reply(501, {"error": "not supported"}), JOB)

    with pytest.raises(ApiError, match="Fix the request") as info:
        client.start_import("in.c-a.t", 1, incremental=True, run_id="run-1")

    assert info.value.retryable is False
    assert len(stub.requests_to("POST", IMPORT)) == 1


def test_call_get_with_dropped_connection_resent(stub: StubServer, client: StorageClient) -> None:
    stub.add("GET", "/v2/storage/tables/in.c-a.t", Reply(drop=True), Reply(200, {"id": "x"}))

    table = client.get_table("in.c-a.t")

    assert table == {"id": "x"}


def test_call_import_with_dropped_connection_not_resent(
    stub: StubServer, client: StorageClient
) -> None:
    path = "/v2/storage/tables/in.c-a.t/import-async"
    stub.add("POST", path, Reply(drop=True), Reply(202, {"id": 9}))

    with pytest.raises(ApiError, match="may have started the job anyway") as info:
        client.start_import("in.c-a.t", 1, incremental=False, run_id="run-2")

    assert "for a tableImport job with runId run-2: if there is one, wait for it" in str(info.value)
    assert info.value.status is None
    assert info.value.retryable is True
    assert len(stub.requests_to("POST", path)) == 1


def test_call_column_changes_with_dropped_connection_name_their_operation(
    stub: StubServer, client: StorageClient
) -> None:
    added, removed = "/v2/storage/tables/in.c-a.t/columns", "/v2/storage/tables/in.c-a.t/columns/c"
    stub.add("POST", added, Reply(drop=True))
    stub.add("DELETE", removed, Reply(drop=True))

    with pytest.raises(ApiError, match="for a tableColumnAdd job with runId run-3"):
        client.start_add_column("in.c-a.t", "c", basetype="STRING", run_id="run-3")
    with pytest.raises(ApiError, match="for a tableColumnDelete job with runId run-4"):
        client.start_delete_column("in.c-a.t", "c", run_id="run-4")

    # Neither was sent twice: the caller looks the job up by its run id first.
    assert len(stub.requests_to("POST", added)) == 1
    assert len(stub.requests_to("DELETE", removed)) == 1


def test_call_export_with_dropped_connection_resent(
    stub: StubServer, client: StorageClient
) -> None:
    path = "/v2/storage/tables/in.c-a.t/export-async"
    stub.add("POST", path, Reply(drop=True), Reply(202, {"id": 10}))

    job = client.start_export("in.c-a.t")

    assert job["id"] == "10"
    assert len(stub.requests_to("POST", path)) == 2


def test_call_unreachable_stack_raises_after_retries() -> None:
    with StubServer() as gone:
        url = gone.url
    client = StorageClient(url, TOKEN, max_retries=1, backoff_base=0.01, timeout=1)

    with pytest.raises(ApiError, match="Could not reach the Storage API") as info:
        client.get_table("in.c-a.t")

    assert info.value.status is None


def test_call_retry_after_honoured_and_capped(
    stub: StubServer, client: StorageClient, caplog: pytest.LogCaptureFixture
) -> None:
    maintenance = {"status": "maintenance", "reason": "upgrade", "estimatedEndTime": "soon"}
    stub.add("GET", VERIFY, Reply(503, maintenance, {"Retry-After": "559"}), OK)
    caplog.set_level(logging.WARNING, logger="kbc_sync.storage.retry")

    client.verify_token()

    assert "retry attempt 1/3 in 0.1 s" in caplog.text  # 559 capped at retry_after_max=0.1


def test_call_retry_warning_names_attempt_method_path_without_secrets(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    stub.add("GET", "/v2/storage/files/7", Reply(500), Reply(200, {"id": 7}))
    client = StorageClient(stub.url, TOKEN, max_retries=2, backoff_base=0.01)
    caplog.set_level(logging.DEBUG)

    client.get_file(7)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert line.startswith("Storage API GET /v2/storage/files/7: status 500; retry attempt 1/2")
    assert "federationToken" not in line
    assert TOKEN not in caplog.text


def test_call_retry_warning_for_resent_import_names_attempt_delay_and_path(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    stub.add("POST", IMPORT, Reply(503, {"error": "busy"}, {"Retry-After": "0"}), JOB)
    client = StorageClient(stub.url, TOKEN, max_retries=4, backoff_base=0.01)
    caplog.set_level(logging.DEBUG)

    client.start_import("in.c-a.t", 1, incremental=True, run_id="run-3")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"Storage API POST {IMPORT}: status 503; retry attempt 1/4 in 0.0 s",
    ]
    assert TOKEN not in caplog.text


def test_backoff_time_doubles_capped_with_jitter_in_upper_half() -> None:
    retry = StorageRetry(10, backoff_base=1.0, backoff_max=8.0)
    random.seed(7)

    waits = []
    for _ in range(6):
        retry = retry.increment("GET", "/x", error=requests.exceptions.ConnectionError())
        waits.append(retry.get_backoff_time())

    for failures, wait in enumerate(waits, start=1):
        ceiling = min(8.0, 2 ** (failures - 1))
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_time_without_failures_zero() -> None:
    assert StorageRetry(3).get_backoff_time() == 0.0


@pytest.mark.parametrize(
    ("method", "path", "safe"),
    [
        ("GET", "/v2/storage/jobs/1", True),
        ("POST", "/v2/storage/files/prepare", True),
        ("POST", "/v2/storage/tables/in.c-a.t/export-async", True),
        ("POST", "/v2/storage/tables/in.c-a.t/import-async", False),
        ("POST", "/v2/storage/buckets/in.c-a/tables-async", False),
        ("POST", "/v2/storage/buckets/in.c-a/tables-definition", False),
        ("POST", "/v2/storage/tables/in.c-a.t/snapshots", False),
        ("DELETE", "/v2/storage/tables/in.c-a.t?async=1", False),
        ("DELETE", "/v2/storage/files/12", True),
        ("DELETE", "/v2/storage/snapshots/12", True),
    ],
)
def test_is_resend_safe_only_calls_that_cannot_change_data_twice(
    method: str, path: str, safe: bool
) -> None:
    assert is_resend_safe(method, path) is safe


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (501, False), (503, True), (429, True), (404, False)]
)
def test_is_retryable_status_5xx_but_501_and_429(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_call_malformed_retry_after_falls_back_to_backoff(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("GET", VERIFY, Reply(503, {"status": "maintenance"}, {"Retry-After": "soon-ish"}), OK)

    detail = client.verify_token()

    assert detail["id"] == "1"
    assert len(stub.requests_to("GET", VERIFY)) == 2
