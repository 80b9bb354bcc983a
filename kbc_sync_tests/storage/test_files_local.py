"""File stores against the local stack's S3 (moto server), reached with boto3."""

from __future__ import annotations

import csv
import gzip
import io
import os
from datetime import UTC, datetime, timedelta

import pytest

from kbc_sync.errors import TransferError
from kbc_sync.storage.files import open_file_store
from kbc_sync.storage.files.aws import AwsFileStore
from kbc_sync_tests.storage.local import Project


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(gzip.decompress(data).decode())))


def _gz_csv(rows: list[tuple[str, str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return gzip.compress(text.getvalue().encode())


def _exported(project: Project, table_id: str) -> dict:
    job = project.client.wait_for_job(project.client.start_export(table_id))
    return project.client.get_file(job["results"]["file"]["id"])


def _all_rows(detail: dict) -> list[list[str]]:
    store = open_file_store(detail)
    rows: list[list[str]] = []
    for url in store.slice_urls(detail):
        with store.open_slice(url) as stream:
            rows += _rows(stream.read())
    return rows


def test_slice_urls_sliced_export_lists_every_slice_in_order(project: Project) -> None:
    table_id = project.seed("orders", 250)
    detail = _exported(project, table_id)
    store = open_file_store(detail)

    urls = store.slice_urls(detail)

    assert isinstance(store, AwsFileStore)
    assert len(urls) == 3  # 250 rows at 100 rows per slice
    assert all(url.startswith(f"s3://{detail['s3Path']['bucket']}/") for url in urls)
    assert urls == sorted(urls)


def test_open_slice_streams_headerless_gzip_rows(project: Project) -> None:
    table_id = project.seed("customers", 250)
    detail = _exported(project, table_id)
    store = open_file_store(detail)

    rows = []
    for url in store.slice_urls(detail):
        with store.open_slice(url) as stream:
            while chunk := stream.read(64):
                rows.append(chunk)

    assert sorted(_rows(b"".join(rows)), key=lambda row: int(row[0])) == [
        [str(i), f"name {i}"] for i in range(250)
    ]


def test_upload_slices_manifest_then_import_loads_every_row(project: Project) -> None:
    header = project.client.prepare_file("header.csv")
    plain = open_file_store(header)
    plain.upload_slice(header, "", io.BytesIO(b"id,name\n0,first\n"))
    create = project.client.start_create_table(
        project.bucket, "copy", header["id"], primary_key=["id"]
    )
    project.client.wait_for_job(create)
    prepared = project.client.prepare_file("copy.csv.gz", sliced=True, tags=["kbc-sync-test"])
    store = open_file_store(prepared, chunk_size=5 * 1024 * 1024)

    names = ["part0000.gz", "part0001.gz"]
    store.upload_slice(prepared, names[0], io.BytesIO(_gz_csv([("1", "a"), ("2", "b")])))
    store.upload_slice(prepared, names[1], io.BytesIO(_gz_csv([("3", "c"), ("0", "zero")])))
    store.write_manifest(prepared, names)
    job = project.client.start_import(
        f"{project.bucket}.copy", prepared["id"], incremental=True, columns=["id", "name"]
    )
    project.client.wait_for_job(job)

    table = project.client.get_table(f"{project.bucket}.copy")
    assert table["rowsCount"] == 4
    detail = _exported(project, f"{project.bucket}.copy")
    rows = sorted(_all_rows(detail))
    assert rows == [["0", "zero"], ["1", "a"], ["2", "b"], ["3", "c"]]


def test_write_manifest_lists_slice_urls_in_given_order(project: Project) -> None:
    prepared = project.client.prepare_file("m.csv.gz", sliced=True)
    store = open_file_store(prepared)

    store.write_manifest(prepared, ["b", "a"])

    detail = project.client.get_file(prepared["id"])
    key = prepared["uploadParams"]["key"]
    bucket = prepared["uploadParams"]["bucket"]
    assert store.slice_urls(detail) == [f"s3://{bucket}/{key}b", f"s3://{bucket}/{key}a"]


def test_upload_slice_larger_than_chunk_goes_multipart_and_reads_back(project: Project) -> None:
    prepared = project.client.prepare_file("big.bin", sliced=True)
    store = open_file_store(prepared, chunk_size=5 * 1024 * 1024, concurrency=2)
    payload = os.urandom(11 * 1024 * 1024)

    url = store.upload_slice(prepared, "big0", io.BytesIO(payload))

    with store.open_slice(url) as stream:
        first = stream.read(1024)
        rest = stream.read()
    assert first + rest == payload
    bucket, key = url.removeprefix("s3://").split("/", 1)
    assert store.s3.head_object(Bucket=bucket, Key=key)["ETag"].endswith('-3"')  # 5 + 5 + 1 MiB


def test_upload_slice_of_exactly_one_chunk_reads_back(project: Project) -> None:
    prepared = project.client.prepare_file("edge.bin", sliced=True)
    store = open_file_store(prepared, chunk_size=5 * 1024 * 1024)
    payload = os.urandom(5 * 1024 * 1024)

    url = store.upload_slice(prepared, "edge0", io.BytesIO(payload))

    with store.open_slice(url) as stream:
        assert stream.read() == payload


def test_read_file_non_sliced_returns_content(project: Project) -> None:
    prepared = project.client.prepare_file("small.csv")
    open_file_store(prepared).upload_slice(prepared, "", io.BytesIO(b"id\n1\n"))

    detail = project.client.get_file(prepared["id"])

    assert open_file_store(detail).read_file(detail) == b"id\n1\n"


def test_open_slice_missing_object_raises_masked_transfer_error(project: Project) -> None:
    prepared = project.client.prepare_file("gone.csv.gz", sliced=True)
    store = open_file_store(prepared)
    bucket = prepared["uploadParams"]["bucket"]
    secret = prepared["uploadParams"]["credentials"]["SecretAccessKey"]

    with pytest.raises(TransferError, match=r"Could not read slice .*missing in S3") as info:
        store.open_slice(f"s3://{bucket}/{prepared['uploadParams']['key']}missing").read()

    assert secret not in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


def test_start_export_datetime_window_selects_rows_changed_inside(project: Project) -> None:
    clock = project.stack.clock
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    try:
        clock.set(start)
        table_id = project.seed("windowed", 3)
        clock.set(start + timedelta(hours=1))
        project.stack.seed_table(
            project.id, f"{project.bucket}.newer", ["id", "name"], [("7", "seven"), ("8", "eight")]
        )
        job = project.client.wait_for_job(project.client.start_export(f"{project.bucket}.newer"))
        load = project.client.start_import(
            table_id, job["results"]["file"]["id"], incremental=True, columns=["id", "name"]
        )
        project.client.wait_for_job(load)
    finally:
        clock.release()

    window = project.client.start_export(
        table_id,
        changed_since=start + timedelta(minutes=30),
        changed_until=start + timedelta(hours=2),
    )
    before = project.client.start_export(table_id, changed_until=start + timedelta(minutes=30))
    inside = _all_rows(project.client.get_file(_file_id(project, window)))
    earlier = _all_rows(project.client.get_file(_file_id(project, before)))

    assert sorted(inside) == [["7", "seven"], ["8", "eight"]]
    assert sorted(earlier) == [["0", "name 0"], ["1", "name 1"], ["2", "name 2"]]


def _file_id(project: Project, job: dict) -> str:
    return project.client.wait_for_job(job)["results"]["file"]["id"]


def test_upload_slice_source_failing_midway_aborts_the_multipart_upload(
    project: Project,
) -> None:
    class _Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 0:
                raise TransferError("the source slice broke off")
            return super().read(size)

    prepared = project.client.prepare_file("broken.bin", sliced=True)
    store = open_file_store(prepared, chunk_size=5 * 1024 * 1024)
    bucket = prepared["uploadParams"]["bucket"]

    with pytest.raises(TransferError, match="broke off"):
        store.upload_slice(prepared, "broken0", _Failing(os.urandom(6 * 1024 * 1024)))

    assert store.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
