"""A valid configuration and helpers to write variations of it, shared by the config tests."""

import copy
from pathlib import Path

import pytest
import yaml

from kbc_sync.config import load_config

REPO = Path(__file__).resolve().parents[1]
TOKEN = "123-45678-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"

BASE = {
    "source": {"url": "https://connection.keboola.com", "token_env": "KBC_SOURCE_TOKEN"},
    "targets": [
        {
            "name": "crm_copy",
            "region": "eu-central-1",
            "token_env": "KBC_TARGET_TOKEN",
            "bucket": "in.c-crm-copy",
            "tables": [
                {"source": "in.c-crm.customers"},
                {
                    "source": "in.c-crm.orders",
                    "destination": "orders_copy",
                    "mode": "update",
                    "changed_in_last": "15 minutes",
                    "start": "2026-01-01T00:00:00Z",
                },
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def tokens(monkeypatch):
    monkeypatch.setenv("KBC_SOURCE_TOKEN", TOKEN)
    monkeypatch.setenv("KBC_TARGET_TOKEN", TOKEN)


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "kbc_sync.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def load(tmp_path: Path, change=None, **kwargs):
    data = copy.deepcopy(BASE)
    if change is not None:
        change(data)
    return load_config(write(tmp_path, data), **kwargs)


def table(data: dict, index: int = 0) -> dict:
    return data["targets"][0]["tables"][index]
