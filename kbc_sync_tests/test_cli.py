import itertools
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kbc_sync.cli import _MaskingFormatter, main
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
    target_admin: StorageClient

    def run(self, *args: str):
        return CliRunner().invoke(main, [*args, "--config", str(self.config)], env=self.env)

    def write_config(self, **target_changes) -> None:
        data = yaml.safe_load(self.config.read_text())
        data["targets"][0].update(target_changes)
        self.config.write_text(yaml.safe_dump(data))


@pytest.fixture
def setup(local_stack: LocalStack, tmp_path: Path) -> Setup:
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
    return Setup(local_stack, config, env, admin)


def _no_secret(result, env: dict[str, str]) -> None:
    for name in ("KBC_SOURCE_TOKEN", "KBC_TARGET_TOKEN"):
        assert env[name] not in result.output


def test_cli_log_formatter_masks_message_and_traceback():
    token = "8-1234-" + "s3cr3t" * 5
    try:
        raise RuntimeError(f"call failed with X-StorageApi-Token: {token}")
    except RuntimeError:
        record = logging.LogRecord(
            "kbc_sync", logging.INFO, "", 0, "token %s", (token,), sys.exc_info()
        )

    text = _MaskingFormatter("%(message)s").format(record)

    assert "RuntimeError" in text
    assert token not in text


def test_cli_config_error_prints_one_message_without_traceback(tmp_path):
    path = tmp_path / "kbc_sync.yaml"
    path.write_text("source: {}\ntargets: []\n")

    result = CliRunner().invoke(main, ["check", "--config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Configuration file {path} has 3 problems:")
    assert "Traceback" not in result.output


def test_cli_debug_shows_traceback(tmp_path):
    path = tmp_path / "kbc_sync.yaml"
    path.write_text("source: {}\n")

    result = subprocess.run(
        [sys.executable, "-m", "kbc_sync.cli", "check", "--config", str(path), "--debug"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "kbc_sync.errors.ConfigError: Configuration file" in result.stderr


def test_cli_config_path_from_environment(tmp_path):
    path = tmp_path / "elsewhere.yaml"
    path.write_text("- not a mapping\n")

    result = CliRunner().invoke(main, ["copy"], env={"KBC_SYNC_CONFIG": str(path)})

    assert result.exit_code == 1
    assert f"Error: Configuration file {path} must be a mapping" in result.stderr


def test_cli_copy_since_without_until_is_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["copy", "--since", "2026-01-01"])

    assert result.exit_code == 2
    assert "--since and --until go together" in result.output


def test_cli_copy_unknown_table_lists_destinations(setup):
    result = setup.run("copy", "--table", "nope")

    assert result.exit_code == 2
    assert (
        "found nope; allowed: a destination of the file (customers, orders_copy)" in result.output
    )


def test_cli_check_reports_projects_and_plans(setup):
    result = setup.run("check")

    assert result.exit_code == 0, result.output
    assert "Source: project 'CLI Source" in result.stdout
    assert f"bucket {TARGET_BUCKET}" in result.stdout
    assert "Review that this is the project and bucket" in result.stdout
    assert f"{TARGET_BUCKET}.customers" in result.stdout
    assert "create" in result.stdout
    assert "All 2 rows can be copied." in result.stdout
    _no_secret(result, setup.env)


def test_cli_check_master_target_token_refused(setup):
    target_project = int(setup.target_admin.verify_token()["owner"]["id"])
    setup.env["KBC_TARGET_TOKEN"] = setup.stack.add_token(target_project, master=True)

    result = setup.run("check")

    assert result.exit_code == 1
    assert "PROBLEM" in result.stdout
    assert "1 problem(s) found." in result.stdout
    _no_secret(result, setup.env)


def test_cli_check_invalid_source_token_names_its_variable(setup):
    setup.env["KBC_SOURCE_TOKEN"] = "1-2-notarealtokennotarealtoken"

    result = setup.run("check")

    assert result.exit_code == 1
    assert "Source: PROBLEM:" in result.stdout
    assert "KBC_SOURCE_TOKEN" in result.stdout
    assert "Target crm_copy:" in result.stdout
    _no_secret(result, setup.env)


def test_cli_check_key_mismatch_is_a_problem(setup):
    target_project = int(setup.target_admin.verify_token()["owner"]["id"])
    setup.stack.seed_table(
        target_project, f"{TARGET_BUCKET}.customers", ["id", "name"], [], primary_key=["name"]
    )

    result = setup.run("check")

    assert result.exit_code == 1
    assert "differ" in result.stdout
    assert f"PROBLEM {TARGET_BUCKET}.customers:" in result.stdout


def test_cli_copy_copies_every_row_and_prints_results(setup):
    result = setup.run("copy")

    assert result.exit_code == 0, result.output
    assert result.stdout.count(" ok") == 2
    assert setup.target_admin.get_table(f"{TARGET_BUCKET}.customers")["rowsCount"] == 25
    assert setup.target_admin.get_table(f"{TARGET_BUCKET}.orders_copy")["rowsCount"] == 1
    assert "INFO" in result.stderr
    _no_secret(result, setup.env)


def test_cli_copy_selected_table_only(setup):
    result = setup.run("copy", "--table", "orders_copy")

    assert result.exit_code == 0, result.output
    assert setup.target_admin.find_table(f"{TARGET_BUCKET}.customers") is None
    assert setup.target_admin.find_table(f"{TARGET_BUCKET}.orders_copy") is not None


def test_cli_copy_failed_row_does_not_stop_others(setup):
    data = yaml.safe_load(setup.config.read_text())
    data["targets"][0]["tables"].insert(0, {"source": f"{SOURCE_BUCKET}.missing"})
    setup.config.write_text(yaml.safe_dump(data))

    result = setup.run("copy")

    assert result.exit_code == 1
    assert f"FAILED {TARGET_BUCKET}.missing:" in result.stderr
    assert result.stdout.count(" ok") == 2
    _no_secret(result, setup.env)


def test_cli_copy_window_before_any_change_copies_nothing(setup):
    result = setup.run("copy", "--since", "2001-01-01", "--until", "2001-01-02")

    assert result.exit_code == 0, result.output
    assert setup.target_admin.find_table(f"{TARGET_BUCKET}.customers") is None


def test_cli_local_command_registered():
    result = CliRunner().invoke(main, ["local", "--help"])

    assert result.exit_code == 0
    assert "--demo" in result.output
