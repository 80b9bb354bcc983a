"""File Storage and jobs over HTTP: prepare, upload with boto3, detail, delete; job listing."""

from __future__ import annotations

import logging

import requests

from kbc_sync_tests.local.conftest import StackProject
from kbc_sync_tests.local.helpers import Api, create, s3_client, upload


def test_prepare_plain_file_gives_aws_upload_params(project: StackProject) -> None:
    body = project.master.ok(
        "POST", "files/prepare", 201,
        data={"name": "data.csv", "federationToken": "1", "tags[]": ["a", "b"], "sizeBytes": "9"},
    )  # fmt: skip

    params = body["uploadParams"]
    assert isinstance(body["id"], int)
    assert body["provider"] == "aws" and body["region"] == "us-east-1"
    assert body["isSliced"] is False
    assert body["tags"] == ["a", "b"]
    assert body["sizeBytes"] == 9
    assert params["acl"] == "private"
    assert params["key"].endswith(f"{body['id']}.data.csv")
    assert params["credentials"]["AccessKeyId"].startswith("ASIA")
    assert set(params["credentials"]) == {
        "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration",
    }  # fmt: skip


def test_prepare_without_federation_has_no_credentials(project: StackProject) -> None:
    body = project.master.ok("POST", "files/prepare", 201, json={"name": "x.csv"})

    assert "credentials" not in body["uploadParams"]


def test_prepare_sliced_needs_federation_token(project: StackProject) -> None:
    response = project.master.post("files/prepare", json={"name": "x", "isSliced": True})

    assert response.status_code == 400


def test_uploaded_file_detail_with_and_without_federation(project: StackProject) -> None:
    file_id = upload(project.master, project.s3, "hello.txt", b"hello")

    plain = project.master.ok("GET", f"files/{file_id}", 200)
    federated = project.master.ok("GET", f"files/{file_id}", 200, params={"federationToken": 1})
    s3 = s3_client(federated["credentials"], project.s3)
    body = s3.get_object(**{"Bucket": federated["s3Path"]["bucket"],
                            "Key": federated["s3Path"]["key"]})["Body"].read()  # fmt: skip

    assert "credentials" not in plain and "s3Path" not in plain
    assert requests.get(plain["url"], timeout=10).content == b"hello"
    assert body == b"hello"


def test_sliced_file_url_points_at_manifest(project: StackProject) -> None:
    prepared = project.master.ok(
        "POST",
        "files/prepare",
        201,
        json={"name": "s.csv", "isSliced": True, "federationToken": True},
    )

    detail = project.master.ok("GET", f"files/{prepared['id']}", 200)

    assert detail["isSliced"] is True
    assert detail["url"].split("?")[0].endswith(prepared["uploadParams"]["key"] + "manifest")


def test_file_delete_then_404(project: StackProject) -> None:
    file_id = upload(project.master, project.s3, "gone.csv", b"a\n1\n")

    deleted = project.master.delete(f"files/{file_id}")
    after = project.master.get(f"files/{file_id}")

    assert deleted.status_code == 204
    assert after.status_code == 404
    assert after.json()["code"] == "storage.files.notFound"


def test_files_of_other_tokens_are_hidden_from_bucket_tokens(project: StackProject) -> None:
    file_id = upload(project.master, project.s3, "master.csv", b"a\n")
    writer = project.token(bucket_permissions={"in.c-main": "write"})

    response = writer.get(f"files/{file_id}")

    assert response.status_code == 404


def test_job_shape_and_run_id(project: StackProject) -> None:
    file_id = upload(project.master, project.s3, "t.csv", b"id\n1\n")

    started = project.master.ok(
        "POST", "buckets/in.c-main/tables-async", 202,
        json={"name": "t", "dataFileId": file_id}, headers={"X-KBC-RunId": "run-42"},
    )  # fmt: skip
    done = project.master.wait(started)

    assert started["status"] == "waiting"
    assert started["startTime"] is None and started["endTime"] is None
    assert started["results"] is None
    assert started["url"] == f"{project.stack.url}/v2/storage/jobs/{started['id']}"
    assert done["runId"] == "run-42"
    assert done["status"] == "success"
    assert done["startTime"] and done["endTime"]
    assert isinstance(done["creatorToken"]["id"], int)


def test_jobs_list_newest_first_with_limit_offset(project: StackProject) -> None:
    for name in ("a", "b", "c"):
        create(project.master, project.s3, "in.c-main", name, ["id"], [["1"]])

    jobs = project.master.ok("GET", "jobs", 200)
    page = project.master.ok("GET", "jobs", 200, params={"limit": 1, "offset": 1})

    ids = [job["id"] for job in jobs]
    assert ids == sorted(ids, reverse=True)
    assert [job["tableId"] for job in jobs if job["operationName"] == "tableCreate"] == [
        "in.c-main.c", "in.c-main.b", "in.c-main.a",
    ]  # fmt: skip
    assert [job["id"] for job in page] == [ids[1]]


def test_jobs_of_other_projects_are_404(project: StackProject, local_stack) -> None:
    other = local_stack.add_project("Other jobs")
    local_stack.create_bucket(other, "in.c-x")

    stranger = Api(local_stack.url, local_stack.add_token(other, master=True))
    file_id = upload(project.master, project.s3, "t.csv", b"id\n1\n")
    job = project.master.ok(
        "POST", "buckets/in.c-main/tables-async", 202, json={"name": "t", "dataFileId": file_id}
    )

    response = stranger.get(f"jobs/{job['id']}")

    assert response.status_code == 404
    assert response.json()["code"] == "storage.jobs.notFound"


def test_stack_logs_carry_no_token_or_signature(project: StackProject, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kbc_sync.local")
    file_id = upload(project.master, project.s3, "t.csv", b"id\n1\n")
    detail = project.master.ok("GET", f"files/{file_id}", 200)
    requests.get(detail["url"], timeout=10)

    project.master.run(
        "POST", "buckets/in.c-main/tables-async", json={"name": "t", "dataFileId": file_id}
    )

    signature = detail["url"].split("Signature=")[1].split("&")[0]
    assert "Job" in caplog.text
    assert project.master.token not in caplog.text
    assert signature not in caplog.text
