"""Jobs and schedules: one schedule per window cadence, one per `cron` of full and adaptive rows.

A Dagster job runs assets of one partitions definition only, so windowed rows are grouped by
cadence and `start`; rows that share both (the usual case) share one job and one schedule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import dagster as dg

from kbc_sync.defs.partitions import delayed_cron, last_closed_partition
from kbc_sync.defs.translator import CopyRow, slug


@dataclass
class AssetGroup:
    """Copy assets that one job runs: same partitions (or none), and a name for the job.

    Attributes:
        job_name: the asset job's name.
        keys: the copy assets' keys.
        rows: the configured rows, in the order of `keys`.
        partitions_def: the shared partitions, None for whole-table and adaptive rows.
        cadence: the window cadence of a windowed group.
    """

    job_name: str
    keys: list[dg.AssetKey] = field(default_factory=list)
    rows: list[CopyRow] = field(default_factory=list)
    partitions_def: dg.TimeWindowPartitionsDefinition | None = None
    cadence: object = None

    @cached_property
    def job(self) -> dg.UnresolvedAssetJobDefinition:
        """The asset job over this group's assets."""
        what = f"windows of {self.cadence}" if self.cadence else "whole tables and adaptive rows"
        return dg.define_asset_job(
            self.job_name,
            selection=dg.AssetSelection.assets(*self.keys),
            description=f"Copies the Keboola tables configured with {what}.",
        )


def group_labels(rows: Sequence[CopyRow]) -> list[str]:
    """Name each row's partitioning: `whole_tables`, or its cadence (and start when a cadence
    has rows with different starts)."""
    starts: dict[str, set[object]] = {}
    for row in rows:
        starts.setdefault(str(row.window), set()).add(row.start)

    labels = []
    for row in rows:
        if row.window is None:
            labels.append("whole_tables")
            continue
        label = f"every_{slug(str(row.window))}"
        if len(starts[str(row.window)]) > 1:
            label += f"_from_{row.start:%Y%m%d_%H%M}"
        labels.append(label)
    return labels


def group_assets(
    rows: Sequence[tuple[CopyRow, dg.AssetKey, dg.TimeWindowPartitionsDefinition | None]],
) -> list[AssetGroup]:
    """Group copy assets into jobs: one per window cadence and start, one for the rest."""
    labels = group_labels([row for row, _, _ in rows])
    groups: dict[str, AssetGroup] = {}
    for (row, key, partitions_def), label in zip(rows, labels, strict=True):
        group = groups.setdefault(
            label,
            AssetGroup(f"kbc_sync_{label}", partitions_def=partitions_def, cadence=row.window),
        )
        group.keys.append(key)
        group.rows.append(row)
    return list(groups.values())


def build_window_schedule(
    group: AssetGroup, *, settle_delay: timedelta, default_status: dg.DefaultScheduleStatus
) -> dg.ScheduleDefinition:
    """Build the schedule that copies each window of `group` once it has closed and settled.

    A tick at `boundary + settle_delay` requests the window that ended at `boundary`: imports
    still committing when the window closed have had `settle_delay` to land.
    """
    partitions_def = group.partitions_def
    assert partitions_def is not None and group.cadence is not None

    @dg.schedule(
        name=f"{group.job_name}_schedule",
        cron_schedule=delayed_cron(group.cadence.timedelta, settle_delay),
        job=group.job,
        execution_timezone="UTC",
        default_status=default_status,
        description=(f"Copies each {group.cadence} window {settle_delay} after it closes (UTC)."),
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
        tick = context.scheduled_execution_time
        key = last_closed_partition(partitions_def, tick - settle_delay)
        if key is None:
            yield dg.SkipReason(f"No window has closed yet before {tick - settle_delay}.")
            return
        yield dg.RunRequest(partition_key=key)

    return _schedule


def build_cron_schedules(
    rows: Sequence[tuple[CopyRow, dg.AssetKey, object]],
    *,
    default_status: dg.DefaultScheduleStatus,
) -> tuple[list[dg.UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]]:
    """Build one job and schedule per distinct `cron` of full and adaptive rows."""
    by_cron: dict[str, list[dg.AssetKey]] = {}
    for row, key, _ in rows:
        if row.table.cron and row.window is None:
            by_cron.setdefault(row.table.cron, []).append(key)

    jobs, schedules = [], []
    for cron, keys in sorted(by_cron.items()):
        name = f"kbc_sync_cron_{slug(cron.replace('*', 'x').replace('@', ''))}"
        job = dg.define_asset_job(
            name,
            selection=dg.AssetSelection.assets(*keys),
            description=f"Copies the whole and adaptive rows that run on cron {cron!r} (UTC).",
        )
        jobs.append(job)
        schedules.append(
            dg.ScheduleDefinition(
                name=f"{name}_schedule",
                cron_schedule=cron,
                job=job,
                execution_timezone="UTC",
                default_status=default_status,
                description=f"Copies {len(keys)} table(s) on cron {cron!r} (UTC).",
            )
        )
    return jobs, schedules
