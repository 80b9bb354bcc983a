"""A source and a target project on the local stack, and a Dagster instance, for each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from kbc_sync.defs import build_kbc_sync_defs
from kbc_sync.storage import StorageClient
from kbc_sync_tests.defs.helpers import config_dict, load

SOURCE_BUCKETS = ("in.c-crm", "in.c-web")
TARGET_BUCKET = "in.c-copy"


@dataclass
class Projects:
    """A source project (master token) and a target project (token writing one bucket)."""

    stack: Any
    tmp_path: Path
    source_id: int
    target_id: int
    source_token: str
    target_token: str

    def seed(
        self,
        table_id: str,
        rows: Sequence[Sequence[str | None]],
        *,
        columns: Sequence[str] = ("id", "name", "amount"),
        primary_key: Sequence[str] = ("id",),
    ) -> None:
        """Create a source table holding `rows`, stamped with the stack clock's now."""
        self.stack.seed_table(
            self.source_id, table_id, list(columns), rows, primary_key=tuple(primary_key)
        )

    def source(self) -> StorageClient:
        """A client of the source project."""
        return StorageClient(self.stack.url, self.source_token, token_env="KBC_SOURCE_TOKEN")

    def target(self) -> StorageClient:
        """A client of the target project."""
        return StorageClient(self.stack.url, self.target_token, token_env="KBC_TARGET_TOKEN")

    def defs(self, tables: list[dict[str, Any]], **kwargs: Any) -> dg.Definitions:
        """Definitions for a configuration of `tables` copied into the target bucket."""
        raw = config_dict(self.stack.url, tables, bucket=TARGET_BUCKET, **kwargs)
        return build_kbc_sync_defs(load(self.tmp_path / f"{uuid.uuid4().hex}.yaml", raw))


@pytest.fixture
def projects(
    local_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Projects]:
    """Fresh projects per test; the stack clock goes back to real time afterwards."""
    tag = uuid.uuid4().hex[:8]
    source_id = local_stack.add_project(f"Source {tag}")
    target_id = local_stack.add_project(f"Target {tag}")
    for bucket in SOURCE_BUCKETS:
        local_stack.create_bucket(source_id, bucket)
    local_stack.create_bucket(target_id, TARGET_BUCKET)
    source_token = local_stack.add_token(source_id, master=True, description="source")
    target_token = local_stack.add_token(
        target_id, bucket_permissions={TARGET_BUCKET: "write"}, description="target"
    )
    monkeypatch.setenv("KBC_SOURCE_TOKEN", source_token)
    monkeypatch.setenv("KBC_TARGET_TOKEN", target_token)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", local_stack.s3_endpoint_url)
    try:
        yield Projects(local_stack, tmp_path, source_id, target_id, source_token, target_token)
    finally:
        local_stack.clock.release()
        local_stack.clear_faults()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A real Dagster instance in a temporary DAGSTER_HOME."""
    with dg.instance_for_test() as dagster_instance:
        yield dagster_instance


def materialize(
    defs: dg.Definitions,
    key: dg.AssetKey,
    instance: dg.DagsterInstance,
    **kwargs: Any,
) -> dg.ExecuteInProcessResult:
    """Materialize one copy asset of `defs` on `instance`, with the resources of `defs`."""
    return dg.materialize(
        list(defs.assets or []),
        selection=[key],
        resources=dict(defs.resources or {}),
        instance=instance,
        **kwargs,
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The plain values of the single materialization's metadata."""
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """Check evaluations of a run by check name."""
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
