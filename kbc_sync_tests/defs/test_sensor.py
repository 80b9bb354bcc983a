"""The source sensor: one list call per bucket, a cursor per table, runs for what changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from kbc_sync.defs import KeboolaSourceResource, SourceCursor
from kbc_sync.defs import sensor as sensor_module
from kbc_sync.defs.sensor import SENSOR_NAME
from kbc_sync.demo import write_increment
from kbc_sync_tests.defs.conftest import materialize

# Responses seen by the sensor's client. The count comes from a `requests` response hook on the
# client's real session talking to the real stack, so every Storage call the tick makes is seen.
CALLS: list[tuple[str, str]] = []


class CountingSource(KeboolaSourceResource):
    """The source resource, with every response of its clients recorded in CALLS."""

    def get_client(self, **overrides: Any) -> Any:
        client = super().get_client(**overrides)
        client.session.hooks["response"].append(
            lambda response, *args, **kwargs: CALLS.append(
                (response.request.method, response.request.path_url)
            )
        )
        return client


FULL_ROWS = [
    {"source": "in.c-crm.customers", "mode": "update"},
    {"source": "in.c-crm.orders", "mode": "update", "changed_in_last": "adaptive"},
    {"source": "in.c-crm.products", "mode": "replace"},
    {"source": "in.c-web.visits", "mode": "replace"},
    {"source": "in.c-web.pages", "mode": "replace"},
]


def _seed_all(projects) -> None:
    for row in FULL_ROWS:
        projects.seed(row["source"], [["1", "a", "1"]])


def _tick(projects, defs, instance, cursor: str | None) -> Any:
    """Evaluate one tick the way the daemon does (`evaluate_tick`)."""
    CALLS.clear()
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "keboola_source": CountingSource(url=projects.stack.url, token=projects.source_token)
        },
        definitions=defs,
    )
    sensor = defs.get_repository_def().get_sensor_def(SENSOR_NAME)
    return sensor.evaluate_tick(context)


def _requested(result: Any) -> list[tuple[str, str | None]]:
    return sorted(
        (key.path[-1], request.partition_key)
        for request in result.run_requests or []
        for key in request.asset_selection
    )


def test_source_cursor_round_trips_through_json():
    cursor = SourceCursor(
        tables={"in.c-crm.orders": "2026-01-01T00:00:00+0000"},
        windows={"keboola/copy/customers": "2026-01-01-00:15"},
        resume_at="in.c-web",
    )

    restored = SourceCursor.from_json(cursor.to_json())

    assert restored == cursor
    assert SourceCursor.from_json(None) == SourceCursor()


def test_sensor_lists_each_bucket_once_and_requests_new_tables(projects, instance):
    _seed_all(projects)
    defs = projects.defs(FULL_ROWS)

    result = _tick(projects, defs, instance, cursor=None)

    assert sorted(CALLS) == [
        ("GET", "/v2/storage/buckets/in.c-crm/tables"),
        ("GET", "/v2/storage/buckets/in.c-web/tables"),
    ]
    assert _requested(result) == [
        ("customers", None),
        ("orders", None),
        ("pages", None),
        ("products", None),
        ("visits", None),
    ]
    assert [r.job_name for r in result.run_requests] == ["kbc_sync_whole_tables"]
    cursor = SourceCursor.from_json(result.cursor)
    assert set(cursor.tables) == {row["source"] for row in FULL_ROWS}


def test_sensor_requests_only_tables_whose_source_changed(projects, instance):
    _seed_all(projects)
    defs = projects.defs(FULL_ROWS)
    first = _tick(projects, defs, instance, cursor=None)
    quiet = _tick(projects, defs, instance, cursor=first.cursor)
    projects.stack.clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    write_increment(projects.source(), "in.c-crm.orders", tag="more", rows=2)

    changed = _tick(projects, defs, instance, cursor=quiet.cursor)

    assert not quiet.run_requests
    assert "No source table changed" in quiet.skip_message
    assert _requested(changed) == [("orders", None)]


def test_sensor_without_cursor_skips_tables_already_copied(projects, instance):
    projects.seed("in.c-crm.customers", [["1", "a", "1"]])
    rows = [{"source": "in.c-crm.customers", "mode": "update"}]
    defs = projects.defs(rows)
    materialize(defs, dg.AssetKey(["keboola", "copy", "customers"]), instance)

    result = _tick(projects, defs, instance, cursor=None)

    assert _requested(result) == []


def _hour_before(moment: datetime) -> str:
    end = moment.replace(minute=0, second=0, microsecond=0)
    return f"{end - timedelta(hours=1):%Y-%m-%d-%H}:00"


def test_sensor_requests_latest_closed_window_once(projects, instance):
    rows = [
        {
            "source": "in.c-crm.customers",
            "mode": "update",
            "changed_in_last": "1 hour",
            "start": "2026-01-01",
        }
    ]
    projects.seed("in.c-crm.customers", [["1", "a", "1"]])
    defs = projects.defs(rows, automation={"settle_delay": "5 minutes"})

    before = datetime.now(UTC)
    first = _tick(projects, defs, instance, cursor=None)
    after = datetime.now(UTC)
    second = _tick(projects, defs, instance, cursor=first.cursor)

    ((name, window),) = _requested(first)
    # The latest hour that ended at least 5 minutes before the tick (which ran in between).
    expected = {_hour_before(moment - timedelta(minutes=5)) for moment in (before, after)}
    assert name == "customers"
    assert window in expected
    assert first.run_requests[0].job_name == "kbc_sync_every_1_hour"
    assert _requested(second) == []


def test_sensor_keeps_cursor_of_bucket_whose_listing_fails(projects, instance):
    _seed_all(projects)
    defs = projects.defs(FULL_ROWS)
    first = _tick(projects, defs, instance, cursor=None)
    projects.stack.clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    write_increment(projects.source(), "in.c-web.visits", tag="more", rows=1)
    write_increment(projects.source(), "in.c-crm.orders", tag="more", rows=1)
    projects.stack.add_fault(
        {"method": "GET", "path": r"buckets/in\.c-web/tables", "status": 500, "times": 10}
    )

    failed = _tick(projects, defs, instance, cursor=first.cursor)
    projects.stack.clear_faults()
    recovered = _tick(projects, defs, instance, cursor=failed.cursor)

    before, after = SourceCursor.from_json(first.cursor), SourceCursor.from_json(failed.cursor)
    assert _requested(failed) == [("orders", None)]
    assert after.tables["in.c-web.visits"] == before.tables["in.c-web.visits"]
    assert after.tables["in.c-crm.orders"] != before.tables["in.c-crm.orders"]
    assert _requested(recovered) == [("visits", None)]


@pytest.mark.parametrize("interval", [30, 120])
def test_sensor_interval_and_status_come_from_configuration(projects, interval):
    defs = projects.defs(
        FULL_ROWS, automation={"sensor": "running", "sensor_interval_seconds": interval}
    )

    (sensor,) = defs.sensors

    assert sensor.minimum_interval_seconds == interval
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_sensor_out_of_time_resumes_with_the_buckets_it_skipped(projects, instance, monkeypatch):
    # A budget of 0 s makes every tick stop after its first bucket, as a slow stack would.
    monkeypatch.setattr(sensor_module, "TIME_BUDGET_S", 0.0)
    _seed_all(projects)
    defs = projects.defs(FULL_ROWS)

    first = _tick(projects, defs, instance, cursor=None)
    first_calls = list(CALLS)
    second = _tick(projects, defs, instance, cursor=first.cursor)

    assert first_calls == [("GET", "/v2/storage/buckets/in.c-crm/tables")]
    assert CALLS == [("GET", "/v2/storage/buckets/in.c-web/tables")]
    assert SourceCursor.from_json(first.cursor).resume_at == "in.c-web"
    assert _requested(first) == [("customers", None), ("orders", None), ("products", None)]
    assert _requested(second) == [("pages", None), ("visits", None)]
