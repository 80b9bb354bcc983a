"""Every mode against every state of the target: missing, existing, keys, columns.

Typed tables have their own module, test_copy_typed.py.
"""

from __future__ import annotations

import pytest

from kbc_sync.engine import CopySpec, copy_table, plan_copy
from kbc_sync.errors import CopyError
from kbc_sync_tests.engine.conftest import (
    TARGET_BUCKET,
    Projects,
    table_rows,
    target_jobs,
)

COLUMNS = ["id", "name"]
ROWS = [["1", "ann"], ["2", "bob"], ["3", "cyd"]]


def _copy(projects: Projects, source_id: str, mode: str, destination: str = "t") -> object:
    spec = CopySpec(source_id, TARGET_BUCKET, destination, mode)  # type: ignore[arg-type]
    return copy_table(spec, source=projects.source, target=projects.target)


def _operations(projects: Projects) -> list[str]:
    """Target jobs other than the exports the assertions themselves run."""
    names = [job["operationName"] for job in target_jobs(projects)]
    return [name for name in names if name != "tableExport"]


@pytest.mark.parametrize("mode", ["update", "replace", "recreate"])
def test_copy_table_target_missing_creates_it_with_the_source_key(
    projects: Projects, mode: str
) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])

    result = _copy(projects, source_id, mode)

    table = projects.target_admin.get_table(f"{TARGET_BUCKET}.t")
    assert table["primaryKey"] == ["id"]
    assert table["columns"] == COLUMNS
    assert table_rows(projects.target_admin, table["id"]) == sorted(map(tuple, ROWS))
    assert (result.action, result.created, result.rows) == ("create", True, 3)
    assert result.columns == COLUMNS and result.primary_key == ["id"]


@pytest.mark.parametrize("mode", ["update", "replace", "recreate"])
def test_copy_table_new_table_without_key_is_loaded_once(projects: Projects, mode: str) -> None:
    # Without a primary key a second load would append every row again; Keboola's Storage
    # writer does exactly that in update mode (create with data, then import again).
    source_id = projects.seed("t", COLUMNS, ROWS)

    result = _copy(projects, source_id, mode)

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == sorted(map(tuple, ROWS))
    assert _operations(projects).count("tableImport") == 1
    assert result.rows == 3


def test_copy_table_update_existing_upserts_by_key(projects: Projects) -> None:
    source_id = projects.seed("t", COLUMNS, [["1", "ann-new"], ["2", "bob"]], primary_key=["id"])
    projects.seed("t", COLUMNS, [["1", "ann"], ["9", "zed"]], primary_key=["id"], project="target")

    result = _copy(projects, source_id, "update")

    rows = table_rows(projects.target_admin, f"{TARGET_BUCKET}.t")
    assert rows == [("1", "ann-new"), ("2", "bob"), ("9", "zed")]
    # Two rows exported and loaded: one updated, one inserted (counted on the way).
    assert (result.action, result.created, result.rows) == ("load", False, 2)


def test_copy_table_replace_existing_keeps_only_source_rows(projects: Projects) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])
    projects.seed("t", COLUMNS, [["9", "zed"]], primary_key=["id"], project="target")

    result = _copy(projects, source_id, "replace")

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == sorted(map(tuple, ROWS))
    assert (result.action, result.created, result.rows) == ("load", False, 3)


@pytest.mark.parametrize("mode", ["update", "replace"])
def test_copy_table_key_mismatch_stops_with_both_keys_and_the_fix(
    projects: Projects, mode: str
) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])
    projects.seed("t", COLUMNS, [["9", "zed"]], primary_key=["name", "id"], project="target")

    with pytest.raises(CopyError, match=r'is \["name", "id"\] but .* has \["id"\].*recreate'):
        _copy(projects, source_id, mode)

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == [("9", "zed")]
    assert "tableImport" not in _operations(projects)[-1:]


@pytest.mark.parametrize("mode", ["update", "replace"])
def test_copy_table_target_columns_missing_in_source_stop_before_writing(
    projects: Projects, mode: str
) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])
    projects.seed(
        "t", [*COLUMNS, "extra", "more"], [["9", "zed", "x", "y"]], primary_key=["id"],
        project="target",
    )  # fmt: skip
    jobs_before = len(target_jobs(projects))

    with pytest.raises(CopyError, match=r"columns the source table .* lacks: extra, more.*"):
        _copy(projects, source_id, mode)

    assert len(target_jobs(projects)) == jobs_before
    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == [("9", "zed", "x", "y")]


@pytest.mark.parametrize("mode", ["update", "replace"])
def test_copy_table_new_source_columns_reach_the_target(projects: Projects, mode: str) -> None:
    source_id = projects.seed("t", [*COLUMNS, "city"], [["1", "ann", "Brno"]], primary_key=["id"])
    projects.seed("t", COLUMNS, [["1", "ann"]], primary_key=["id"], project="target")
    plan = plan_copy(
        CopySpec(source_id, TARGET_BUCKET, "t", mode),  # type: ignore[arg-type]
        source=projects.source,
        target=projects.target,
    )

    _copy(projects, source_id, mode)

    assert plan.new_columns == ["city"] and plan.problems == []
    table = projects.target_admin.get_table(f"{TARGET_BUCKET}.t")
    assert table["columns"] == [*COLUMNS, "city"]
    assert table_rows(projects.target_admin, table["id"]) == [("1", "ann", "Brno")]


def test_copy_table_recreate_existing_takes_source_key_and_columns(projects: Projects) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])
    projects.seed("t", ["name", "extra"], [["zed", "x"]], primary_key=["name"], project="target")

    result = _copy(projects, source_id, "recreate")

    table = projects.target_admin.get_table(f"{TARGET_BUCKET}.t")
    assert (table["columns"], table["primaryKey"]) == (COLUMNS, ["id"])
    assert table_rows(projects.target_admin, table["id"]) == sorted(map(tuple, ROWS))
    assert (result.action, result.created, result.rows) == ("recreate", True, 3)
    operations = _operations(projects)
    assert operations[-5:] == [
        "tableSnapshotCreate",
        "tableDrop",
        "tableDefinitionCreate",
        "tableImport",
        "tableSnapshotDelete",
    ]


def test_copy_table_recreate_deletes_its_snapshot_after_success(projects: Projects) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])
    projects.seed("t", COLUMNS, [["9", "zed"]], primary_key=["id"], project="target")

    _copy(projects, source_id, "recreate")

    snapshots = projects.target_admin._call(
        "GET", f"tables/{TARGET_BUCKET}.t/snapshots", what="snapshots"
    )
    assert snapshots == []


def test_plan_copy_reports_action_per_target_state(projects: Projects) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])

    missing = plan_copy(
        CopySpec(source_id, TARGET_BUCKET, "t", "update"),
        source=projects.source,
        target=projects.target,
    )
    projects.seed("t", ["id", "old"], [["1", "x"]], primary_key=["id"], project="target")
    existing = plan_copy(
        CopySpec(source_id, TARGET_BUCKET, "t", "update"),
        source=projects.source,
        target=projects.target,
    )
    recreate = plan_copy(
        CopySpec(source_id, TARGET_BUCKET, "t", "recreate"),
        source=projects.source,
        target=projects.target,
    )

    assert (missing.action, missing.key_match, missing.problems) == ("create", None, [])
    assert existing.action == "load" and existing.key_match is True
    assert existing.columns_missing_in_source == ["old"] and existing.new_columns == ["name"]
    assert len(existing.problems) == 1
    assert (recreate.action, recreate.problems) == ("recreate", [])


def test_plan_copy_missing_source_table_says_which(projects: Projects) -> None:
    spec = CopySpec("in.c-src.nope", TARGET_BUCKET, "t", "update")

    with pytest.raises(CopyError, match=r"source table in\.c-src\.nope does not exist"):
        plan_copy(spec, source=projects.source, target=projects.target)
