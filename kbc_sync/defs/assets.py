"""The copy assets: one multi-asset per target and window cadence, one asset per row in it.

Grouping keeps the number of Dagster ops small (a handful instead of one per table), so a
configuration of a thousand rows still loads in seconds; each row stays its own asset with its
own checks, and any subset of them can be materialized. The copies a step is asked for run a few
at a time in threads: they mostly wait on Storage jobs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import dagster as dg

from kbc_sync.defs import checks
from kbc_sync.defs.copy_step import copy_row
from kbc_sync.defs.partitions import last_high_water_mark
from kbc_sync.defs.report import step_log
from kbc_sync.defs.translator import CopyRow, slug

SOURCE_RESOURCE_KEY = "keboola_source"


def target_resource_key(target_name: str) -> str:
    """Resource key of a target's `KeboolaTargetResource`."""
    return f"keboola_target_{slug(target_name)}"


def target_pool(target_name: str) -> str:
    """Pool shared by every copy step into one target, to cap the load on that project."""
    return f"keboola_target_{slug(target_name)}"


def build_copy_assets(
    name: str,
    rows: Sequence[tuple[CopyRow, dg.AssetSpec]],
    partitions_def: dg.PartitionsDefinition | None,
) -> dg.AssetsDefinition:
    """Build the multi-asset copying `rows`, all of one target and one partitioning.

    Args:
        name: the op name.
        rows: each row with its spec from the translator.
        partitions_def: the rows' time windows, None for whole-table and adaptive rows. A
            backfill of several windows runs once and exports the window covering them all.
    """
    target = rows[0][0].target
    target_key = target_resource_key(target.name)
    by_key = {spec.key: row for row, spec in rows}

    @dg.multi_asset(
        name=name,
        specs=[_partitioned(spec, partitions_def) for _, spec in rows],
        check_specs=[check for _, spec in rows for check in checks.check_specs(spec.key)],
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        pool=target_pool(target.name),
        required_resource_keys={SOURCE_RESOURCE_KEY, target_key},
    )
    # Unannotated: Dagster inspects a `context` annotation, and with postponed annotations it
    # would see only a string and refuse it.
    def _copy(context):
        selected = [(key, row) for key, row in by_key.items() if key in context.selected_asset_keys]
        source = getattr(context.resources, SOURCE_RESOURCE_KEY)
        # The engine logs its start line, one line per Storage job and its result line;
        # `step_log` puts them in the step's log too.
        with step_log(context.log):
            yield from _copy_all(context, selected, source, getattr(context.resources, target_key))

    return _copy


def _partitioned(
    spec: dg.AssetSpec, partitions_def: dg.PartitionsDefinition | None
) -> dg.AssetSpec:
    # Building a spec costs about a millisecond; with a thousand rows that is worth skipping.
    if partitions_def is None:
        return spec
    return spec.replace_attributes(partitions_def=partitions_def)


def _copy_all(
    context: dg.AssetExecutionContext,
    selected: list[tuple[dg.AssetKey, CopyRow]],
    source: Any,
    target: Any,
) -> Iterator[dg.MaterializeResult]:
    """Copy the selected rows, a few at a time; yield each result as it completes.

    A failed row does not stop the others. The step fails at the end, naming every failed row.
    """
    failures: list[dg.Failure] = []
    # Instance queries stay in the step's own thread: Dagster does not document its storage as
    # safe to share between threads.
    marks = {
        key: last_high_water_mark(context.instance, key)
        for key, row in selected
        if row.kind == "adaptive"
    }
    workers = max(1, min(len(selected), target.parallel_copies))
    with ThreadPoolExecutor(workers, thread_name_prefix="kbc-sync-copy") as pool:
        futures: dict[Future[dg.MaterializeResult], dg.AssetKey] = {
            pool.submit(
                copy_row,
                context,
                row,
                key,
                source.get_client(),
                target.get_client(),
                target.stack_url,
                marks.get(key),
            ): key
            for key, row in selected
        }
        for future in as_completed(futures):
            try:
                result = future.result()
            except dg.Failure as exc:
                failures.append(exc)
                context.log.warning(
                    f"Copy of {futures[future].to_user_string()} failed; the step fails once "
                    "the other copies have finished"
                )
                continue
            yield _only_selected_checks(context, result)
    if failures:
        raise _combined(failures, total=len(selected))


def _only_selected_checks(
    context: dg.AssetExecutionContext, result: dg.MaterializeResult
) -> dg.MaterializeResult:
    # A run may leave some checks out; reporting one that was not selected is an error.
    wanted = context.selected_asset_check_keys
    kept = [
        check
        for check in result.check_results or []
        if dg.AssetCheckKey(check.asset_key, check.check_name) in wanted
    ]
    return dg.MaterializeResult(
        asset_key=result.asset_key, metadata=result.metadata, check_results=kept
    )


def _combined(failures: list[dg.Failure], *, total: int) -> dg.Failure:
    if len(failures) == 1:
        return failures[0]
    lines = [failure.description or "" for failure in failures]
    return dg.Failure(
        description=f"{len(failures)} of {total} copies failed:\n" + "\n".join(lines),
        metadata=failures[0].metadata,
        allow_retries=all(failure.allow_retries for failure in failures),
    )
