"""Typed tables (`tables-definition`) and snapshots over HTTP."""

from __future__ import annotations

from kbc_sync_tests.local.conftest import StackProject
from kbc_sync_tests.local.helpers import create, export_rows, load

COLUMNS = [
    {"name": "id", "definition": {"type": "INT", "nullable": False}},
    {"name": "price", "definition": {"type": "NUMERIC", "length": "10,2"}},
    {"name": "name", "basetype": "STRING"},
]


def _typed(project: StackProject) -> dict:
    return project.master.succeed(
        "POST", "buckets/in.c-main/tables-definition",
        json={"name": "typed", "primaryKeysNames": ["id"], "columns": COLUMNS},
    )  # fmt: skip


def test_definition_creates_typed_table_with_base_types(project: StackProject) -> None:
    job = _typed(project)

    detail = project.master.ok("GET", "tables/in.c-main.typed", 200)

    assert job["operationName"] == "tableDefinitionCreate"
    assert detail["isTyped"] is True
    assert detail["primaryKey"] == ["id"]
    definition = {c["name"]: c for c in detail["definition"]["columns"]}
    assert definition["id"]["definition"]["type"] == "NUMERIC"
    assert definition["id"]["definition"]["length"] == "38,0"
    assert definition["id"]["basetype"] == "INTEGER"
    assert definition["name"]["basetype"] == "STRING"


def test_typed_table_loads_fitting_values(project: StackProject) -> None:
    _typed(project)

    job = load(project.master, project.s3, "in.c-main.typed", ["id", "price", "name"],
               [["1", "9.99", "ok"]], incremental=True)  # fmt: skip

    assert job["status"] == "success", job
    assert export_rows(project.master, project.s3, "in.c-main.typed") == [["1", "9.99", "ok"]]


def test_typed_table_rejects_values_that_do_not_fit(project: StackProject) -> None:
    _typed(project)

    job = load(project.master, project.s3, "in.c-main.typed", ["id", "price", "name"],
               [["x", "1.234", "bad"]], incremental=True)  # fmt: skip

    assert job["status"] == "error"
    assert job["error"]["code"].startswith("csvImport")
    assert project.master.ok("GET", "tables/in.c-main.typed", 200)["rowsCount"] == 0


def test_definition_without_columns_is_400(project: StackProject) -> None:
    response = project.master.post(
        "buckets/in.c-main/tables-definition", json={"name": "empty", "columns": []}
    )

    assert response.status_code == 400


def test_snapshot_create_list_detail_restore_delete(project: StackProject) -> None:
    create(
        project.master, project.s3, "in.c-main", "t", ["id", "v"], [["1", "a"]], primary_key="id"
    )

    job = project.master.succeed("POST", "tables/in.c-main.t/snapshots", json={"description": "d"})
    snapshot_id = job["results"]["id"]
    load(project.master, project.s3, "in.c-main.t", ["id", "v"], [["2", "b"]], incremental=False)
    listed = project.master.ok("GET", "tables/in.c-main.t/snapshots", 200)
    detail = project.master.ok("GET", f"snapshots/{snapshot_id}", 200)
    restored = project.master.succeed(
        "POST", "buckets/in.c-main/tables-async", json={"name": "back", "snapshotId": snapshot_id}
    )
    data_file = project.master.get(f"files/{detail['dataFileId']}")
    deleted = project.master.succeed("DELETE", f"snapshots/{snapshot_id}")

    assert job["operationName"] == "tableSnapshotCreate" and job["tableId"] == "in.c-main.t"
    assert [s["id"] for s in listed] == [snapshot_id]
    assert listed[0]["description"] == "d" and listed[0]["type"] == "table"
    assert detail["table"] == {"id": "in.c-main.t", "primaryKey": ["id"], "columns": ["id", "v"]}
    assert data_file.status_code == 200 and data_file.json()["isSliced"] is True
    assert restored["operationParams"]["source"] == {"snapshotId": int(snapshot_id),
                                                      "type": "snapshot"}  # fmt: skip
    assert export_rows(project.master, project.s3, "in.c-main.back") == [["1", "a"]]
    assert deleted["status"] == "success"
    assert project.master.get(f"snapshots/{snapshot_id}").status_code == 404
    assert project.master.get(f"files/{detail['dataFileId']}").status_code == 404


def test_snapshot_needs_write_permission(project: StackProject) -> None:
    project.stack.seed_table(project.project_id, "in.c-main.t", ["a"], [["1"]])
    reader = project.token(bucket_permissions={"in.c-main": "read"})

    response = reader.post("tables/in.c-main.t/snapshots", json={})

    assert response.status_code == 403


def test_add_and_delete_column_jobs(project: StackProject) -> None:
    project.stack.seed_table(project.project_id, "in.c-main.t", ["id", "a"], [["1", "x"]])

    added = project.master.succeed("POST", "tables/in.c-main.t/columns", data={"name": "b"})
    removed = project.master.succeed("DELETE", "tables/in.c-main.t/columns/a")
    refused = project.master.run("DELETE", "tables/in.c-main.t/columns/nothing")

    assert added["operationName"] == "tableColumnAdd"
    assert added["results"]["columns"] == ["id", "a", "b"]
    assert removed["operationName"] == "tableColumnDelete"
    assert project.master.ok("GET", "tables/in.c-main.t", 200)["columns"] == ["id", "b"]
    assert refused["status"] == "error"
    assert refused["error"]["code"] == "storage.tables.validation.columnNotExists"


def test_typed_table_column_needs_a_type(project: StackProject) -> None:
    _typed(project)

    untyped = project.master.run("POST", "tables/in.c-main.typed/columns", json={"name": "c"})
    typed = project.master.run(
        "POST", "tables/in.c-main.typed/columns", json={"name": "c", "basetype": "DATE"}
    )

    assert untyped["status"] == "error"
    assert typed["status"] == "success"
    assert typed["results"]["columns"] == ["id", "price", "name", "c"]
