"""Unloading over HTTP: sliced gzipped exports with a manifest, filters, windows, preview."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import requests

from kbc_sync_tests.conftest import LOCAL_SLICE_ROWS
from kbc_sync_tests.local.conftest import StackProject
from kbc_sync_tests.local.helpers import download_export, export_rows, load, s3_client

T = "in.c-main.t"


def _seed(project: StackProject, rows: int = 5) -> None:
    project.stack.seed_table(
        project.project_id, T, ["id", "city", "amount"],
        ([str(i), "Praha" if i % 2 else "Brno", str(i * 10)] for i in range(1, rows + 1)),
        primary_key=["id"],
    )  # fmt: skip


def test_export_is_sliced_headerless_gzip_with_manifest(project: StackProject) -> None:
    _seed(project, rows=LOCAL_SLICE_ROWS * 2 + 1)

    job = project.master.succeed("POST", f"tables/{T}/export-async", data={"gzip": "1"})
    file_id = job["results"]["file"]["id"]
    detail = project.master.ok("GET", f"files/{file_id}", 200, params={"federationToken": 1})
    slices = download_export(project.master, project.s3, file_id)

    assert job["operationName"] == "tableExport"
    assert job["results"]["cacheHit"] is False
    assert detail["isSliced"] is True
    assert detail["s3Path"]["key"].endswith(".csv")
    assert detail["url"].split("?")[0].endswith(detail["s3Path"]["key"] + "manifest")
    assert len(slices) == 3
    lines = [gzip.decompress(data).decode().splitlines() for data in slices]
    assert [len(part) for part in lines] == [LOCAL_SLICE_ROWS, LOCAL_SLICE_ROWS, 1]
    assert not any(line.startswith('"id"') for part in lines for line in part)


def test_export_manifest_urls_follow_prefix_layout(project: StackProject) -> None:
    _seed(project)

    job = project.master.succeed("POST", f"tables/{T}/export-async", json={"gzip": True})
    detail = project.master.ok(
        "GET", f"files/{job['results']['file']['id']}", 200, params={"federationToken": 1}
    )
    s3 = s3_client(detail["credentials"], project.s3)
    key = detail["s3Path"]["key"]
    manifest = json.loads(
        s3.get_object(Bucket=detail["s3Path"]["bucket"], Key=key + "manifest")["Body"].read()
    )

    assert manifest["entries"] == [
        {"url": f"s3://{detail['s3Path']['bucket']}/{key}0000_part_00.gz"}
    ]


def test_export_without_gzip_is_plain_csv(project: StackProject) -> None:
    _seed(project, rows=1)

    job = project.master.succeed("POST", f"tables/{T}/export-async", json={"gzip": False})
    raw = download_export(project.master, project.s3, job["results"]["file"]["id"])

    assert raw == [b'"1","Praha","10"\n']


def test_export_columns_limit_and_filters(project: StackProject) -> None:
    _seed(project, rows=6)

    picked = export_rows(project.master, project.s3, T, columns="id,amount")
    limited = export_rows(project.master, project.s3, T, limit=2)
    filtered = export_rows(
        project.master, project.s3, T,
        whereFilters=[{"column": "city", "operator": "eq", "values": ["Brno"]},
                      {"column": "id", "operator": "ne", "values": ["4"]}],
    )  # fmt: skip

    assert picked[0] == ["1", "10"]
    assert len(limited) == 2
    assert [row[0] for row in filtered] == ["2", "6"]


def test_export_filters_as_php_form(project: StackProject) -> None:
    _seed(project, rows=4)
    form = {
        "gzip": "1",
        "whereFilters[0][column]": "city",
        "whereFilters[0][operator]": "eq",
        "whereFilters[0][values][]": ["Praha"],
    }

    job = project.master.succeed("POST", f"tables/{T}/export-async", data=form)
    raw = download_export(project.master, project.s3, job["results"]["file"]["id"])

    rows = list(csv.reader(io.StringIO(gzip.decompress(raw[0]).decode())))
    assert sorted(row[0] for row in rows) == ["1", "3"]


def test_changed_since_and_until_select_the_window(project: StackProject, clock) -> None:
    clock.set(datetime(2024, 3, 1, 10, 0, tzinfo=UTC))
    _seed(project, rows=2)
    clock.set(datetime(2024, 3, 2, 10, 0, tzinfo=UTC))
    load(project.master, project.s3, T, ["id", "city", "amount"], [["3", "Ostrava", "30"]],
         incremental=True)  # fmt: skip
    clock.set(datetime(2024, 3, 3, 9, 0, tzinfo=UTC))

    relative = export_rows(project.master, project.s3, T, changedSince="-1 day")
    iso = export_rows(project.master, project.s3, T, changedSince="2024-03-01T00:00:00+00:00",
                      changedUntil="2024-03-02T10:00:00+00:00")  # fmt: skip
    unix = export_rows(project.master, project.s3, T, changedSince=str(
        int(datetime(2024, 3, 2, 10, 0, tzinfo=UTC).timestamp())))  # fmt: skip

    assert [row[0] for row in relative] == ["3"]
    assert [row[0] for row in iso] == ["1", "2"]
    assert [row[0] for row in unix] == ["3"]


def test_include_internal_timestamp_adds_last_column(project: StackProject, clock) -> None:
    clock.set(datetime(2024, 4, 1, 8, 30, tzinfo=UTC))
    _seed(project, rows=1)

    rows = export_rows(project.master, project.s3, T, columns="id", includeInternalTimestamp=True)

    assert rows[0][0] == "1"
    assert rows[0][1].startswith("2024-04-01 08:30:00")


def test_invalid_changed_since_is_400(project: StackProject) -> None:
    _seed(project, rows=1)

    response = project.master.post(f"tables/{T}/export-async", json={"changedSince": "soonish"})

    assert response.status_code == 400
    assert "changedSince" in response.json()["error"]


def test_repeated_export_of_unchanged_table_is_cache_hit(project: StackProject) -> None:
    _seed(project, rows=2)

    first = project.master.succeed("POST", f"tables/{T}/export-async", json={"gzip": True})
    second = project.master.succeed("POST", f"tables/{T}/export-async", json={"gzip": True})
    load(project.master, project.s3, T, ["id", "city", "amount"], [["9", "X", "9"]],
         incremental=True)  # fmt: skip
    third = project.master.succeed("POST", f"tables/{T}/export-async", json={"gzip": True})

    assert second["results"] == {"file": first["results"]["file"], "cacheHit": True}
    assert third["results"]["cacheHit"] is False
    assert third["results"]["file"]["id"] != first["results"]["file"]["id"]


def test_read_token_exports_no_permission_is_403(project: StackProject) -> None:
    _seed(project, rows=1)
    reader = project.token(bucket_permissions={"in.c-main": "read"})
    project.stack.create_bucket(project.project_id, "in.c-other")
    stranger = project.token(bucket_permissions={"in.c-other": "read"})

    rows = export_rows(reader, project.s3, T)
    refused = stranger.post(f"tables/{T}/export-async", json={})

    assert rows == [["1", "Praha", "10"]]
    assert refused.status_code == 403


def test_unsupported_format_is_refused(project: StackProject) -> None:
    _seed(project, rows=1)

    response = project.master.post(f"tables/{T}/export-async", json={"format": "escaped"})

    assert response.status_code == 400
    assert response.json()["code"] == "storage.tables.validation.invalidFormat"


def test_data_preview_is_csv_with_header(project: StackProject) -> None:
    _seed(project, rows=3)

    response = project.master.get(f"tables/{T}/data-preview", params={"limit": 2})
    too_many = project.master.get(f"tables/{T}/data-preview", params={"limit": 5000})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == '"id","city","amount"' and len(lines) == 3
    assert too_many.status_code == 400


def test_export_file_signed_url_downloads_manifest(project: StackProject) -> None:
    _seed(project, rows=1)

    job = project.master.succeed("POST", f"tables/{T}/export-async", json={"gzip": True})
    detail = project.master.ok("GET", f"files/{job['results']['file']['id']}", 200)
    manifest = requests.get(detail["url"], timeout=10).json()

    assert "credentials" not in detail
    assert len(manifest["entries"]) == 1


def test_window_boundaries_are_since_inclusive_until_exclusive(
    project: StackProject, clock
) -> None:
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    clock.set(moment)
    _seed(project, rows=1)
    stamp = moment.isoformat()
    later = (moment + timedelta(seconds=1)).isoformat()

    at_since = export_rows(project.master, project.s3, T, changedSince=stamp, changedUntil=later)
    at_until = export_rows(project.master, project.s3, T, changedUntil=stamp)

    assert len(at_since) == 1
    assert at_until == []


def test_export_bad_filter_operator_is_400(project: StackProject) -> None:
    _seed(project, rows=1)

    response = project.master.post(
        f"tables/{T}/export-async",
        json={"whereFilters": [{"column": "city", "operator": "like", "values": ["P%"]}]},
    )

    assert response.status_code == 400
    assert "Invalid operator" in response.json()["error"]
