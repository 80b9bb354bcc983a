"""The copy engine: one table from a source project into the target bucket; no Dagster here."""

from __future__ import annotations

from kbc_sync.engine.copy import copy_table
from kbc_sync.engine.plan import CopyPlan, plan_copy
from kbc_sync.engine.result import CopyResult
from kbc_sync.engine.spec import MODES, CopySpec, Mode, Window
from kbc_sync.engine.target import TargetInfo, verify_target
from kbc_sync.engine.transfer import TransferProgress

__all__ = [
    "MODES",
    "CopyPlan",
    "CopyResult",
    "CopySpec",
    "Mode",
    "TargetInfo",
    "TransferProgress",
    "Window",
    "copy_table",
    "plan_copy",
    "verify_target",
]
