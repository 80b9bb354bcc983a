"""Everything one running stack holds, shared by the HTTP handlers, the jobs and the Python API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbc_sync.local.accounts import Accounts
from kbc_sync.local.clock import Clock
from kbc_sync.local.faults import FaultBook
from kbc_sync.local.files import FileRegistry
from kbc_sync.local.jobs import JobRunner


@dataclass
class StackState:
    clock: Clock
    accounts: Accounts
    jobs: JobRunner
    files: FileRegistry
    faults: FaultBook
    work_dir: Path
    slice_rows: int
    base_url: str = ""
    export_cache: dict[tuple, int] = field(default_factory=dict)
    snapshots: dict[int, Any] = field(default_factory=dict)
