"""Time windows: exact `[since, until)` ranges made with the stack's clock, and empty windows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from kbc_sync.engine import CopySpec, Window, copy_table
from kbc_sync_tests.engine.conftest import (
    TARGET_BUCKET,
    Projects,
    load_rows,
    table_rows,
    target_jobs,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
COLUMNS = ["id", "name"]


def _history(projects: Projects) -> str:
    """A source table with rows 1-2 written at T0 and rows 2-3 changed at T0 + 1 h."""
    projects.stack.clock.set(T0)
    source_id = projects.seed("t", COLUMNS, [["1", "ann"], ["2", "bob"]], primary_key=["id"])
    projects.stack.clock.set(T0 + timedelta(hours=1))
    load_rows(projects.source, source_id, COLUMNS, [["2", "bob-2"], ["3", "cyd"]])
    projects.stack.clock.set(T0 + timedelta(hours=3))
    return source_id


def _copy(projects: Projects, source_id: str, mode: str, window: Window) -> object:
    spec = CopySpec(source_id, TARGET_BUCKET, "t", mode)  # type: ignore[arg-type]
    return copy_table(spec, source=projects.source, target=projects.target, window=window)


def test_copy_table_window_copies_only_rows_changed_in_it(projects: Projects) -> None:
    source_id = _history(projects)
    projects.seed("t", COLUMNS, [["1", "ann"], ["2", "bob"]], primary_key=["id"], project="target")
    window = Window(T0 + timedelta(minutes=30), T0 + timedelta(hours=2))

    result = _copy(projects, source_id, "update", window)

    rows = table_rows(projects.target_admin, f"{TARGET_BUCKET}.t")
    assert rows == [("1", "ann"), ("2", "bob-2"), ("3", "cyd")]
    assert result.window == window


def test_copy_table_window_end_is_exclusive(projects: Projects) -> None:
    source_id = _history(projects)

    _copy(projects, source_id, "update", Window(T0, T0 + timedelta(hours=1)))

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == [("1", "ann")]


def test_copy_table_window_start_is_inclusive(projects: Projects) -> None:
    source_id = _history(projects)

    _copy(projects, source_id, "update", Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2)))

    rows = table_rows(projects.target_admin, f"{TARGET_BUCKET}.t")
    assert rows == [("2", "bob-2"), ("3", "cyd")]


@pytest.mark.parametrize("mode", ["update", "replace", "recreate"])
def test_copy_table_empty_window_writes_nothing_and_reports_zero(
    projects: Projects, mode: str
) -> None:
    source_id = _history(projects)
    projects.seed("t", COLUMNS, [["9", "zed"]], primary_key=["id"], project="target")
    jobs_before = len(target_jobs(projects))

    result = _copy(
        projects, source_id, mode, Window(T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    )

    assert (result.rows, result.action, result.target_job_ids) == (0, "skip", [])
    assert len(target_jobs(projects)) == jobs_before
    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == [("9", "zed")]


def test_copy_table_empty_window_does_not_create_a_missing_table(projects: Projects) -> None:
    source_id = _history(projects)

    result = _copy(projects, source_id, "replace", Window(T0 - timedelta(days=1), T0))

    assert result.rows == 0
    assert projects.target_admin.find_table(f"{TARGET_BUCKET}.t") is None


def test_copy_table_window_in_replace_mode_replaces_with_window_rows_and_says_so(
    projects: Projects, caplog: pytest.LogCaptureFixture
) -> None:
    source_id = _history(projects)
    projects.seed("t", COLUMNS, [["9", "zed"]], primary_key=["id"], project="target")
    caplog.set_level(logging.INFO, logger="kbc_sync.engine")

    result = _copy(
        projects, source_id, "replace", Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    )

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == [("2", "bob-2"), ("3", "cyd")]
    assert result.rows == 2
    assert "leaves the target holding only this window's rows" in caplog.text


def test_copy_table_window_in_recreate_mode_gives_source_structure_and_window_rows(
    projects: Projects, caplog: pytest.LogCaptureFixture
) -> None:
    source_id = _history(projects)
    projects.seed("t", ["id", "old"], [["9", "zed"]], primary_key=["old"], project="target")
    caplog.set_level(logging.INFO, logger="kbc_sync.engine")

    result = _copy(
        projects, source_id, "recreate", Window(T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    )

    table = projects.target_admin.get_table(f"{TARGET_BUCKET}.t")
    assert (table["columns"], table["primaryKey"]) == (COLUMNS, ["id"])
    assert table_rows(projects.target_admin, table["id"]) == [("2", "bob-2"), ("3", "cyd")]
    assert (result.action, result.created, result.rows) == ("recreate", True, 2)
    assert "mode recreate leaves the target holding only this window's rows" in caplog.text


def test_copy_table_without_window_copies_every_row(projects: Projects) -> None:
    source_id = _history(projects)

    spec = CopySpec(source_id, TARGET_BUCKET, "t", "replace")
    result = copy_table(spec, source=projects.source, target=projects.target)

    rows = table_rows(projects.target_admin, f"{TARGET_BUCKET}.t")
    assert rows == [("1", "ann"), ("2", "bob-2"), ("3", "cyd")]
    assert result.rows == 3 and result.window is None


def test_window_refuses_naive_and_reversed_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))

    with pytest.raises(ValueError, match="must be before"):
        Window(T0, T0)
