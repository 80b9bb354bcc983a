"""Rows of an upsert into an existing table: Storage reports no count, so the copy counts them."""

from __future__ import annotations

import gzip
import zlib

import pytest

from kbc_sync.engine import CopySpec, copy_table
from kbc_sync.engine.rowcount import RowCounter
from kbc_sync_tests.engine.conftest import SLICE_ROWS, TARGET_BUCKET, Projects, table_rows
from kbc_sync_tests.engine.test_transfer import ODD_VALUES

COLUMNS = ["id", "name"]


def test_copy_table_upsert_counts_exported_rows_across_slices_and_odd_values(
    projects: Projects,
) -> None:
    # Values with quotes and newlines inside, and enough rows for several slices.
    rows = ODD_VALUES + [[str(i), f"n{i}"] for i in range(100, 100 + SLICE_ROWS * 3)]
    source_id = projects.seed("t", COLUMNS, rows, primary_key=["id"])
    # Rows 1 and 100 already exist and are updated; the target's own row 0 stays.
    target_rows = [["0", "kept"], ["1", "old"], ["100", "old"]]
    projects.seed("t", COLUMNS, target_rows, primary_key=["id"], project="target")

    result = copy_table(
        CopySpec(source_id, TARGET_BUCKET, "t", "update"),
        source=projects.source,
        target=projects.target,
    )

    assert result.slices > 1
    assert result.rows == len(rows)
    stored = table_rows(projects.target_admin, f"{TARGET_BUCKET}.t")
    assert len(stored) == len(rows) + 1  # updated rows are not added twice


@pytest.mark.parametrize("piece", [1, 5, 64 * 1024])
def test_row_counter_counts_records_not_newlines(piece: int) -> None:
    text = b'"1","a\nb"\n"2","say ""hi""\n"\n"3",""\n"4","no newline at the end"'
    data = gzip.compress(text[:20]) + gzip.compress(b"") + gzip.compress(text[20:])
    counter = RowCounter()

    for start in range(0, len(data), piece):
        counter.feed(data[start : start + piece])

    assert counter.rows == 4


def test_row_counter_refuses_bytes_that_are_not_gzip() -> None:
    with pytest.raises(zlib.error):
        RowCounter().feed(b'"1","plain csv"\n')
