"""The sensor that copies source tables when they change.

Each tick lists the tables of every configured source bucket, one Storage call per bucket
whatever the number of tables, and compares each table's `lastChangeDate` with the cursor.
Full and adaptive rows whose source changed get a run; windowed rows get a run for the latest
closed window that has not been copied yet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from kbc_sync.defs.assets import SOURCE_RESOURCE_KEY
from kbc_sync.defs.partitions import SOURCE_LAST_CHANGE, last_closed_partition
from kbc_sync.defs.schedules import AssetGroup
from kbc_sync.errors import KbcSyncError

SENSOR_NAME = "kbc_sync_source_sensor"

# Dagster abandons a tick after 60 s; stopping well before leaves room for the run requests.
TIME_BUDGET_S = 30.0

# The sensor must answer within its budget, so its calls give up sooner than a copy's would.
SENSOR_CLIENT_SETTINGS: dict[str, Any] = {"max_retries": 2, "timeout": (5.0, 20.0)}


@dataclass
class SourceCursor:
    """What the sensor has seen: per table its `lastChangeDate`, per windowed asset its window.

    Attributes:
        tables: source table id -> the `lastChangeDate` seen last.
        windows: windowed asset key -> the latest window key requested.
        resume_at: the bucket the last tick had no time left for; the next tick starts there.
    """

    tables: dict[str, str] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    resume_at: str | None = None

    def to_json(self) -> str:
        """Serialise for `context.cursor`."""
        data = {"tables": self.tables, "windows": self.windows, "resume_at": self.resume_at}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> SourceCursor:
        """Read a cursor written by `to_json`; no cursor (first tick) gives an empty one."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            tables=dict(data.get("tables", {})),
            windows=dict(data.get("windows", {})),
            resume_at=data.get("resume_at"),
        )


def build_kbc_sync_sensor(
    groups: Sequence[AssetGroup],
    *,
    settle_delay: timedelta,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    time_budget_s: float | None = None,
) -> dg.SensorDefinition:
    """Build the sensor over one source project.

    Args:
        groups: the copy assets grouped by job (see `group_assets`).
        settle_delay: how long after a window closes it is requested.
        minimum_interval_seconds: the shortest time between two ticks.
        default_status: whether the sensor starts running.
        time_budget_s: when a tick stops listing buckets (default `TIME_BUDGET_S`); the rest
            wait for the next tick, which starts with them.
    """
    buckets = sorted({row.source_bucket for group in groups for row in group.rows})

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=[group.job for group in groups],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={SOURCE_RESOURCE_KEY},
        description=(
            f"Lists the tables of {len(buckets)} source bucket(s) each tick and copies the "
            "tables that changed, and each window once it has closed."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, keboola_source: Any = None) -> dg.SensorResult:
        # Called directly (as in tests), Dagster passes each required resource as an argument;
        # the daemon passes only the context, whose resources then hold it.
        resource = keboola_source or getattr(context.resources, SOURCE_RESOURCE_KEY)
        cursor = SourceCursor.from_json(context.cursor)
        client = resource.get_client(**SENSOR_CLIENT_SETTINGS)

        budget_s = TIME_BUDGET_S if time_budget_s is None else time_budget_s
        changes = _list_changes(context, client, buckets, cursor, budget_s)
        records = _last_materializations(context.instance, groups)
        requests = _table_requests(groups, cursor, changes, records)
        now = datetime.now(UTC) - settle_delay
        requests += _window_requests(groups, cursor, records, now)

        cursor.tables.update(changes)
        if not requests:
            return dg.SensorResult(
                skip_reason=f"No source table changed in {len(buckets)} bucket(s).",
                cursor=cursor.to_json(),
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor.to_json())

    return _sensor


def _list_changes(
    context: dg.SensorEvaluationContext,
    client: Any,
    buckets: list[str],
    cursor: SourceCursor,
    budget_s: float,
) -> dict[str, str]:
    """Return table id -> `lastChangeDate` for the buckets listed within the budget.

    Listing starts at `cursor.resume_at`, so buckets a tick had no time for come first next
    time. A bucket whose listing fails is skipped: its tables keep their cursor entries and are
    compared again on the next tick, rather than counted as changed or unchanged.
    """
    start = buckets.index(cursor.resume_at) if cursor.resume_at in buckets else 0
    ordered = buckets[start:] + buckets[:start]
    deadline = time.monotonic() + budget_s
    changes: dict[str, str] = {}
    cursor.resume_at = None
    for position, bucket in enumerate(ordered):
        if position > 0 and time.monotonic() > deadline:
            cursor.resume_at = bucket
            context.log.warning(
                f"Time budget of {budget_s:.0f} s used; {len(ordered) - position} bucket(s) "
                f"from {bucket} wait for the next tick."
            )
            break
        try:
            tables = client.list_tables(bucket)
        except KbcSyncError as exc:
            context.log.warning(f"Could not list the tables of {bucket}; kept its cursor: {exc}")
            continue
        for table in tables:
            if table.get("lastChangeDate"):
                changes[str(table["id"])] = str(table["lastChangeDate"])
    return changes


def _last_materializations(
    instance: dg.DagsterInstance, groups: Sequence[AssetGroup]
) -> dict[dg.AssetKey, Any]:
    """Return each copy asset's latest materialization event, in one storage query."""
    keys = [key for group in groups for key in group.keys]
    found = {}
    for record in instance.get_asset_records(keys):
        entry = record.asset_entry
        if entry.last_materialization is not None:
            found[entry.asset_key] = entry.last_materialization
    return found


def _table_requests(
    groups: Sequence[AssetGroup],
    cursor: SourceCursor,
    changes: dict[str, str],
    records: dict[dg.AssetKey, Any],
) -> list[dg.RunRequest]:
    """One run for all full and adaptive rows whose source changed."""
    requests = []
    for group in groups:
        if group.partitions_def is not None:
            continue
        keys = []
        for row, key in zip(group.rows, group.keys, strict=True):
            seen = changes.get(row.table.source)
            known = cursor.tables.get(row.table.source) or _copied_change(records.get(key))
            if seen is not None and seen != known:
                keys.append(key)
        if keys:
            requests.append(dg.RunRequest(job_name=group.job_name, asset_selection=keys))
    return requests


def _copied_change(event: Any) -> str | None:
    """The source `lastChangeDate` the latest copy saw (a fresh cursor starts from it)."""
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(SOURCE_LAST_CHANGE)
    return None if value is None else str(value.value)


def _window_requests(
    groups: Sequence[AssetGroup],
    cursor: SourceCursor,
    records: dict[dg.AssetKey, Any],
    now: datetime,
) -> list[dg.RunRequest]:
    """One run per cadence for the rows whose latest closed window is not copied yet."""
    requests = []
    for group in groups:
        if group.partitions_def is None:
            continue
        window = last_closed_partition(group.partitions_def, now)
        if window is None:
            continue
        keys = []
        for key in group.keys:
            name = key.to_user_string()
            event = records.get(key)
            copied = event is not None and event.dagster_event.partition == window
            if cursor.windows.get(name) != window and not copied:
                keys.append(key)
            cursor.windows[name] = window
        if keys:
            requests.append(
                dg.RunRequest(job_name=group.job_name, asset_selection=keys, partition_key=window)
            )
    return requests
