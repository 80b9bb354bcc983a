"""Typed tables: a typed source into a missing or existing target, and new typed columns.

Storage adds a load's new columns to a non-typed table by itself but refuses them in a typed
one, so the copy adds them first, each with the source's definition.
"""

from __future__ import annotations

import pytest

from kbc_sync.engine import CopySpec, copy_table, plan_copy
from kbc_sync.errors import CopyError, JobFailedError
from kbc_sync_tests.engine.conftest import TARGET_BUCKET, Projects, table_rows, target_jobs

COLUMNS = ["id", "name"]
ROWS = [["1", "ann"], ["2", "bob"], ["3", "cyd"]]
TABLE_ID = f"{TARGET_BUCKET}.t"
TYPED = [
    {"name": "id", "definition": {"type": "INTEGER", "nullable": False}, "basetype": "INTEGER"},
    {"name": "name", "definition": {"type": "VARCHAR"}, "basetype": "STRING"},
]
CITY = {"name": "city", "definition": {"type": "DATE", "nullable": True}, "basetype": "DATE"}


def _copy(projects: Projects, source_id: str, mode: str) -> object:
    spec = CopySpec(source_id, TARGET_BUCKET, "t", mode)  # type: ignore[arg-type]
    return copy_table(spec, source=projects.source, target=projects.target)


def _operations(projects: Projects) -> list[str]:
    """Target jobs other than the exports the assertions themselves run."""
    names = [job["operationName"] for job in target_jobs(projects)]
    return [name for name in names if name != "tableExport"]


def _seed_city(
    projects: Projects,
    source_rows: list[list[str]],
    target_rows: list[list[str]],
    *,
    city: dict = CITY,
    source_typed: bool = True,
) -> str:
    """A source with a new column `city` and a typed target without it; return the source id."""
    definition = [*TYPED, city] if source_typed else None
    source_id = projects.seed(
        "t", [*COLUMNS, "city"], source_rows, primary_key=["id"], definition=definition
    )
    projects.seed("t", COLUMNS, target_rows, primary_key=["id"], definition=TYPED, project="target")
    return source_id


def _types(table: dict) -> dict[str, str]:
    return {c["name"]: c["definition"]["type"] for c in table["definition"]["columns"]}


@pytest.mark.parametrize("mode", ["update", "replace", "recreate"])
def test_copy_table_typed_source_gives_a_typed_target(projects: Projects, mode: str) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"], definition=TYPED)
    if mode == "recreate":
        projects.seed("t", ["other"], [["x"]], project="target")

    _copy(projects, source_id, mode)

    table = projects.target_admin.get_table(TABLE_ID)
    assert table["isTyped"] is True
    assert _types(table) == _types(projects.source.get_table(source_id))
    assert table["primaryKey"] == ["id"]
    assert table_rows(projects.target_admin, TABLE_ID) == sorted(map(tuple, ROWS))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("update", [("1", "ann"), ("2", "bob"), ("3", "cyd"), ("9", "zed")]),
        ("replace", sorted(map(tuple, ROWS))),
    ],
)
def test_copy_table_typed_source_into_existing_typed_target_keeps_its_types(
    projects: Projects, mode: str, expected: list[tuple[str, ...]]
) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"], definition=TYPED)
    projects.seed(
        "t", COLUMNS, [["1", "old"], ["9", "zed"]], primary_key=["id"], definition=TYPED,
        project="target",
    )  # fmt: skip
    types_before = _types(projects.target_admin.get_table(TABLE_ID))

    result = _copy(projects, source_id, mode)

    table = projects.target_admin.get_table(TABLE_ID)
    assert table["isTyped"] is True and _types(table) == types_before
    assert table_rows(projects.target_admin, TABLE_ID) == expected
    assert (result.action, result.created) == ("load", False)
    assert "tableColumnAdd" not in _operations(projects)


@pytest.mark.parametrize("mode", ["update", "replace"])
def test_copy_table_typed_source_into_existing_non_typed_target_loads_as_text(
    projects: Projects, mode: str
) -> None:
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"], definition=TYPED)
    projects.seed("t", COLUMNS, [["9", "zed"]], primary_key=["id"], project="target")

    _copy(projects, source_id, mode)

    table = projects.target_admin.get_table(TABLE_ID)
    assert table["isTyped"] is False
    rows = sorted(map(tuple, ROWS)) + ([("9", "zed")] if mode == "update" else [])
    assert table_rows(projects.target_admin, TABLE_ID) == rows


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("update", [("1", "ann", "2024-01-02"), ("2", "bob", "2024-02-03"), ("9", "zed", "")]),
        ("replace", [("1", "ann", "2024-01-02"), ("2", "bob", "2024-02-03")]),
    ],
)
def test_copy_table_new_typed_column_is_added_with_the_source_type(
    projects: Projects, mode: str, expected: list[tuple[str, ...]]
) -> None:
    source_id = _seed_city(
        projects,
        [["1", "ann", "2024-01-02"], ["2", "bob", "2024-02-03"]],
        [["1", "ann"], ["9", "zed"]],
    )

    result = _copy(projects, source_id, mode)

    table = projects.target_admin.get_table(TABLE_ID)
    assert table["columns"] == [*COLUMNS, "city"]
    assert _types(table) == _types(projects.source.get_table(source_id))
    assert _types(table)["city"] == "DATE"
    # A NULL of a typed table exports as an empty field.
    assert table_rows(projects.target_admin, TABLE_ID) == expected
    assert _operations(projects)[-2:] == ["tableColumnAdd", "tableImport"]
    assert len(result.target_job_ids) == 2


def test_copy_table_dropped_add_column_request_adds_the_column_once(projects: Projects) -> None:
    source_id = _seed_city(projects, [["1", "ann", "2024-01-02"]], [["1", "ann"]])
    projects.stack.add_fault(
        {"method": "POST", "path": "/columns$", "drop_connection": True, "times": 1}
    )

    _copy(projects, source_id, "update")

    assert projects.stack.state.faults.count() == 0, "the fault never fired"
    assert _operations(projects).count("tableColumnAdd") == 1
    assert table_rows(projects.target_admin, TABLE_ID) == [("1", "ann", "2024-01-02")]


def test_copy_table_refused_add_column_names_the_column_and_loads_nothing(
    projects: Projects,
) -> None:
    source_id = _seed_city(projects, [["1", "ann", "2024-01-02"]], [["1", "old"]])
    projects.stack.add_fault({"method": "POST", "path": "/columns$", "job_error": True})

    with pytest.raises(CopyError, match=r"column city to the typed table .*nothing was loaded"):
        _copy(projects, source_id, "replace")

    assert "tableImport" not in _operations(projects)
    assert table_rows(projects.target_admin, TABLE_ID) == [("1", "old")]


@pytest.mark.parametrize("mode", ["update", "replace"])
def test_copy_table_non_typed_source_with_new_column_into_typed_target_stops_before_writing(
    projects: Projects, mode: str
) -> None:
    source_id = _seed_city(projects, [["1", "ann", "Brno"]], [["1", "old"]], source_typed=False)
    jobs_before = len(target_jobs(projects))

    with pytest.raises(CopyError, match=r"is typed but the source .* is not.*: city.*recreate"):
        _copy(projects, source_id, mode)

    assert len(target_jobs(projects)) == jobs_before
    assert table_rows(projects.target_admin, TABLE_ID) == [("1", "old")]


def test_plan_copy_refuses_a_new_not_null_column_for_a_typed_target_with_rows(
    projects: Projects,
) -> None:
    required = {**CITY, "definition": {"type": "DATE", "nullable": False}}
    source_id = _seed_city(projects, [["1", "ann", "2024-01-02"]], [["1", "old"]], city=required)
    spec = CopySpec(source_id, TARGET_BUCKET, "t", "update")

    plan = plan_copy(spec, source=projects.source, target=projects.target)

    assert plan.new_columns == ["city"] and plan.target_typed is True
    assert len(plan.problems) == 1
    assert "new NOT NULL columns city" in plan.problems[0]
    assert "mode: recreate" in plan.problems[0]


def test_copy_table_failed_load_removes_the_columns_it_added(projects: Projects) -> None:
    source_id = _seed_city(projects, [["1", "ann", "2024-01-02"]], [["1", "old"]])
    before = projects.target_admin.get_table(TABLE_ID)
    projects.stack.add_fault({"method": "POST", "path": "/import-async$", "job_error": True})

    with pytest.raises(JobFailedError, match="tableImport"):
        _copy(projects, source_id, "update")

    # The target is as it was: its columns, its types and its rows.
    table = projects.target_admin.get_table(TABLE_ID)
    assert table["columns"] == COLUMNS
    assert _types(table) == _types(before)
    assert table_rows(projects.target_admin, TABLE_ID) == [("1", "old")]
    assert _operations(projects)[-3:] == ["tableColumnAdd", "tableImport", "tableColumnDelete"]


def test_copy_table_failed_load_and_failed_column_removal_names_the_columns_left(
    projects: Projects,
) -> None:
    source_id = _seed_city(projects, [["1", "ann", "2024-01-02"]], [["1", "old"]])
    projects.stack.add_fault({"method": "POST", "path": "/import-async$", "job_error": True})
    projects.stack.add_fault({"method": "DELETE", "path": "/columns/city$", "job_error": True})

    with pytest.raises(CopyError, match=r"columns city are still in the table, empty") as info:
        _copy(projects, source_id, "update")

    assert isinstance(info.value.__cause__, JobFailedError)
    assert table_rows(projects.target_admin, TABLE_ID) == [("1", "old", "")]
