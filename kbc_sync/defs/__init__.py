"""The Dagster layer of kbc_sync: assets, resources, partitions, schedules, sensor and checks."""

from __future__ import annotations

from kbc_sync.defs.factory import build_kbc_sync_defs
from kbc_sync.defs.resources import KeboolaSourceResource, KeboolaTargetResource
from kbc_sync.defs.schedules import build_cron_schedules, build_window_schedule
from kbc_sync.defs.sensor import SourceCursor, build_kbc_sync_sensor
from kbc_sync.defs.translator import CopyRow, KbcSyncTranslator

__all__ = [
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
