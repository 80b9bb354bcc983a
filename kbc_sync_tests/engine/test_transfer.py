"""Slice transfer: many slices, odd values kept byte for byte, progress, result figures."""

from __future__ import annotations

import pytest

from kbc_sync.engine import CopySpec, TransferProgress, copy_table
from kbc_sync.engine import transfer as transfer_module
from kbc_sync_tests.engine.conftest import SLICE_ROWS, TARGET_BUCKET, Projects, table_rows

ODD_VALUES = [
    ["1", "Příliš žluťoučký kůň 🐎 úpěl ďábelské ódy"],
    ["2", 'she said "hi", then left'],
    ["3", "line one\nline two\r\nline three"],
    ["4", "a,b,,c"],
    ["5", ""],
    ["6", "x" * 200_000],
    ["7", '"'],
    ["8", " leading and trailing "],
    ["9", "tab\there, nul-free; back\\slash"],
]


def test_copy_table_many_slices_arrive_complete(projects: Projects) -> None:
    rows = [[str(i), f"name {i}", str(i * 7)] for i in range(SLICE_ROWS * 12 + 7)]
    source_id = projects.seed("big", ["id", "name", "n"], rows, primary_key=["id"])
    seen: list[TransferProgress] = []

    result = copy_table(
        CopySpec(source_id, TARGET_BUCKET, "big", "replace"),
        source=projects.source,
        target=projects.target,
        concurrency=3,
        progress=seen.append,
    )

    assert result.slices >= 13
    assert result.rows == len(rows)
    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.big") == sorted(map(tuple, rows))
    assert seen[-1].slices_done == result.slices
    assert seen[-1].bytes_done == result.bytes > 0


def test_copy_table_odd_values_are_kept_exactly(projects: Projects) -> None:
    source_id = projects.seed("odd", ["id", "value"], ODD_VALUES, primary_key=["id"])

    copy_table(
        CopySpec(source_id, TARGET_BUCKET, "odd", "update"),
        source=projects.source,
        target=projects.target,
    )

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.odd") == sorted(
        map(tuple, ODD_VALUES)
    )


def test_copy_table_odd_column_names_and_a_wide_table(projects: Projects) -> None:
    columns = ["id", "Name-With-Dash", "x_1", *[f"c{i}" for i in range(60)]]
    rows = [[str(r), *[f"{r}-{c}" for c in range(len(columns) - 1)]] for r in range(5)]
    source_id = projects.seed("wide", columns, rows, primary_key=["id", "x_1"])

    copy_table(
        CopySpec(source_id, TARGET_BUCKET, "wide", "recreate"),
        source=projects.source,
        target=projects.target,
    )

    table = projects.target_admin.get_table(f"{TARGET_BUCKET}.wide")
    assert table["columns"] == columns and table["primaryKey"] == ["id", "x_1"]
    assert table_rows(projects.target_admin, table["id"]) == sorted(map(tuple, rows))


def test_copy_table_reports_progress_at_most_every_interval(
    projects: Projects, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A huge interval means only the final report may come; a throttle that fires per chunk
    # would show up here as several calls.
    monkeypatch.setattr(transfer_module, "PROGRESS_INTERVAL_S", 3600.0)
    rows = [[str(i), "v" * 50] for i in range(SLICE_ROWS * 4)]
    source_id = projects.seed("p", ["id", "v"], rows)
    seen: list[TransferProgress] = []

    copy_table(
        CopySpec(source_id, TARGET_BUCKET, "p", "replace"),
        source=projects.source,
        target=projects.target,
        progress=seen.append,
    )

    assert len(seen) == 1
    assert seen[0].bytes_total is not None and seen[0].bytes_done > 0
    assert "MB" in str(seen[0]) and "slices 4/4" in str(seen[0])


def test_copy_table_result_has_jobs_links_and_durations(projects: Projects) -> None:
    source_id = projects.seed("t", ["id"], [["1"]], primary_key=["id"])

    result = copy_table(
        CopySpec(source_id, TARGET_BUCKET, "t", "update"),
        source=projects.source,
        target=projects.target,
    )

    assert result.source_job_id and len(result.target_job_ids) == 2
    project = str(projects.target_project)
    assert result.links["target_table"].endswith(
        f"/admin/projects/{project}/storage/{TARGET_BUCKET}/table/t"
    )
    assert result.links["target_job"].endswith(f"/storage/jobs/{result.target_job_ids[-1]}")
    assert result.links["source_job"].endswith(f"/storage/jobs/{result.source_job_id}")
    assert set(result.durations) == {"verify", "plan", "export", "transfer", "load", "total"}
    assert result.target_project_id == project
    assert result.target_project_name.startswith("Target ")
