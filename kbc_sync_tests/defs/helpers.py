"""Configurations for the Dagster layer's tests, written as YAML files like a user's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kbc_sync.config import SyncConfig, load_config


def config_dict(
    stack_url: str,
    tables: list[dict[str, Any]],
    *,
    bucket: str = "in.c-copy",
    automation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A configuration with one source and one target `copy` on `stack_url`."""
    raw: dict[str, Any] = {
        "source": {"url": stack_url, "token_env": "KBC_SOURCE_TOKEN"},
        "targets": [
            {
                "name": "copy",
                "url": stack_url,
                "token_env": "KBC_TARGET_TOKEN",
                "bucket": bucket,
                "tables": tables,
            }
        ],
    }
    if automation:
        raw["automation"] = automation
    return raw


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    """Write `raw` as YAML to `path` and return it."""
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def load(path: Path, raw: dict[str, Any]) -> SyncConfig:
    """Write and load a configuration the way `kbc_sync.definitions` does (no tokens needed)."""
    return load_config(write_config(path, raw), require_env=False)
