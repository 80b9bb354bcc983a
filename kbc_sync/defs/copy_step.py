"""One row's copy inside a Dagster step: window, engine call, checks and metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg

from kbc_sync.defs import checks
from kbc_sync.defs.partitions import (
    HIGH_WATER_MARK,
    SOURCE_LAST_CHANGE,
    adaptive_window,
    parse_change_date,
    run_window,
)
from kbc_sync.defs.report import ProgressLog, copy_metadata, failure
from kbc_sync.defs.translator import CopyRow
from kbc_sync.engine import copy_table
from kbc_sync.engine.spec import Window
from kbc_sync.errors import KbcSyncError


def copy_row(
    context: dg.AssetExecutionContext,
    row: CopyRow,
    key: dg.AssetKey,
    source: Any,
    target: Any,
    target_stack_url: str,
    previous_mark: datetime | None = None,
) -> dg.MaterializeResult:
    """Copy one row and return its materialization, with the results of both checks.

    Args:
        context: the step's context.
        row: the configured row.
        key: the row's asset key.
        source: a client of the source project.
        target: a client of the target project.
        target_stack_url: the target stack URL, for `dagster/uri`.
        previous_mark: for an adaptive row, the high-water mark of its last copy.

    Raises:
        dg.Failure: the copy failed; the failure names the tables, and links the Storage job
            when a job failed.
    """
    source_before = _guarded(source.get_table, row.table.source, row)
    target_before = _guarded(target.find_table, row.target_table_id, row)
    window, mark, unchanged = _window(context, row, previous_mark, source_before)
    if unchanged:
        return _unchanged(context, row, key, source_before, target_before, mark)

    try:
        result = copy_table(
            row.table.to_copy_spec(row.target),
            source=source,
            target=target,
            window=window,
            run_id=f"dagster-{context.run.run_id}",
            progress=ProgressLog(context.log, row.target_table_id),
        )
        source_after = source.get_table(row.table.source)
        target_table = target.find_table(row.target_table_id)
        check_results = _checks(
            row, source, target, source_before, source_after, target_table, target_before, window
        )
    except KbcSyncError as exc:
        raise failure(exc, source_table=row.table.source, target_table=row.target_table_id) from exc

    metadata = copy_metadata(
        result,
        target_table or {},
        target_stack_url=target_stack_url,
        bucket=row.target.bucket,
        window=window,
        rows_copied=_rows_copied(result, check_results),
    )
    metadata[SOURCE_LAST_CHANGE] = str(source_before.get("lastChangeDate"))
    if row.kind == "window" and "kbc_sync/rows_copied" in metadata:
        metadata["dagster/partition_row_count"] = metadata["kbc_sync/rows_copied"]
    if _failed(check_results):
        # The target may miss rows of this window: keep the old mark, so the next copy exports
        # the window again (no mark at all means a full copy next time).
        mark = previous_mark
    if mark is not None:
        metadata[HIGH_WATER_MARK] = dg.MetadataValue.timestamp(mark)
    return dg.MaterializeResult(
        asset_key=key, metadata=metadata, check_results=_for_asset(check_results, key)
    )


def _for_asset(results: list[dg.AssetCheckResult], key: dg.AssetKey) -> list[dg.AssetCheckResult]:
    return [result._replace(asset_key=key) for result in results]


def _rows_copied(result: Any, check_results: list[dg.AssetCheckResult]) -> int | None:
    # An incremental load into an existing table reports no row count; the window check
    # exported the window's rows again and counted them.
    if result.rows is not None:
        return int(result.rows)
    for check in check_results:
        if check.check_name == checks.ROWS and "window_rows" in check.metadata:
            return int(check.metadata["window_rows"].value)
    return None


def _failed(results: list[dg.AssetCheckResult]) -> bool:
    return any(not r.passed and r.severity == dg.AssetCheckSeverity.ERROR for r in results)


def _window(
    context: dg.AssetExecutionContext,
    row: CopyRow,
    previous: datetime | None,
    source_table: dict[str, Any],
) -> tuple[Window | None, datetime | None, bool]:
    if row.kind != "adaptive":
        return run_window(context), None, False
    return adaptive_window(previous, parse_change_date(source_table.get("lastChangeDate")))


def _checks(
    row: CopyRow,
    source: Any,
    target: Any,
    source_before: dict[str, Any],
    source_after: dict[str, Any],
    target_table: dict[str, Any] | None,
    target_before: dict[str, Any] | None,
    window: Window | None,
) -> list[dg.AssetCheckResult]:
    keys = checks.keys_and_columns(source_after, target_table)
    if window is None:
        return [keys, checks.full_rows(source_before, source_after, target_table)]
    rows = checks.window_rows(
        source,
        target,
        source_table=source_after,
        target_table=target_table,
        target_rows_before=int((target_before or {}).get("rowsCount") or 0),
        window=window,
        mode=row.table.mode,
    )
    return [keys, rows]


def _unchanged(
    context: dg.AssetExecutionContext,
    row: CopyRow,
    key: dg.AssetKey,
    source_table: dict[str, Any],
    target_table: dict[str, Any] | None,
    mark: Any,
) -> dg.MaterializeResult:
    """Record an adaptive copy that found nothing new since its high-water mark."""
    context.log.info(
        f"{row.table.source} has not changed since {mark.isoformat()}; nothing to copy"
    )
    metadata: dict[str, Any] = {
        "kbc_sync/rows_copied": 0,
        "dagster/table_name": row.target_table_id,
        "dagster/row_count": int((target_table or {}).get("rowsCount") or 0),
        SOURCE_LAST_CHANGE: str(source_table.get("lastChangeDate")),
        HIGH_WATER_MARK: dg.MetadataValue.timestamp(mark),
    }
    # Nothing was due, so the target must hold what the source holds: compare whole tables.
    rows = checks.full_rows(source_table, source_table, target_table)
    keys = checks.keys_and_columns(source_table, target_table)
    return dg.MaterializeResult(
        asset_key=key, metadata=metadata, check_results=_for_asset([keys, rows], key)
    )


def _guarded(call: Any, table_id: str, row: CopyRow) -> Any:
    try:
        return call(table_id)
    except KbcSyncError as exc:
        raise failure(exc, source_table=row.table.source, target_table=row.target_table_id) from exc
