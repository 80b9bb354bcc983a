"""Keboola Storage API client and file stores; no Dagster here."""

from __future__ import annotations

from kbc_sync.storage.client import StorageClient, new_run_id
from kbc_sync.storage.redact import MaskingFilter, mask, register_secret
from kbc_sync.storage.stacks import STACKS, resolve_stack_url

__all__ = [
    "STACKS",
    "MaskingFilter",
    "StorageClient",
    "mask",
    "new_run_id",
    "register_secret",
    "resolve_stack_url",
]
