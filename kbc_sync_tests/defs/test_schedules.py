"""Schedules: each tick copies the window that closed a settle delay earlier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from kbc_sync.defs import build_kbc_sync_defs
from kbc_sync.defs.partitions import delayed_cron
from kbc_sync_tests.defs.helpers import config_dict, load

URL = "http://127.0.0.1:1"


def _tick(defs: dg.Definitions, name: str, at: datetime) -> list[dg.RunRequest]:
    with dg.instance_for_test() as instance:
        repo = defs.get_repository_def()
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=repo
        )
        result = repo.get_schedule_def(name).evaluate_tick(context)
    assert result.skip_message is None
    return list(result.run_requests or [])


@pytest.mark.parametrize(
    ("cadence", "delay", "cron"),
    [
        (timedelta(minutes=15), timedelta(minutes=5), "5,20,35,50 * * * *"),
        (timedelta(minutes=15), timedelta(seconds=30), "1,16,31,46 * * * *"),
        (
            timedelta(hours=1),
            timedelta(minutes=5),
            "5 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 * * *",
        ),
        (timedelta(hours=6), timedelta(minutes=90), "30 1,7,13,19 * * *"),
        (timedelta(days=1), timedelta(minutes=5), "5 0 * * *"),
        (timedelta(weeks=1), timedelta(minutes=5), "5 0 * * 1"),
    ],
)
def test_delayed_cron_shifts_every_boundary(cadence, delay, cron):
    assert delayed_cron(cadence, delay) == cron


def test_window_schedule_tick_requests_window_that_just_closed(tmp_path):
    row = {
        "source": "in.c-crm.customers",
        "mode": "update",
        "changed_in_last": "15 minutes",
        "start": "2026-01-01",
    }
    defs = build_kbc_sync_defs(load(tmp_path / "k.yaml", config_dict(URL, [row])))

    requests = _tick(
        defs, "kbc_sync_every_15_minutes_schedule", datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
    )

    assert [r.partition_key for r in requests] == ["2026-03-01-10:00"]


def test_window_schedule_daily_tick_after_midnight_requests_previous_day(tmp_path):
    row = {"source": "in.c-crm.customers", "changed_in_last": "1 day", "start": "2026-01-01"}
    raw = config_dict(URL, [row], automation={"settle_delay": "10 minutes"})
    defs = build_kbc_sync_defs(load(tmp_path / "k.yaml", raw))

    requests = _tick(defs, "kbc_sync_every_1_day_schedule", datetime(2026, 3, 2, 0, 10, tzinfo=UTC))

    assert [r.partition_key for r in requests] == ["2026-03-01"]
    with dg.instance_for_test():
        repo = defs.get_repository_def()
    assert repo.get_schedule_def("kbc_sync_every_1_day_schedule").cron_schedule == "10 0 * * *"


def test_cron_schedule_of_full_rows_targets_only_them(tmp_path):
    rows = [
        {"source": "in.c-crm.products", "mode": "recreate", "cron": "0 3 * * *"},
        {"source": "in.c-crm.orders", "changed_in_last": "adaptive", "cron": "0 3 * * *"},
        {"source": "in.c-crm.events"},
    ]
    defs = build_kbc_sync_defs(load(tmp_path / "k.yaml", config_dict(URL, rows)))

    with dg.instance_for_test():
        repo = defs.get_repository_def()
        schedule = repo.get_schedule_def("kbc_sync_cron_0_3_x_x_x_schedule")
        job = repo.get_job(schedule.job_name)

    assert schedule.cron_schedule == "0 3 * * *"
    assert set(job.asset_layer.selected_asset_keys) == {
        dg.AssetKey(["keboola", "copy", "products"]),
        dg.AssetKey(["keboola", "copy", "orders"]),
    }
    assert len(_tick(defs, schedule.name, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))) == 1
