"""`build_kbc_sync_defs`: the whole Dagster project from a loaded configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from kbc_sync.defs.assets import SOURCE_RESOURCE_KEY, build_copy_assets, target_resource_key
from kbc_sync.defs.partitions import as_timedelta, partitions_def_for
from kbc_sync.defs.resources import KeboolaSourceResource, KeboolaTargetResource
from kbc_sync.defs.schedules import (
    build_cron_schedules,
    build_window_schedule,
    group_assets,
    group_labels,
)
from kbc_sync.defs.sensor import build_kbc_sync_sensor
from kbc_sync.defs.translator import CopyRow, KbcSyncTranslator
from kbc_sync.errors import ConfigError

if TYPE_CHECKING:
    from kbc_sync.config import SyncConfig

SOURCE_GROUP = "keboola_source"


def build_kbc_sync_defs(
    cfg: SyncConfig, *, translator: KbcSyncTranslator | None = None
) -> dg.Definitions:
    """Build assets, resources, jobs, schedules and the sensor for a configuration.

    Nothing here calls the network: keys, groups and partitions come from the configuration,
    and tokens are read by the resources only when a run or a sensor tick starts.

    Args:
        cfg: the configuration, as `load_config(..., require_env=False)` returns it.
        translator: maps each row to its asset spec; the default keys a copy as
            `keboola/<target>/<destination>`.

    Raises:
        ConfigError: two rows map to the same asset (a translator returned clashing keys).

    Example:
        .. code-block:: python

            defs = build_kbc_sync_defs(load_config("kbc_sync.yaml", require_env=False))
    """
    translator = translator or KbcSyncTranslator()
    rows = [
        CopyRow(target, table, index)
        for target in cfg.targets
        for index, table in enumerate(target.tables)
    ]
    planned: list[tuple[CopyRow, dg.AssetKey, Any]] = []
    owners: dict[str, CopyRow] = {}
    ops: dict[tuple[str, str], list[tuple[CopyRow, dg.AssetSpec]]] = {}
    partitions: dict[tuple[str, str], Any] = {}
    for row, label in zip(rows, group_labels(rows), strict=True):
        spec = translator.get_asset_spec(row)
        _claim(owners, spec.key, row)
        ops.setdefault((row.target.name, label), []).append((row, spec))
        partitions[(row.target.name, label)] = partitions_def_for(row)
        planned.append((row, spec.key, partitions[(row.target.name, label)]))
    assets = [
        build_copy_assets(f"copy_{target}_{label}", members, partitions[(target, label)])
        for (target, label), members in ops.items()
    ]

    groups = group_assets(planned)
    automation = cfg.automation
    settle = as_timedelta(automation.settle_delay)
    schedule_status = _status(automation.schedules, dg.DefaultScheduleStatus)
    schedules = [
        build_window_schedule(g, settle_delay=settle, default_status=schedule_status)
        for g in groups
        if g.partitions_def is not None
    ]
    cron_jobs, cron_schedules = build_cron_schedules(planned, default_status=schedule_status)
    sensor = build_kbc_sync_sensor(
        groups,
        settle_delay=settle,
        minimum_interval_seconds=automation.sensor_interval_seconds,
        default_status=_status(automation.sensor, dg.DefaultSensorStatus),
    )
    return dg.Definitions(
        assets=[*_source_specs(assets, owners), *assets],
        resources=_resources(cfg),
        jobs=[*(g.job for g in groups), *cron_jobs],
        schedules=[*schedules, *cron_schedules],
        sensors=[sensor],
    )


def _claim(owners: dict[str, CopyRow], key: dg.AssetKey, row: CopyRow) -> None:
    # Op names are the key with `-` and `.` turned into `_`, so keys can clash there too.
    names = {key.to_user_string(), key.to_python_identifier()}
    for name in names:
        if name in owners:
            raise ConfigError(
                f"Rows {owners[name].label} and {row.label} map to the same Dagster asset "
                f"{key.to_user_string()!r}; give one of them another destination or target name."
            )
    owners.update(dict.fromkeys(names, row))


def _source_specs(assets: list[dg.AssetsDefinition], owners: dict[str, CopyRow]) -> list[Any]:
    """External assets for the source tables, each once even when copied to several targets."""
    sources: dict[dg.AssetKey, dg.AssetSpec] = {}
    for asset in assets:
        for dep in asset.specs_by_key.values():
            for upstream in dep.deps:
                key = upstream.asset_key
                if key.to_user_string() in owners or key in sources:
                    continue
                sources[key] = dg.AssetSpec(
                    key,
                    group_name=SOURCE_GROUP,
                    kinds={"keboola"},
                    description=f"Table {'.'.join(key.path[1:])} of the Keboola source project.",
                )
    return list(sources.values())


def _resources(cfg: SyncConfig) -> dict[str, Any]:
    source = cfg.source
    resources: dict[str, Any] = {
        SOURCE_RESOURCE_KEY: KeboolaSourceResource(
            url=source.url,
            region=source.region,
            token=dg.EnvVar(source.token_env),
            token_env=source.token_env,
        )
    }
    for target in cfg.targets:
        resources[target_resource_key(target.name)] = KeboolaTargetResource(
            url=target.url,
            region=target.region,
            token=dg.EnvVar(target.token_env),
            token_env=target.token_env,
            bucket=target.bucket,
        )
    return resources


def _status(value: str, enum: Any) -> Any:
    return enum.RUNNING if value == "running" else enum.STOPPED
