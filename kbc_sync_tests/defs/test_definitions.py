"""Definitions built from the configuration: keys, groups, lineage, loading and its errors."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from kbc_sync.defs import CopyRow, KbcSyncTranslator, build_kbc_sync_defs
from kbc_sync.errors import ConfigError
from kbc_sync_tests.defs.helpers import config_dict, load, write_config

URL = "http://127.0.0.1:1"  # never called: loading definitions makes no network call

ROWS = [
    {
        "source": "in.c-crm.customers",
        "mode": "update",
        "changed_in_last": "15 minutes",
        "start": "2026-01-01",
    },
    {
        "source": "in.c-crm.orders",
        "mode": "update",
        "changed_in_last": "adaptive",
        "cron": "*/10 * * * *",
    },
    {"source": "in.c-crm.products", "mode": "recreate", "cron": "0 3 * * *"},
    {"source": "in.c-crm.events", "destination": "all_events", "mode": "replace"},
]


def _defs(tmp_path, rows=ROWS, **kwargs) -> dg.Definitions:
    return build_kbc_sync_defs(load(tmp_path / "kbc_sync.yaml", config_dict(URL, rows, **kwargs)))


def test_build_defs_every_row_is_an_asset_with_source_upstream(tmp_path):
    defs = _defs(tmp_path)

    graph = defs.resolve_asset_graph()

    copy = dg.AssetKey(["keboola", "copy", "all_events"])
    source = dg.AssetKey(["keboola_source", "in.c-crm", "events"])
    assert graph.get(copy).parent_keys == {source}
    assert graph.get(source).is_external
    assert graph.get(copy).group_name == "copy"
    assert graph.get(copy).kinds == {"keboola"}
    assert graph.get(copy).pools == {"keboola_target_copy"}
    assert "in.c-crm.events → in.c-copy.all_events" in graph.get(copy).description
    assert "mode replace" in graph.get(copy).description
    copies = {k for k in graph.get_all_asset_keys() if k.path[0] == "keboola"}
    assert len(copies) == 4


def test_build_defs_windowed_row_partitioned_from_start_in_utc(tmp_path):
    defs = _defs(tmp_path)

    graph = defs.resolve_asset_graph()

    partitions = graph.get(dg.AssetKey(["keboola", "copy", "customers"])).partitions_def
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition)
    assert partitions.timezone == "UTC"
    assert partitions.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert partitions.get_first_partition_key() == "2026-01-01-00:00"
    assert partitions.time_window_for_partition_key("2026-01-01-00:15").end == datetime(
        2026, 1, 1, 0, 30, tzinfo=UTC
    )
    assert graph.get(dg.AssetKey(["keboola", "copy", "orders"])).partitions_def is None
    assert graph.get(dg.AssetKey(["keboola", "copy", "all_events"])).partitions_def is None


def test_build_defs_schedules_and_sensor_follow_the_configuration(tmp_path):
    defs = _defs(tmp_path, automation={"schedules": "running", "sensor": "stopped"})

    schedules = {s.name: s for s in defs.schedules}
    sensors = {s.name: s for s in defs.sensors}

    assert set(schedules) == {
        "kbc_sync_every_15_minutes_schedule",
        "kbc_sync_cron_x_10_x_x_x_x_schedule",
        "kbc_sync_cron_0_3_x_x_x_schedule",
    }
    assert schedules["kbc_sync_every_15_minutes_schedule"].cron_schedule == "5,20,35,50 * * * *"
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())
    assert sensors["kbc_sync_source_sensor"].default_status == dg.DefaultSensorStatus.STOPPED


def test_build_defs_validate_loadable_passes(tmp_path):
    defs = _defs(tmp_path)

    dg.Definitions.validate_loadable(defs)


def test_build_defs_custom_translator_changes_keys(tmp_path):
    class Prefixed(KbcSyncTranslator):
        def get_asset_spec(self, row: CopyRow) -> dg.AssetSpec:
            spec = super().get_asset_spec(row)
            return spec.replace_attributes(key=spec.key.with_prefix("prod"))

    cfg = load(tmp_path / "kbc_sync.yaml", config_dict(URL, ROWS))

    defs = build_kbc_sync_defs(cfg, translator=Prefixed())

    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["prod", "keboola", "copy", "orders"]) in keys


def test_build_defs_translator_clashing_keys_raise_config_error(tmp_path):
    class Clashing(KbcSyncTranslator):
        def get_asset_spec(self, row: CopyRow) -> dg.AssetSpec:
            return super().get_asset_spec(row).replace_attributes(key=dg.AssetKey(["same"]))

    cfg = load(tmp_path / "kbc_sync.yaml", config_dict(URL, ROWS))

    with pytest.raises(ConfigError, match=r"table #1 \(customers\) and .*table #2 \(orders\)"):
        build_kbc_sync_defs(cfg, translator=Clashing())


def test_definitions_module_loads_file_from_env_without_tokens(tmp_path, monkeypatch):
    path = write_config(tmp_path / "kbc_sync.yaml", config_dict(URL, ROWS))
    monkeypatch.setenv("KBC_SYNC_CONFIG", str(path))
    monkeypatch.delenv("KBC_SOURCE_TOKEN", raising=False)
    monkeypatch.delenv("KBC_TARGET_TOKEN", raising=False)
    module = importlib.import_module("kbc_sync.definitions")

    defs = module.defs()

    dg.Definitions.validate_loadable(defs)
    assert (
        dg.AssetKey(["keboola", "copy", "customers"])
        in defs.resolve_asset_graph().get_all_asset_keys()
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"source": "in.c-crm.customers", "mode": "upsert"}, r"mode.*upsert"),
        (
            {"source": "in.c-crm.customers", "changed_in_last": "7 minutes", "start": "2026-01-01"},
            r"7 minutes",
        ),
        ({"source": "in.c-crm.customers", "changed_in_last": "1 day"}, r"start: missing"),
        ({"source": "crm.customers"}, r"table id"),
        ({"source": "in.c-crm.customers", "colour": "red"}, r"colour"),
    ],
)
def test_definitions_module_bad_file_fails_with_config_error(tmp_path, monkeypatch, row, message):
    path = write_config(tmp_path / "kbc_sync.yaml", config_dict(URL, [row]))
    monkeypatch.setenv("KBC_SYNC_CONFIG", str(path))
    module = importlib.import_module("kbc_sync.definitions")

    with pytest.raises(ConfigError, match=message) as raised:
        module.defs()

    assert str(path) in str(raised.value)


def test_definitions_module_missing_file_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KBC_SYNC_CONFIG", str(tmp_path / "absent.yaml"))
    module = importlib.import_module("kbc_sync.definitions")

    with pytest.raises(ConfigError, match=r"absent\.yaml"):
        module.defs()


def test_dagster_cli_validate_reports_config_error_of_bad_file(tmp_path):
    bad = [{"source": "in.c-crm.customers", "mode": "upsert"}]
    path = write_config(tmp_path / "kbc_sync.yaml", config_dict(URL, bad))
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "KBC_SYNC_CONFIG": str(path), "DAGSTER_HOME": str(tmp_path)}

    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "kbc_sync.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode != 0
    assert "ConfigError" in done.stderr + done.stdout
    assert "upsert" in done.stderr + done.stdout


def test_defs_package_exports_its_public_names():
    import kbc_sync.defs as package

    assert package.__all__ == [
        "CopyRow",
        "KbcSyncTranslator",
        "KeboolaSourceResource",
        "KeboolaTargetResource",
        "SourceCursor",
        "build_cron_schedules",
        "build_kbc_sync_defs",
        "build_kbc_sync_sensor",
        "build_window_schedule",
    ]
    assert all(hasattr(package, name) for name in package.__all__)
