"""The client against the local Storage stack over HTTP: tokens, tables, jobs, errors."""

from __future__ import annotations

import pytest

from kbc_sync.errors import AccessDeniedError, JobFailedError, NotFoundError, TokenInvalidError
from kbc_sync.storage import StorageClient
from kbc_sync_tests.storage.local import Project


def test_verify_token_master_owner_id_as_string(project: Project) -> None:
    detail = project.client.verify_token()

    assert detail["owner"]["id"] == str(project.id)
    assert detail["isMasterToken"] is True
    assert project.client.project_id == str(project.id)


def test_verify_token_bucket_token_permissions_as_map(project: Project) -> None:
    token = project.stack.add_token(project.id, bucket_permissions={project.bucket: "write"})
    client = StorageClient(project.stack.url, token)

    detail = client.verify_token()

    assert detail["bucketPermissions"] == {project.bucket: "write"}
    assert detail["isMasterToken"] is False


def test_verify_token_unknown_token_names_env_var(project: Project) -> None:
    client = StorageClient(project.stack.url, "999-999-notarealtokenatall0000", token_env="KBC_X")

    with pytest.raises(TokenInvalidError, match="environment variable KBC_X is invalid") as info:
        client.verify_token()

    assert info.value.status == 401
    assert "notarealtoken" not in str(info.value)


def test_call_with_refreshed_token_says_refreshing_deactivates_old(project: Project) -> None:
    old = project.stack.add_token(project.id, bucket_permissions={project.bucket: "read"})
    client = StorageClient(project.stack.url, old, token_env="KBC_SOURCE_TOKEN")
    project.stack.refresh_token(old)

    with pytest.raises(
        TokenInvalidError,
        match=r"KBC_SOURCE_TOKEN .*refreshing a token deactivates the old one",
    ):
        client.get_bucket(project.bucket)


def test_get_table_detail_columns_and_primary_key(project: Project) -> None:
    table_id = project.seed("customers", 5)

    table = project.client.get_table(table_id)

    assert table["id"] == table_id
    assert table["columns"] == ["id", "name"]
    assert table["primaryKey"] == ["id"]
    assert table["rowsCount"] == 5


def test_list_buckets_and_tables_include_columns(project: Project) -> None:
    table_id = project.seed("orders", 3)

    buckets = project.client.list_buckets()
    bucket = project.client.get_bucket(project.bucket)
    tables = project.client.list_tables(project.bucket, include=["columns"])

    assert project.bucket in [b["id"] for b in buckets]
    assert bucket["id"] == project.bucket
    assert [(t["id"], t["columns"]) for t in tables] == [(table_id, ["id", "name"])]


def test_find_table_missing_returns_none_and_get_table_raises(project: Project) -> None:
    missing = f"{project.bucket}.nothing"

    found = project.client.find_table(missing)

    assert found is None
    with pytest.raises(NotFoundError, match=rf'Table "{missing}" was not found') as info:
        project.client.get_table(missing)
    assert info.value.code == "storage.tables.notFound"


def test_get_table_other_bucket_with_bucket_token_denied(project: Project) -> None:
    table_id = project.seed("secret", 1)
    project.stack.create_bucket(project.id, f"{project.bucket}x")
    token = project.stack.add_token(project.id, bucket_permissions={f"{project.bucket}x": "read"})
    client = StorageClient(project.stack.url, token, token_env="KBC_TARGET_TOKEN")

    with pytest.raises(
        AccessDeniedError, match=rf'KBC_TARGET_TOKEN may not access table "{table_id}"'
    ):
        client.get_table(table_id)


def test_start_export_job_succeeds_with_file_in_results(project: Project) -> None:
    table_id = project.seed("events", 250)

    job = project.client.wait_for_job(project.client.start_export(table_id, gzip=True))

    assert job["status"] == "success"
    assert job["operationName"] == "tableExport"
    assert isinstance(job["results"]["file"]["id"], str)


def test_start_delete_table_removes_table(project: Project) -> None:
    table_id = project.seed("old", 2)

    project.client.wait_for_job(project.client.start_delete_table(table_id))

    assert project.client.find_table(table_id) is None


def test_wait_for_job_import_missing_columns_raises_job_failed(project: Project) -> None:
    table_id = project.seed("narrow", 1)
    project.stack.seed_table(project.id, f"{project.bucket}.wide", ["id", "name", "extra"], [])
    file_id = _export_file(project, table_id)
    job = project.client.start_import(
        f"{project.bucket}.wide", file_id, incremental=True, columns=["id", "name"]
    )

    with pytest.raises(JobFailedError, match=r"csvImport\.columnsNotMatch") as info:
        project.client.wait_for_job(job)

    failure = info.value
    assert failure.job_id == job["id"]
    assert failure.url and failure.url.endswith(f"/storage/jobs/{job['id']}")


def test_snapshot_then_create_table_from_it(project: Project) -> None:
    table_id = project.seed("snap", 4)

    snapshot_job = project.client.wait_for_job(project.client.start_snapshot(table_id, "before"))
    snapshot_id = snapshot_job["results"]["id"]
    create = project.client.start_create_table_from_snapshot(
        project.bucket, "restored", snapshot_id
    )
    project.client.wait_for_job(create)
    project.client.delete_snapshot(snapshot_id)

    restored = project.client.get_table(f"{project.bucket}.restored")
    assert restored["rowsCount"] == 4
    assert restored["primaryKey"] == ["id"]


def _export_file(project: Project, table_id: str) -> str:
    """Export a table and return the id of the headerless sliced file."""
    job = project.client.wait_for_job(project.client.start_export(table_id))
    return job["results"]["file"]["id"]
