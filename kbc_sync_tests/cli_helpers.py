"""Projects on the local stack and a configuration for them, shared by the CLI tests."""

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kbc_sync.cli import main
from kbc_sync.local import LocalStack
from kbc_sync.storage import StorageClient

SOURCE_BUCKET = "in.c-crm"
TARGET_BUCKET = "in.c-crm-copy"
_numbers = itertools.count(1)


@dataclass
class Setup:
    """A source project with two tables, a target project with a writable bucket, a config."""

    stack: LocalStack
    config: Path
    env: dict[str, str]
    source: StorageClient
    target_admin: StorageClient
    source_project: int
    target_project: int
    number: int

    def run(self, *args: str):
        return CliRunner().invoke(main, [*args, "--config", str(self.config)], env=self.env)

    def write_config(self, **target_changes) -> None:
        data = yaml.safe_load(self.config.read_text())
        data["targets"][0].update(target_changes)
        self.config.write_text(yaml.safe_dump(data))

    def add_row(self, row: dict, *, first: bool = False) -> None:
        """Add a table row to the target of the configuration."""
        data = yaml.safe_load(self.config.read_text())
        tables = data["targets"][0]["tables"]
        tables.insert(0 if first else len(tables), row)
        self.config.write_text(yaml.safe_dump(data))

    def seed_target(self, name: str, columns: list[str], primary_key: list[str]) -> None:
        """Create an empty table in the target bucket."""
        table_id = f"{TARGET_BUCKET}.{name}"
        self.stack.seed_table(self.target_project, table_id, columns, [], primary_key=primary_key)


@pytest.fixture(name="setup")
def setup_fixture(local_stack: LocalStack, tmp_path: Path, monkeypatch):
    number = next(_numbers)
    source = local_stack.add_project(f"CLI Source {number}")
    target = local_stack.add_project(f"CLI Target {number}")
    local_stack.create_bucket(source, SOURCE_BUCKET)
    local_stack.create_bucket(target, TARGET_BUCKET)
    rows = [[str(i), f"name {i}"] for i in range(25)]
    local_stack.seed_table(
        source, f"{SOURCE_BUCKET}.customers", ["id", "name"], rows, primary_key=["id"]
    )
    local_stack.seed_table(source, f"{SOURCE_BUCKET}.orders", ["id", "amount"], [["1", "9.5"]])
    env = {
        "KBC_SOURCE_TOKEN": local_stack.add_token(source, master=True),
        "KBC_TARGET_TOKEN": local_stack.add_token(
            target, bucket_permissions={TARGET_BUCKET: "write"}
        ),
        "AWS_ENDPOINT_URL_S3": local_stack.s3_endpoint_url,
    }
    # The tests' own uploads and exports reach the stack's S3 server too.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", local_stack.s3_endpoint_url)
    config = tmp_path / "kbc_sync.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "source": {"url": local_stack.url, "token_env": "KBC_SOURCE_TOKEN"},
                "targets": [
                    {
                        "name": "crm_copy",
                        "url": local_stack.url,
                        "token_env": "KBC_TARGET_TOKEN",
                        "bucket": TARGET_BUCKET,
                        "tables": [
                            {"source": f"{SOURCE_BUCKET}.customers", "mode": "update"},
                            {"source": f"{SOURCE_BUCKET}.orders", "destination": "orders_copy"},
                        ],
                    }
                ],
            }
        )
    )
    admin = StorageClient(local_stack.url, local_stack.add_token(target, master=True))
    reader = StorageClient(local_stack.url, env["KBC_SOURCE_TOKEN"])
    yield Setup(local_stack, config, env, reader, admin, source, target, number)
    local_stack.clock.release()


def no_secret(result, env: dict[str, str]) -> None:
    for name in ("KBC_SOURCE_TOKEN", "KBC_TARGET_TOKEN"):
        assert env[name] not in result.output


def printed_rows(output: str) -> dict[str, dict[str, str]]:
    """The rows of the tables `kbc-sync` printed, keyed by their `table` cell."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in output.splitlines():
        # Columns are at least two spaces apart; no cell holds two spaces in a row.
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == "table":
            header = cells
        elif header is not None and len(cells) == len(header):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
        else:
            header = None
    return rows
