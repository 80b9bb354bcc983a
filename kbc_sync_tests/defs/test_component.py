"""The optional Component builds the same definitions as the plain factory."""

from __future__ import annotations

import dagster as dg

from kbc_sync.defs.component import KbcSyncComponent
from kbc_sync_tests.defs.helpers import config_dict, write_config

ROWS = [
    {"source": "in.c-crm.customers", "changed_in_last": "1 day", "start": "2026-01-01"},
    {"source": "in.c-crm.orders"},
]


def test_component_from_yaml_builds_copy_assets_and_automation(tmp_path):
    path = write_config(tmp_path / "kbc_sync.yaml", config_dict("http://127.0.0.1:1", ROWS))
    component = KbcSyncComponent.resolve_from_yaml(f"config_path: {path}")

    defs = dg.component_defs(component=component)

    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["keboola", "copy", "customers"]) in keys
    assert dg.AssetKey(["keboola_source", "in.c-crm", "orders"]) in keys
    assert {s.name for s in defs.sensors} == {"kbc_sync_source_sensor"}
    dg.Definitions.validate_loadable(defs)


def test_component_relative_config_path_is_read_from_component_folder(tmp_path, monkeypatch):
    folder = tmp_path / "defs" / "keboola"
    folder.mkdir(parents=True)
    write_config(folder / "kbc_sync.yaml", config_dict("http://127.0.0.1:1", ROWS))
    component = KbcSyncComponent.resolve_from_yaml("config_path: kbc_sync.yaml")
    context = dg.ComponentTree.for_test().load_context.for_path(folder)
    monkeypatch.chdir(tmp_path)

    defs = dg.component_defs(component=component, context=context)

    assert (
        dg.AssetKey(["keboola", "copy", "orders"])
        in defs.resolve_asset_graph().get_all_asset_keys()
    )
