"""Injected faults: HTTP errors, maintenance, dropped connections, failed jobs, delays, S3."""

from __future__ import annotations

import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from kbc_sync.local.faults import FaultSpecError
from kbc_sync_tests.local.conftest import StackProject
from kbc_sync_tests.local.helpers import csv_bytes, export_rows, load, upload

T = "in.c-main.t"


def _seed(project: StackProject) -> None:
    project.stack.seed_table(project.project_id, T, ["id"], [["1"]], primary_key=["id"])


def _post_fault(stack, spec: dict) -> requests.Response:
    return requests.post(f"{stack.url}/_local/faults", json=spec, timeout=10)


def test_status_fault_fires_times_then_stops(project: StackProject, faults) -> None:
    created = _post_fault(faults, {"method": "GET", "path": "tokens/verify$", "status": 500,
                                   "times": 2})  # fmt: skip

    codes = [project.master.get("tokens/verify").status_code for _ in range(3)]

    assert created.status_code == 201
    assert codes == [500, 500, 200]


def test_status_fault_body_is_keboola_error(project: StackProject, faults) -> None:
    faults.add_fault({"path": "tokens/verify$", "status": 502, "times": 1})

    response = project.master.get("tokens/verify")

    assert response.status_code == 502
    assert set(response.json()) >= {"error", "code", "exceptionId", "status"}


def test_maintenance_503_has_retry_after_and_documented_body(project: StackProject, faults) -> None:
    faults.add_fault({"path": "tokens/verify$", "status": 503, "retry_after": 7, "times": 1})

    response = project.master.get("tokens/verify")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    body = response.json()
    assert body["status"] == "maintenance"
    assert set(body) == {"status", "estimatedEndTime", "reason"}


def test_fault_method_filter_leaves_other_methods_alone(project: StackProject, faults) -> None:
    faults.add_fault({"method": "POST", "path": "tokens/verify$", "status": 500})

    response = project.master.get("tokens/verify")

    assert response.status_code == 200


def test_delete_faults_clears_them(project: StackProject, faults) -> None:
    faults.add_fault({"path": "tokens/verify$", "status": 500})

    cleared = requests.delete(f"{faults.url}/_local/faults", timeout=10)

    assert cleared.status_code == 204
    assert project.master.get("tokens/verify").status_code == 200


def test_drop_connection_loses_answer_but_job_runs(project: StackProject, faults) -> None:
    file_id = upload(project.master, project.s3, "t.csv", csv_bytes(["id"], [["1"]]))
    run_id = f"run-{uuid.uuid4()}"
    faults.add_fault({"method": "POST", "path": "tables-async$", "drop_connection": True,
                      "times": 1})  # fmt: skip

    broken = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    with pytest.raises(broken):
        project.master.post(
            "buckets/in.c-main/tables-async", json={"name": "t", "dataFileId": file_id},
            headers={"X-KBC-RunId": run_id},
        )  # fmt: skip
    found = [job for job in project.master.ok("GET", "jobs", 200) if job["runId"] == run_id]

    assert len(found) == 1
    assert project.master.wait(found[0])["status"] == "success"


def test_status_after_work_answers_error_but_job_runs(project: StackProject, faults) -> None:
    file_id = upload(project.master, project.s3, "t.csv", csv_bytes(["id"], [["1"]]))
    run_id = f"run-{uuid.uuid4()}"
    faults.add_fault({"method": "POST", "path": "tables-async$", "status": 504,
                      "after_work": True, "times": 1})  # fmt: skip

    answer = project.master.post(
        "buckets/in.c-main/tables-async", json={"name": "t", "dataFileId": file_id},
        headers={"X-KBC-RunId": run_id},
    )  # fmt: skip
    found = [job for job in project.master.ok("GET", "jobs", 200) if job["runId"] == run_id]

    assert answer.status_code == 504
    assert answer.json()["code"] == "local.fault504"
    assert len(found) == 1
    assert project.master.wait(found[0])["status"] == "success"
    assert export_rows(project.master, project.s3, T) == [["1"]]


def test_job_error_fails_next_job_and_leaves_table(project: StackProject, faults) -> None:
    _seed(project)
    faults.add_fault({"method": "POST", "path": "import-async$", "job_error": True, "times": 1,
                      "code": "storage.test", "message": "broken on purpose"})  # fmt: skip

    failed = load(project.master, project.s3, T, ["id"], [["2"]], incremental=False)
    passed = load(project.master, project.s3, T, ["id"], [["3"]], incremental=True)

    assert failed["status"] == "error"
    assert failed["error"]["code"] == "storage.test"
    assert failed["error"]["message"] == "broken on purpose"
    assert passed["status"] == "success"
    assert export_rows(project.master, project.s3, T) == [["1"], ["3"]]


def test_delay_fault_holds_the_answer(project: StackProject, faults) -> None:
    faults.add_fault({"path": "tokens/verify$", "delay": 1.5, "times": 1})

    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            f"{faults.url}/v2/storage/tokens/verify",
            headers={"X-StorageApi-Token": project.master.token}, timeout=0.3,
        )  # fmt: skip


def test_invalid_fault_spec_is_refused(local_stack) -> None:
    response = _post_fault(local_stack, {"path": "x", "times": 1})

    assert response.status_code == 400
    with pytest.raises(FaultSpecError, match='"status" is out of range'):
        local_stack.add_fault({"status": 200})
    with pytest.raises(FaultSpecError, match="Unknown fault fields"):
        local_stack.add_fault({"status": 500, "colour": "red"})
    with pytest.raises(FaultSpecError, match='"after_work" needs "status"'):
        local_stack.add_fault({"after_work": True, "delay": 1})
    with pytest.raises(FaultSpecError, match="applies to API calls only"):
        local_stack.add_fault({"target": "s3", "status": 500, "after_work": True})


def _s3(stack) -> object:
    return boto3.client(
        "s3", endpoint_url=stack.s3_endpoint_url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def test_s3_status_fault_reaches_boto3(project: StackProject, faults) -> None:
    file_id = upload(project.master, project.s3, "f.csv", b"a\n")
    detail = project.master.ok("GET", f"files/{file_id}", 200, params={"federationToken": 1})
    faults.add_fault({"target": "s3", "method": "GET", "path": f"{file_id}\\.f\\.csv$",
                      "status": 500, "times": 1})  # fmt: skip

    with pytest.raises(ClientError, match="InternalError"):
        _s3(faults).get_object(Bucket=detail["s3Path"]["bucket"], Key=detail["s3Path"]["key"])


def test_s3_drop_connection_breaks_transfer(project: StackProject, faults) -> None:
    file_id = upload(project.master, project.s3, "g.csv", b"a\n")
    detail = project.master.ok("GET", f"files/{file_id}", 200, params={"federationToken": 1})
    faults.add_fault({"target": "s3", "path": f"{file_id}\\.g\\.csv$", "drop_connection": True,
                      "times": 1})  # fmt: skip

    with pytest.raises((ConnectionClosedError, EndpointConnectionError, ClientError)):
        _s3(faults).get_object(Bucket=detail["s3Path"]["bucket"], Key=detail["s3Path"]["key"])


def test_job_is_processing_while_its_file_transfer_is_held(project: StackProject, faults) -> None:
    _seed(project)
    file_id = upload(project.master, project.s3, "slow.csv", csv_bytes(["id"], [["5"]]))
    faults.add_fault({"target": "s3", "method": "GET", "path": f"{file_id}\\.slow\\.csv$",
                      "delay": 1.5, "times": 1})  # fmt: skip

    body = {"dataFileId": file_id, "incremental": True}
    started = project.master.ok("POST", f"tables/{T}/import-async", 202, json=body)
    seen = started
    while seen["status"] == "waiting":
        seen = project.master.ok("GET", f"jobs/{started['id']}", 200)
    done = project.master.wait(started)

    assert started["status"] == "waiting"
    assert seen["status"] == "processing"
    assert seen["startTime"] is not None and seen["endTime"] is None
    assert done["status"] == "success"
