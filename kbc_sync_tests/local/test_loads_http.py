"""Creating tables and loading data over HTTP: every documented load semantic, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kbc_sync_tests.local.conftest import StackProject
from kbc_sync_tests.local.helpers import (
    create,
    csv_bytes,
    export_rows,
    load,
    upload,
    upload_sliced,
)

T = "in.c-main.t"


def _table(project: StackProject, pk: str = "id") -> None:
    job = create(
        project.master, project.s3, "in.c-main", "t", ["id", "name"],
        [["1", "a"], ["2", "b"]], primary_key=pk,
    )  # fmt: skip
    assert job["status"] == "success", job


def _rows(project: StackProject, **params: object) -> list[list[str]]:
    return export_rows(project.master, project.s3, T, **params)


def test_create_from_file_job_results_hold_table(project: StackProject) -> None:
    file_id = upload(project.master, project.s3, "t.csv", csv_bytes(["id", "name"], [["1", "a"]]))

    started = project.master.ok(
        "POST", "buckets/in.c-main/tables-async", 202,
        data={"name": "t", "dataFileId": str(file_id), "primaryKey": "id"},
    )  # fmt: skip
    job = project.master.wait(started)

    assert started["status"] == "waiting"
    assert started["operationName"] == "tableCreate"
    assert started["operationParams"]["source"] == {"fileId": str(file_id), "type": "file"}
    assert job["status"] == "success"
    assert job["results"]["id"] == T
    assert job["results"]["primaryKey"] == ["id"]
    assert job["results"]["columns"] == ["id", "name"]


def test_table_detail_has_documented_fields(project: StackProject) -> None:
    _table(project)

    body = project.master.ok("GET", f"tables/{T}", 200)

    assert body["id"] == T and body["name"] == "t"
    assert body["rowsCount"] == 2
    assert body["isTyped"] is False and "definition" not in body
    assert body["bucket"]["id"] == "in.c-main"
    assert body["columnMetadata"] == []
    for field in ("created", "lastImportDate", "lastChangeDate"):
        datetime.strptime(body[field], "%Y-%m-%dT%H:%M:%S%z")


def test_full_load_truncates_then_loads(project: StackProject) -> None:
    _table(project)

    job = load(project.master, project.s3, T, ["id", "name"], [["3", "c"]], incremental=False)

    assert job["status"] == "success"
    assert job["results"]["importedColumns"] == ["id", "name"]
    assert _rows(project) == [["3", "c"]]


def test_incremental_with_key_upserts_and_keeps_unchanged_timestamps(
    project: StackProject, clock
) -> None:
    clock.set(datetime(2024, 1, 1, tzinfo=UTC))
    _table(project)
    clock.set(datetime(2024, 1, 5, tzinfo=UTC))

    load(project.master, project.s3, T, ["id", "name"], [["1", "a"], ["2", "B"], ["3", "c"]],
         incremental=True)  # fmt: skip
    rows = _rows(project, includeInternalTimestamp=True)

    stamps = {row[0]: row[2][:10] for row in rows}
    assert [row[:2] for row in rows] == [["1", "a"], ["2", "B"], ["3", "c"]]
    assert stamps == {"1": "2024-01-01", "2": "2024-01-05", "3": "2024-01-05"}


def test_incremental_without_key_appends(project: StackProject) -> None:
    _table(project, pk="")

    load(project.master, project.s3, T, ["id", "name"], [["1", "a"]], incremental=True)

    assert _rows(project) == [["1", "a"], ["1", "a"], ["2", "b"]]


def test_duplicate_keys_in_one_load_keep_one_row(project: StackProject) -> None:
    _table(project)

    load(project.master, project.s3, T, ["id", "name"], [["5", "x"], ["5", "x"]], incremental=True)

    assert [row[0] for row in _rows(project)] == ["1", "2", "5"]


def test_new_csv_columns_are_added(project: StackProject) -> None:
    _table(project)

    job = load(project.master, project.s3, T, ["id", "name", "city"], [["1", "a", "Brno"]],
               incremental=True)  # fmt: skip

    assert job["results"]["importedColumns"] == ["id", "name", "city"]
    assert project.master.ok("GET", f"tables/{T}", 200)["columns"] == ["id", "name", "city"]
    assert _rows(project) == [["1", "a", "Brno"], ["2", "b", ""]]


def test_missing_columns_fail_job_with_documented_message(project: StackProject) -> None:
    _table(project)

    job = load(project.master, project.s3, T, ["id"], [["9"]], incremental=False)

    assert job["status"] == "error"
    assert job["error"]["code"] == "csvImport.columnsNotMatch"
    assert job["error"]["message"] == (
        "Some columns are missing in the csv file. Missing columns: name. "
        "Expected columns: id,name."
    )
    assert job["error"]["exceptionId"]
    assert job["results"]["missingColumns"] == ["name"]
    assert _rows(project) == [["1", "a"], ["2", "b"]]


def test_bad_column_name_fails_create(project: StackProject) -> None:
    job = create(project.master, project.s3, "in.c-main", "t", ["id", "_bad"], [["1", "a"]])

    assert job["status"] == "error"
    assert job["error"]["code"] == "storage.tables.validation.invalidColumnName"


def test_bad_table_name_is_400(project: StackProject) -> None:
    file_id = upload(project.master, project.s3, "t.csv", csv_bytes(["id"], [["1"]]))

    response = project.master.post(
        "buckets/in.c-main/tables-async", json={"name": "bad name", "dataFileId": file_id}
    )

    assert response.status_code == 400
    assert "not allowed characters" in response.json()["error"]


def test_gzipped_file_loads(project: StackProject) -> None:
    _table(project)
    data = csv_bytes(["id", "name"], [["7", "gz"]], compress=True)
    file_id = upload(project.master, project.s3, "data.csv.gz", data)

    job = project.master.run(
        "POST", f"tables/{T}/import-async", data={"dataFileId": file_id, "incremental": "1"}
    )

    assert job["status"] == "success", job
    assert ["7", "gz"] in _rows(project)


@pytest.mark.parametrize(
    "columns", [{"columns[]": ["id", "name"]}, {"columns[0]": "id", "columns[1]": "name"}]
)
def test_sliced_file_loads_with_columns(project: StackProject, columns: dict) -> None:
    _table(project)
    slices = [csv_bytes(None, [["10", "x"]]), csv_bytes(None, [["11", "y"]], compress=True)]
    file_id = upload_sliced(project.master, project.s3, "data.csv", slices)

    job = project.master.run(
        "POST", f"tables/{T}/import-async",
        data={"dataFileId": file_id, "incremental": "0", **columns},
    )  # fmt: skip

    assert job["status"] == "success", job
    assert _rows(project) == [["10", "x"], ["11", "y"]]


def test_without_headers_uses_table_column_order(project: StackProject) -> None:
    _table(project)
    file_id = upload(project.master, project.s3, "d.csv", csv_bytes(None, [["4", "d"]]))

    job = project.master.run(
        "POST", f"tables/{T}/import-async",
        json={"dataFileId": file_id, "incremental": True, "withoutHeaders": True},
    )  # fmt: skip

    assert job["status"] == "success", job
    assert ["4", "d"] in _rows(project)


def test_unuploaded_file_fails_job(project: StackProject) -> None:
    _table(project)
    prepared = project.master.ok("POST", "files/prepare", 201, json={"name": "never.csv"})

    job = project.master.run(
        "POST", f"tables/{T}/import-async", json={"dataFileId": prepared["id"]}
    )

    assert job["status"] == "error"
    assert job["error"]["code"] == "storage.fileNotUploaded"


def test_write_token_may_load_read_token_may_not(project: StackProject) -> None:
    _table(project)
    writer = project.token(bucket_permissions={"in.c-main": "write"})
    reader = project.token(bucket_permissions={"in.c-main": "read"})

    written = load(writer, project.s3, T, ["id", "name"], [["8", "w"]], incremental=True)
    file_id = upload(reader, project.s3, "r.csv", csv_bytes(["id", "name"], [["9", "r"]]))
    refused = reader.post(f"tables/{T}/import-async", json={"dataFileId": file_id})

    assert written["status"] == "success"
    assert refused.status_code == 403


def test_missing_table_is_404_tables_not_found(project: StackProject) -> None:
    response = project.master.get("tables/in.c-main.nothing")

    assert response.status_code == 404
    assert response.json()["code"] == "storage.tables.notFound"


def test_last_change_moves_only_when_data_changes(project: StackProject, clock) -> None:
    clock.set(datetime(2024, 2, 1, tzinfo=UTC))
    _table(project)
    clock.advance(timedelta(hours=1))

    load(project.master, project.s3, T, ["id", "name"], [["1", "a"]], incremental=True)
    same = project.master.ok("GET", f"tables/{T}", 200)
    load(project.master, project.s3, T, ["id", "name"], [["1", "A"]], incremental=True)
    changed = project.master.ok("GET", f"tables/{T}", 200)

    assert same["lastChangeDate"] == "2024-02-01T00:00:00+0000"
    assert same["lastImportDate"] == "2024-02-01T01:00:00+0000"
    assert changed["lastChangeDate"] == "2024-02-01T01:00:00+0000"


def test_drop_table_sync_204_and_async_job(project: StackProject) -> None:
    _table(project)
    project.stack.seed_table(project.project_id, "in.c-main.u", ["a"], [["1"]])

    sync = project.master.delete(f"tables/{T}")
    job = project.master.run("DELETE", "tables/in.c-main.u", params={"async": "1"})

    assert sync.status_code == 204
    assert job["operationName"] == "tableDrop" and job["status"] == "success"
    assert job["results"] == []
    assert project.master.get(f"tables/{T}").status_code == 404
    assert project.master.get("tables/in.c-main.u").status_code == 404


def test_bucket_tables_include_columns(project: StackProject) -> None:
    _table(project)

    plain = project.master.ok("GET", "buckets/in.c-main/tables", 200)
    full = project.master.ok("GET", "buckets/in.c-main/tables", 200, params={"include": "columns"})

    assert "columns" not in plain[0]
    assert full[0]["columns"] == ["id", "name"]
    assert full[0]["lastChangeDate"]


def test_concurrent_imports_into_one_table_all_land(project: StackProject) -> None:
    _table(project, pk="")
    file_ids = [
        upload(project.master, project.s3, f"d{i}.csv", csv_bytes(["id", "name"], [[str(i), "c"]]))
        for i in range(10, 15)
    ]

    started = [
        project.master.ok("POST", f"tables/{T}/import-async", 202,
                          json={"dataFileId": file_id, "incremental": True})
        for file_id in file_ids
    ]  # fmt: skip
    ended = [project.master.wait(job) for job in started]

    assert [job["status"] for job in ended] == ["success"] * 5
    assert project.master.ok("GET", f"tables/{T}", 200)["rowsCount"] == 7
