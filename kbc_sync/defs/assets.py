"""The asset that copies one configured row, built by `build_copy_asset`."""

from __future__ import annotations

from typing import Any

import dagster as dg

from kbc_sync.defs import checks
from kbc_sync.defs.partitions import (
    HIGH_WATER_MARK,
    SOURCE_LAST_CHANGE,
    adaptive_window,
    last_high_water_mark,
    parse_change_date,
    partitions_def_for,
    run_window,
)
from kbc_sync.defs.report import ProgressLog, copy_metadata, failure, step_log
from kbc_sync.defs.translator import CopyRow, slug
from kbc_sync.engine import copy_table
from kbc_sync.engine.spec import CopySpec, Window
from kbc_sync.errors import KbcSyncError

SOURCE_RESOURCE_KEY = "keboola_source"


def target_resource_key(target_name: str) -> str:
    """Resource key of a target's `KeboolaTargetResource`."""
    return f"keboola_target_{slug(target_name)}"


def target_pool(target_name: str) -> str:
    """Pool shared by every copy into one target, to cap parallel loads into that project."""
    return f"keboola_target_{slug(target_name)}"


def build_copy_asset(row: CopyRow, spec: dg.AssetSpec) -> dg.AssetsDefinition:
    """Build the asset that copies `row`, described by `spec` (from the translator).

    Windowed rows are partitioned by their window; a backfill of several windows runs once and
    exports the window covering them all. Full and adaptive rows are not partitioned.
    """
    partitions_def = partitions_def_for(row)
    target_key = target_resource_key(row.target.name)
    copy_spec = row.table.to_copy_spec(row.target)

    @dg.multi_asset(
        name=spec.key.to_python_identifier(),
        specs=[spec.replace_attributes(partitions_def=partitions_def)],
        check_specs=checks.check_specs(spec.key),
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        pool=target_pool(row.target.name),
        required_resource_keys={SOURCE_RESOURCE_KEY, target_key},
    )
    # `context` stays unannotated: Dagster inspects the annotation, and with postponed
    # annotations it would see only a string and refuse it.
    def _copy(context) -> dg.MaterializeResult:
        source = getattr(context.resources, SOURCE_RESOURCE_KEY).get_client()
        target_resource = getattr(context.resources, target_key)
        target = target_resource.get_client()
        return _run_copy(context, row, copy_spec, source, target, target_resource.stack_url)

    return _copy


def _run_copy(
    context: dg.AssetExecutionContext,
    row: CopyRow,
    copy_spec: CopySpec,
    source: Any,
    target: Any,
    target_stack_url: str,
) -> dg.MaterializeResult:
    source_before = _guarded(source.get_table, row.table.source, row)
    target_before = _guarded(target.find_table, row.target_table_id, row)
    window, mark, unchanged = _window(context, row, source_before)
    if unchanged:
        return _unchanged(context, row, source_before, target_before, mark)

    # The engine logs the start line, one line per Storage job and the result line; `step_log`
    # puts them in the step's log too.
    with step_log(context.log):
        try:
            result = copy_table(
                copy_spec,
                source=source,
                target=target,
                window=window,
                run_id=f"dagster-{context.run.run_id}",
                progress=ProgressLog(context.log),
            )
            source_after = source.get_table(row.table.source)
            target_table = target.find_table(row.target_table_id)
            check_results = _checks(
                row,
                source,
                target,
                source_before,
                source_after,
                target_table,
                target_before,
                window,
            )
        except KbcSyncError as exc:
            raise failure(
                exc, source_table=row.table.source, target_table=row.target_table_id
            ) from exc

    metadata = copy_metadata(
        result,
        target_table or {},
        target_stack_url=target_stack_url,
        bucket=row.target.bucket,
        window=window,
        rows_copied=_rows_copied(result, check_results),
    )
    metadata[SOURCE_LAST_CHANGE] = str(source_before.get("lastChangeDate"))
    if mark is not None:
        metadata[HIGH_WATER_MARK] = dg.MetadataValue.timestamp(mark)
    return dg.MaterializeResult(metadata=metadata, check_results=check_results)


def _rows_copied(result: Any, check_results: list[dg.AssetCheckResult]) -> int | None:
    # An incremental load into an existing table reports no row count; the window check
    # exported the window's rows again and counted them.
    if result.rows is not None:
        return int(result.rows)
    for check in check_results:
        if check.check_name == checks.ROWS and "window_rows" in check.metadata:
            return int(check.metadata["window_rows"].value)
    return None


def _window(
    context: dg.AssetExecutionContext, row: CopyRow, source_table: dict[str, Any]
) -> tuple[Window | None, Any, bool]:
    if row.kind != "adaptive":
        return run_window(context), None, False
    previous = last_high_water_mark(context)
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
    rows = dg.AssetCheckResult(
        check_name=checks.ROWS,
        passed=True,
        description="No source row changed since the last copy, so none was due in the target.",
        metadata={"window_rows": 0},
    )
    keys = checks.keys_and_columns(source_table, target_table)
    return dg.MaterializeResult(metadata=metadata, check_results=[keys, rows])


def _guarded(call: Any, table_id: str, row: CopyRow) -> Any:
    try:
        return call(table_id)
    except KbcSyncError as exc:
        raise failure(exc, source_table=row.table.source, target_table=row.target_table_id) from exc
