"""Checks run inside each copy: keys and columns, and rows, compared between source and target.

They read only what Storage reports or exports, never what the copy itself counted, so a copy
that lost rows on the way is caught: a full copy compares the two tables' row counts; a window
exports the window's keys again from the source and looks each one up in the target.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from kbc_sync.engine.spec import Window
from kbc_sync.storage.files import open_file_store

KEYS_AND_COLUMNS = "keys_and_columns_match"
ROWS = "rows_match"

# A window's keys are held in memory for the comparison; past this many the check falls back
# to comparing counts, which needs no memory at all.
MAX_CHECK_KEYS = 1_000_000


def check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """Return the two checks every copy asset declares."""
    return [
        dg.AssetCheckSpec(
            KEYS_AND_COLUMNS,
            asset=key,
            description="The target table has the source table's primary key and columns.",
        ),
        dg.AssetCheckSpec(
            ROWS,
            asset=key,
            description=(
                "Full copy: target and source hold as many rows. Window: the target holds every "
                "row of the window, by primary key (by count for a table without one)."
            ),
        ),
    ]


def keys_and_columns(
    source_table: Mapping[str, Any], target_table: Mapping[str, Any] | None
) -> dg.AssetCheckResult:
    """Compare primary key and column set of source and target."""
    if target_table is None:
        return dg.AssetCheckResult(
            check_name=KEYS_AND_COLUMNS,
            passed=True,
            description="No target table yet: the window was empty and nothing was written.",
        )
    source_key, target_key = list(source_table["primaryKey"]), list(target_table["primaryKey"])
    source_cols, target_cols = set(source_table["columns"]), set(target_table["columns"])
    metadata = {
        "source_primary_key": ", ".join(source_key) or "(none)",
        "target_primary_key": ", ".join(target_key) or "(none)",
        "columns_missing_in_target": ", ".join(sorted(source_cols - target_cols)) or "(none)",
        "columns_only_in_target": ", ".join(sorted(target_cols - source_cols)) or "(none)",
    }
    return dg.AssetCheckResult(
        check_name=KEYS_AND_COLUMNS,
        passed=source_key == target_key and source_cols == target_cols,
        metadata=metadata,
    )


def full_rows(
    source_before: Mapping[str, Any],
    source_after: Mapping[str, Any],
    target_table: Mapping[str, Any] | None,
) -> dg.AssetCheckResult:
    """Compare row counts after a whole-table copy.

    When the source changed while the copy ran, the counts may differ for a good reason; the
    check then still fails, but as a warning that says so.
    """
    source_rows = int(source_before.get("rowsCount") or 0)
    target_rows = int((target_table or {}).get("rowsCount") or 0)
    changed = source_before.get("lastChangeDate") != source_after.get("lastChangeDate")
    passed = source_rows == target_rows
    description = None
    if not passed and changed:
        description = "The source table changed during the copy; the next copy catches up."
    return dg.AssetCheckResult(
        check_name=ROWS,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN if changed else dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"source_rows": source_rows, "target_rows": target_rows},
    )


def window_rows(
    source: Any,
    target: Any,
    *,
    source_table: Mapping[str, Any],
    target_table: Mapping[str, Any] | None,
    target_rows_before: int,
    window: Window,
    mode: str,
) -> dg.AssetCheckResult:
    """Check that the target holds every row of the window.

    With a primary key, the window's keys are exported from the source and each is looked up in
    the target's keys. Without one, the window's row count must match what the load added
    (`update` appends) or what the target now holds (`replace`, `recreate`).
    """
    key = list(source_table["primaryKey"])
    columns = key or list(source_table["columns"][:1])
    window_keys: set[tuple[str, ...]] = set()
    window_count = 0
    for row in exported_rows(source, source_table["id"], columns, window):
        window_count += 1
        if key and len(window_keys) < MAX_CHECK_KEYS:
            window_keys.add(tuple(row))

    target_rows = int((target_table or {}).get("rowsCount") or 0)
    metadata: dict[str, Any] = {"window_rows": window_count, "target_rows": target_rows}
    if key and window_count <= MAX_CHECK_KEYS:
        if window_keys and target_table is not None:
            _discard_found(target, target_table["id"], key, window_keys)
        metadata["keys_missing_in_target"] = len(window_keys)
        if window_keys:
            sample = sorted(window_keys)[:5]
            metadata["missing_key_sample"] = "; ".join(",".join(k) for k in sample)
        return dg.AssetCheckResult(check_name=ROWS, passed=not window_keys, metadata=metadata)

    if key:
        # Too many keys to hold: an upsert may update rather than add, so the target must
        # hold at least the window's row count.
        metadata["compared"] = f"counts (more than {MAX_CHECK_KEYS:,} keys in the window)"
        return dg.AssetCheckResult(
            check_name=ROWS, passed=target_rows >= window_count, metadata=metadata
        )
    added = target_rows - target_rows_before if mode == "update" else target_rows
    metadata["rows_added"] = added
    return dg.AssetCheckResult(check_name=ROWS, passed=added == window_count, metadata=metadata)


def _discard_found(
    target: Any, table_id: str, key: list[str], window_keys: set[tuple[str, ...]]
) -> None:
    """Remove from `window_keys` every key the target table holds."""
    for row in exported_rows(target, table_id, key, None):
        window_keys.discard(tuple(row))
        if not window_keys:
            return


def exported_rows(
    client: Any, table_id: str, columns: list[str], window: Window | None
) -> Iterator[list[str]]:
    """Export `columns` of a table (within `window`) and yield its rows, one slice at a time."""
    job = client.start_export(
        table_id,
        columns=columns,
        changed_since=window.since if window else None,
        changed_until=window.until if window else None,
        gzip=True,
    )
    job = client.wait_for_job(job)
    detail = client.get_file(job["results"]["file"]["id"])
    store = open_file_store(detail)

    if not detail.get("isSliced"):
        rows = _csv_rows(io.BytesIO(store.read_file(detail)))
        # A file that is not sliced carries a header line; sliced exports never do.
        next(rows, None)
        yield from rows
        return
    for url in store.slice_urls(detail):
        with store.open_slice(url) as stream:
            yield from _csv_rows(stream)


def _csv_rows(stream: Any) -> Iterator[list[str]]:
    text = io.TextIOWrapper(gzip.GzipFile(fileobj=stream), encoding="utf-8", newline="")
    yield from csv.reader(text)
