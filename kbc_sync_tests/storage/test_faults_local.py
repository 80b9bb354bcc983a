"""Every fault kind of the local stack, and what the client does about it."""

from __future__ import annotations

import logging
import re

import pytest

from kbc_sync.errors import ApiError, JobFailedError
from kbc_sync.storage import StorageClient, new_run_id
from kbc_sync_tests.storage.local import Project


def _path(table_id: str, suffix: str = "") -> str:
    return f".*/v2/storage/tables/{re.escape(table_id)}{suffix}"


def _exported_into_empty_table(project: Project) -> tuple[str, str]:
    """Seed a 150-row source and an empty target; return the target and the export's file."""
    source = project.seed("src", 150)
    target = project.seed("dst", 0)
    export = project.client.wait_for_job(project.client.start_export(source))
    return target, export["results"]["file"]["id"]


def test_get_table_500_twice_retried_with_warnings(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    table_id = project.seed("t", 1)
    project.stack.add_fault({"method": "GET", "path": _path(table_id), "times": 2, "status": 500})
    caplog.set_level(logging.WARNING, logger="kbc_sync.storage.retry")

    table = project.client.get_table(table_id)

    assert table["id"] == table_id
    assert [r.getMessage()[:60] for r in caplog.records] == [
        f"Storage API GET /v2/storage/tables/{table_id}: status 500; retry"[:60]
    ] * 2
    assert project.token not in caplog.text


def test_get_table_500_persisting_raises_retryable_api_error(project: Project) -> None:
    table_id = project.seed("t", 1)
    project.stack.add_fault({"method": "GET", "path": _path(table_id), "times": 10, "status": 500})

    with pytest.raises(ApiError, match=rf"answered 500 to GET .*{re.escape(table_id)}") as info:
        project.client.get_table(table_id)

    assert info.value.status == 500
    assert info.value.retryable is True


def test_maintenance_503_retry_after_honoured(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    table_id = project.seed("t", 1)
    fault = {"method": "GET", "path": _path(table_id), "times": 1, "status": 503, "retry_after": 1}
    project.stack.add_fault(fault)
    caplog.set_level(logging.WARNING, logger="kbc_sync.storage.retry")

    project.client.get_table(table_id)

    assert "status 503; retry attempt 1/3 in 1.0 s" in caplog.text


def test_maintenance_longer_than_retries_reports_maintenance(project: Project) -> None:
    table_id = project.seed("t", 1)
    fault = {"method": "GET", "path": _path(table_id), "times": 9, "status": 503, "retry_after": 1}
    project.stack.add_fault(fault)
    client = StorageClient(project.stack.url, project.token, max_retries=1, retry_after_max=0.1)

    with pytest.raises(ApiError, match=r"answered 503.*maintenance") as info:
        client.get_table(table_id)

    assert info.value.retryable is True


def test_import_dropped_after_send_not_resent_and_job_found_by_run_id(project: Project) -> None:
    target, file_id = _exported_into_empty_table(project)
    fault = {"method": "POST", "path": _path(target, "/import-async"), "times": 1}
    project.stack.add_fault({**fault, "drop_connection": True})
    run_id = new_run_id()

    with pytest.raises(ApiError, match="may have started the job anyway") as info:
        project.client.start_import(
            target, file_id, incremental=True, columns=["id", "name"], run_id=run_id
        )
    job = project.client.find_job_by_run_id(run_id, "tableImport")

    assert info.value.status is None
    assert job is not None
    project.client.wait_for_job(job)
    assert project.client.get_table(target)["rowsCount"] == 150


def test_import_504_after_work_not_resent_and_job_found_by_run_id(project: Project) -> None:
    target, file_id = _exported_into_empty_table(project)
    fault = {"method": "POST", "path": _path(target, "/import-async"), "times": 1}
    project.stack.add_fault({**fault, "status": 504, "after_work": True})
    run_id = new_run_id()

    with pytest.raises(ApiError, match=rf"answered 504 .*tableImport job with runId {run_id}"):
        project.client.start_import(
            target, file_id, incremental=True, columns=["id", "name"], run_id=run_id
        )
    jobs = [j for j in project.client.list_jobs() if j.get("runId") == run_id]

    assert len(jobs) == 1, "the import was sent again after a 504"
    project.client.wait_for_job(project.client.find_job_by_run_id(run_id, "tableImport"))
    assert project.client.get_table(target)["rowsCount"] == 150


def test_job_poll_dropped_connection_resent(project: Project) -> None:
    table_id = project.seed("t", 3)
    job = project.client.start_export(table_id)
    fault = {"method": "GET", "path": f".*/v2/storage/jobs/{job['id']}", "times": 1}
    project.stack.add_fault({**fault, "drop_connection": True})

    finished = project.client.wait_for_job(job)

    assert finished["status"] == "success"


def test_export_job_error_fault_raises_job_failed_with_link(project: Project) -> None:
    table_id = project.seed("t", 3)
    fault = {"method": "POST", "path": _path(table_id, "/export-async"), "times": 1}
    project.stack.add_fault({**fault, "job_error": True})

    job = project.client.start_export(table_id)
    with pytest.raises(JobFailedError, match=rf"Storage job {job['id']} \(tableExport\)") as info:
        project.client.wait_for_job(job)

    assert info.value.job_id == job["id"]
    assert info.value.url == (
        f"{project.stack.url}/admin/projects/{project.id}/storage/jobs/{job['id']}"
    )


def test_slow_response_read_timeout_resent_for_get(project: Project) -> None:
    table_id = project.seed("t", 1)
    project.stack.add_fault({"method": "GET", "path": _path(table_id), "times": 1, "delay": 2})
    client = StorageClient(
        project.stack.url, project.token, timeout=(2, 0.5), max_retries=2, backoff_base=0.01
    )

    table = client.get_table(table_id)

    assert table["id"] == table_id


def test_slow_import_read_timeout_not_resent(project: Project) -> None:
    source = project.seed("src", 5)
    target = project.seed("dst", 0)
    export = project.client.wait_for_job(project.client.start_export(source))
    fault = {"method": "POST", "path": _path(target, "/import-async"), "times": 1, "delay": 2}
    project.stack.add_fault(fault)
    client = StorageClient(project.stack.url, project.token, timeout=(2, 0.5))
    run_id = new_run_id()

    with pytest.raises(ApiError, match="may have started the job anyway"):
        client.start_import(
            target,
            export["results"]["file"]["id"],
            incremental=True,
            columns=["id", "name"],
            run_id=run_id,
        )

    jobs = [j for j in project.client.list_jobs() if j.get("runId") == run_id]
    assert len(jobs) <= 1
