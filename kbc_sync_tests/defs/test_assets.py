"""Copy assets materialized on a real Dagster instance against the local Storage stack."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from kbc_sync.defs import checks
from kbc_sync.demo import write_increment
from kbc_sync.engine import Window
from kbc_sync_tests.defs.conftest import checks_of, materialize, metadata_of

T0 = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
EVENTS = dg.AssetKey(["keboola", "copy", "events"])
CUSTOMERS = dg.AssetKey(["keboola", "copy", "customers"])
ORDERS = dg.AssetKey(["keboola", "copy", "orders"])
WINDOWED = {
    "source": "in.c-crm.customers",
    "mode": "update",
    "changed_in_last": "15 minutes",
    "start": "2026-01-01",
}


def _rows(count: int, prefix: str = "r") -> list[list[str]]:
    return [[f"{prefix}{n}", f'name, "{n}"', str(n)] for n in range(count)]


def _customers_in_two_windows(projects) -> dg.Definitions:
    """3 customers changed in the 00:00 window, 5 more in the 00:15 window."""
    projects.stack.clock.set(T0)
    projects.seed("in.c-crm.customers", _rows(3))
    projects.stack.clock.set(datetime(2026, 1, 1, 0, 20, tzinfo=UTC))
    write_increment(projects.source(), "in.c-crm.customers", tag="late", rows=5)
    return projects.defs([WINDOWED])


def _all_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_full_replace_copies_table_with_metadata_checks_and_logs(projects, instance):
    projects.seed("in.c-crm.events", _rows(250), primary_key=())
    defs = projects.defs([{"source": "in.c-crm.events", "mode": "replace"}])

    result = materialize(defs, EVENTS, instance)

    meta = metadata_of(result)
    assert meta["dagster/row_count"] == 250
    assert meta["dagster/table_name"] == "in.c-copy.events"
    assert meta["dagster/uri"] == f"{projects.stack.url}/v2/storage/tables/in.c-copy.events"
    assert [c.name for c in meta["dagster/column_schema"].columns] == ["id", "name", "amount"]
    assert meta["kbc_sync/rows_copied"] == 250
    assert meta["kbc_sync/target_project_id"] == str(projects.target_id)
    assert meta["kbc_sync/target_bucket"] == "in.c-copy"
    assert meta["kbc_sync/slices"] >= 3
    assert meta["kbc_sync/bytes"] > 0
    assert meta["kbc_sync/window"] == "whole table"
    assert {"export", "transfer", "load", "total"} <= set(meta["kbc_sync/durations_s"])
    links = {k.removeprefix("kbc_sync/link/") for k in meta if k.startswith("kbc_sync/link/")}
    assert {"source_table", "target_table", "source_job", "target_job"} <= links
    assert meta["kbc_sync/link/target_table"].startswith(projects.stack.url)
    evaluations = checks_of(result)
    assert evaluations[checks.KEYS_AND_COLUMNS].passed
    assert evaluations[checks.ROWS].passed
    assert projects.target().get_table("in.c-copy.events")["rowsCount"] == 250
    messages = _all_messages(instance, result.run_id)
    assert any(m.startswith("Copy in.c-crm.events -> in.c-copy.events started") for m in messages)
    assert any(m.startswith("Storage job") and "tableImport" in m for m in messages)
    assert len([m for m in messages if m.startswith("Copied in.c-crm.events")]) == 1
    text = "\n".join(messages) + repr(meta)
    assert projects.source_token not in text
    assert projects.target_token not in text


def test_windowed_partition_copies_only_rows_changed_in_its_window(projects, instance):
    defs = _customers_in_two_windows(projects)

    result = materialize(defs, CUSTOMERS, instance, partition_key="2026-01-01-00:15")

    meta = metadata_of(result)
    assert meta["kbc_sync/window"] == "[2026-01-01T00:15:00+00:00, 2026-01-01T00:30:00+00:00)"
    assert meta["dagster/row_count"] == 5
    assert meta["kbc_sync/rows_copied"] == 5
    assert meta["dagster/partition_row_count"] == 5
    evaluations = checks_of(result)
    assert evaluations[checks.ROWS].passed
    assert evaluations[checks.ROWS].metadata["keys_missing_in_target"].value == 0
    assert evaluations[checks.KEYS_AND_COLUMNS].passed
    assert projects.target().get_table("in.c-copy.customers")["primaryKey"] == ["id"]


def test_partition_range_runs_once_over_the_covering_window(projects, instance):
    defs = _customers_in_two_windows(projects)
    tags = {
        "dagster/asset_partition_range_start": "2026-01-01-00:00",
        "dagster/asset_partition_range_end": "2026-01-01-00:15",
    }

    result = materialize(defs, CUSTOMERS, instance, tags=tags)

    events = result.get_asset_materialization_events()
    assert sorted(e.partition for e in events) == ["2026-01-01-00:00", "2026-01-01-00:15"]
    meta = {k: v.value for k, v in events[0].materialization.metadata.items()}
    assert meta["kbc_sync/window"] == "[2026-01-01T00:00:00+00:00, 2026-01-01T00:30:00+00:00)"
    assert meta["dagster/row_count"] == 8
    assert len(instance.get_runs()) == 1


def test_adaptive_copies_everything_first_then_only_changes(projects, instance):
    projects.stack.clock.set(datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    projects.seed("in.c-crm.orders", _rows(4))
    defs = projects.defs(
        [{"source": "in.c-crm.orders", "mode": "update", "changed_in_last": "adaptive"}]
    )

    first = metadata_of(materialize(defs, ORDERS, instance))
    projects.stack.clock.set(datetime(2026, 2, 1, 10, 30, tzinfo=UTC))
    write_increment(projects.source(), "in.c-crm.orders", tag="new", rows=5)
    second_result = materialize(defs, ORDERS, instance)
    third_result = materialize(defs, ORDERS, instance)

    second = metadata_of(second_result)
    third = metadata_of(third_result)
    assert first["kbc_sync/window"] == "whole table"
    assert first["kbc_sync/rows_copied"] == 4
    assert (
        first["kbc_sync/high_water_mark"] == datetime(2026, 2, 1, 10, 0, 1, tzinfo=UTC).timestamp()
    )
    assert second["kbc_sync/window"] == "[2026-02-01T10:00:01+00:00, 2026-02-01T10:30:01+00:00)"
    assert second["kbc_sync/rows_copied"] == 5
    assert second["dagster/row_count"] == 9
    assert all(e.passed for e in checks_of(second_result).values())
    assert third["kbc_sync/rows_copied"] == 0
    third_rows = checks_of(third_result)[checks.ROWS]
    assert third_rows.passed
    assert third_rows.metadata["target_rows"].value == 9
    assert third["kbc_sync/high_water_mark"] == second["kbc_sync/high_water_mark"]


def test_recreate_copies_again_with_primary_key_and_checks(projects, instance):
    projects.seed("in.c-crm.products", _rows(20))
    defs = projects.defs([{"source": "in.c-crm.products", "mode": "recreate"}])
    key = dg.AssetKey(["keboola", "copy", "products"])
    materialize(defs, key, instance)
    projects.seed("in.c-web.unrelated", _rows(1))

    result = materialize(defs, key, instance)

    meta = metadata_of(result)
    assert meta["kbc_sync/action"] == "recreate"
    assert meta["dagster/row_count"] == 20
    assert all(e.passed for e in checks_of(result).values())
    schema = meta["dagster/column_schema"]
    assert [c.constraints.unique for c in schema.columns] == [True, False, False]


def test_target_token_without_write_fails_with_clear_failure(projects, instance, monkeypatch):
    read_only = projects.stack.add_token(
        projects.target_id, bucket_permissions={"in.c-copy": "read"}, description="read only"
    )
    monkeypatch.setenv("KBC_TARGET_TOKEN", read_only)
    projects.seed("in.c-crm.events", _rows(3), primary_key=())
    defs = projects.defs([{"source": "in.c-crm.events"}])

    result = materialize(defs, EVENTS, instance, raise_on_error=False)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data.user_failure_data
    assert "in.c-copy" in data.description
    assert data.metadata["kbc_sync/error"].value == "CopyError"
    assert read_only not in data.description


def test_failed_import_job_links_the_job(projects, instance):
    projects.seed("in.c-crm.events", _rows(3), primary_key=())
    defs = projects.defs([{"source": "in.c-crm.events"}])
    projects.stack.add_fault(
        {"method": "POST", "path": r"import-async|tables-async", "job_error": True, "times": 1}
    )

    result = materialize(defs, EVENTS, instance, raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data.user_failure_data
    assert data.metadata["kbc_sync/error"].value == "JobFailedError"
    assert "kbc_sync/link/job" in data.metadata
    # The copy created the table, its load failed, so the table is dropped again.
    assert projects.target().find_table("in.c-copy.events") is None


def test_window_rows_check_fails_when_target_misses_keys(projects):
    projects.stack.clock.set(T0)
    projects.seed("in.c-crm.customers", _rows(3))
    projects.stack.seed_table(
        projects.target_id,
        "in.c-copy.customers",
        ["id", "name", "amount"],
        _rows(1),
        primary_key=("id",),
    )
    source, target = projects.source(), projects.target()
    window = Window(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, tzinfo=UTC))

    result = checks.window_rows(
        source,
        target,
        source_table=source.get_table("in.c-crm.customers"),
        target_table=target.get_table("in.c-copy.customers"),
        target_rows_before=0,
        window=window,
        mode="update",
    )

    assert not result.passed
    assert result.metadata["keys_missing_in_target"].value == 2
    assert result.metadata["missing_key_sample"].value == "r1; r2"


def test_full_rows_check_fails_on_count_mismatch_as_error_or_warning():
    source = {"rowsCount": 10, "lastChangeDate": "2026-01-01T00:00:00+0000"}
    moved = {"rowsCount": 12, "lastChangeDate": "2026-01-01T00:05:00+0000"}

    steady = checks.full_rows(source, source, {"rowsCount": 9})
    changed = checks.full_rows(source, moved, {"rowsCount": 12})

    assert not steady.passed
    assert steady.severity == dg.AssetCheckSeverity.ERROR
    assert not changed.passed
    assert changed.severity == dg.AssetCheckSeverity.WARN
    assert "changed during the copy" in changed.description


def test_step_copies_selected_rows_and_fails_only_for_the_broken_one(projects, instance):
    projects.seed("in.c-crm.events", _rows(7), primary_key=())
    projects.seed("in.c-crm.products", _rows(4))
    defs = projects.defs(
        [
            {"source": "in.c-crm.events"},
            {"source": "in.c-crm.products"},
            {"source": "in.c-crm.missing"},
            {"source": "in.c-web.not_selected"},
        ]
    )
    keys = [dg.AssetKey(["keboola", "copy", n]) for n in ("events", "products", "missing")]

    result = dg.materialize(
        list(defs.assets),
        selection=keys,
        resources=dict(defs.resources),
        instance=instance,
        raise_on_error=False,
    )

    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {"events", "products"}
    assert {e.asset_key.path[-1] for e in result.get_asset_check_evaluations()} == materialized
    (failure,) = result.get_step_failure_events()
    assert "in.c-crm.missing" in failure.step_failure_data.user_failure_data.description
    assert projects.target().find_table("in.c-copy.not_selected") is None


def test_window_without_primary_key_is_checked_by_count(projects, instance):
    projects.stack.clock.set(T0)
    projects.seed("in.c-crm.events", _rows(3), primary_key=())
    projects.stack.clock.set(datetime(2026, 1, 1, 0, 20, tzinfo=UTC))
    write_increment(projects.source(), "in.c-crm.events", tag="late", rows=5)
    row = {
        "source": "in.c-crm.events",
        "mode": "update",
        "changed_in_last": "1 hour",
        "start": "2026-01-01",
    }
    defs = projects.defs([row])

    result = materialize(defs, EVENTS, instance, partition_key="2026-01-01-00:00")

    rows = checks_of(result)[checks.ROWS]
    assert rows.passed
    assert rows.metadata["window_rows"].value == 8
    assert rows.metadata["rows_added"].value == 8


def test_window_with_more_keys_than_the_cap_is_checked_by_count(projects, instance, monkeypatch):
    # The cap is a million keys; lowering it is the only way to reach that branch in a test.
    monkeypatch.setattr(checks, "MAX_CHECK_KEYS", 2)
    defs = _customers_in_two_windows(projects)

    result = materialize(defs, CUSTOMERS, instance, partition_key="2026-01-01-00:15")

    rows = checks_of(result)[checks.ROWS]
    assert rows.passed
    assert rows.metadata["compared"].value.startswith("counts")
    assert "keys_missing_in_target" not in rows.metadata


def test_adaptive_copy_with_failed_rows_check_keeps_no_new_mark(projects, instance):
    projects.seed("in.c-crm.orders", _rows(4))
    projects.stack.seed_table(
        projects.target_id,
        "in.c-copy.orders",
        ["id", "name", "amount"],
        _rows(2, prefix="extra"),
        primary_key=("id",),
    )
    defs = projects.defs(
        [{"source": "in.c-crm.orders", "mode": "update", "changed_in_last": "adaptive"}]
    )

    result = materialize(defs, ORDERS, instance)

    rows = checks_of(result)[checks.ROWS]
    assert not rows.passed
    assert rows.metadata["source_rows"].value == 4
    assert rows.metadata["target_rows"].value == 6
    assert "kbc_sync/high_water_mark" not in metadata_of(result)
