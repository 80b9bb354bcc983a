"""Time windows: partitions for windowed rows and the high-water mark of adaptive rows.

A windowed row's partitions tile time in UTC from the row's `start`, one partition per window;
materializing a partition (or a range of them in one run) copies the rows whose `_timestamp` lies
in `[window start, window end)`. An adaptive row keeps the end of its last copied window in the
copy's metadata and continues from there next time.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from kbc_sync.defs.translator import CopyRow
from kbc_sync.engine.spec import Window

HIGH_WATER_MARK = "kbc_sync/high_water_mark"
SOURCE_LAST_CHANGE = "kbc_sync/source_last_change"


def partitions_def_for(row: CopyRow) -> dg.TimeWindowPartitionsDefinition | None:
    """Return the UTC partitions of a windowed row, or None for full and adaptive rows."""
    window = row.window
    if window is None:
        return None
    return dg.TimeWindowPartitionsDefinition(
        start=row.start,
        fmt=window.fmt,
        cron_schedule=window.cron,
        timezone="UTC",
    )


def run_window(context: dg.AssetExecutionContext) -> Window | None:
    """Return the window the run asks this asset to copy, or None for the whole table.

    The asset's own partitions decide, not the run's tags: an unpartitioned asset that runs
    alongside partitioned ones still sees a partition key on the context.
    """
    if context.assets_def.partitions_def is None:
        return None
    # For a single-run backfill of a range this is the window covering the whole range.
    time_window = context.partition_time_window
    return Window(since=time_window.start, until=time_window.end)


def parse_change_date(value: str | None) -> datetime | None:
    """Parse Keboola's `lastChangeDate` (`2015-11-03T10:58:32+0100`) into an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


def last_high_water_mark(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    """Return the high-water mark the latest materialization of asset `key` recorded."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(HIGH_WATER_MARK)
    if value is None:
        return None
    return datetime.fromtimestamp(value.value, tz=UTC)


def adaptive_window(
    previous_mark: datetime | None, source_last_change: datetime | None
) -> tuple[Window | None, datetime | None, bool]:
    """Decide what an adaptive copy exports.

    The new mark is one second past the source's `lastChangeDate` read before the export:
    Keboola reports that date in whole seconds, so every row the export can see has a
    `_timestamp` below it, and the next copy starts exactly where this one ended.

    Returns:
        (window, new mark, nothing changed): window None means a full copy (no mark yet).
    """
    if source_last_change is None:
        return None, previous_mark, previous_mark is not None
    new_mark = source_last_change.replace(microsecond=0) + timedelta(seconds=1)
    if previous_mark is None:
        return None, new_mark, False
    if new_mark <= previous_mark:
        return None, previous_mark, True
    return Window(since=previous_mark, until=new_mark), new_mark, False


def as_timedelta(value: Any) -> timedelta:
    """Read the settle delay of the configuration: a timedelta, a cadence or `N minutes`."""
    if isinstance(value, timedelta):
        return value
    if hasattr(value, "timedelta"):
        return value.timedelta
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    from kbc_sync.windows import Cadence

    return Cadence.parse(str(value)).timedelta


def delayed_cron(cadence: timedelta, delay: timedelta) -> str:
    """Return a UTC cron that ticks `delay` after every window boundary of `cadence`.

    Window boundaries fall on the cadence's own cron (`*/15 * * * *`, `0 */6 * * *`, midnight,
    Monday midnight for weeks); the delay, in whole minutes rounded up, shifts each tick.
    """
    shift = math.ceil(delay.total_seconds() / 60)
    minutes = int(cadence.total_seconds() // 60)
    if minutes < 60:
        ticks = sorted({(m + shift) % 60 for m in range(0, 60, minutes)})
        return f"{','.join(map(str, ticks))} * * * *"
    if minutes < 24 * 60:
        hours = sorted({(h * 60 + shift) // 60 % 24 for h in range(0, 24, minutes // 60)})
        return f"{shift % 60} {','.join(map(str, hours))} * * *"
    hour = shift // 60 % 24
    if minutes < 7 * 24 * 60:
        return f"{shift % 60} {hour} * * *"
    return f"{shift % 60} {hour} * * {(1 + shift // (24 * 60)) % 7}"


def last_closed_partition(
    partitions_def: dg.TimeWindowPartitionsDefinition, now: datetime
) -> str | None:
    """Return the key of the latest window that ended at or before `now`, if any."""
    with dg.partition_loading_context(effective_dt=now):
        return partitions_def.get_last_partition_key()
