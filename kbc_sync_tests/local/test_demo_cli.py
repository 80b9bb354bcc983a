"""The demo data and `kbc-sync local` run as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kbc_sync.local import demo
from kbc_sync_tests.local.helpers import Api, export_rows


def test_seed_demo_builds_source_target_and_tokens(local_stack) -> None:
    env = local_stack.seed_demo(orders_rows=250)

    source = Api(env["KBC_SOURCE_URL"], env["KBC_SOURCE_TOKEN"])
    target = Api(env["KBC_TARGET_URL"], env["KBC_TARGET_TOKEN"])
    tables = {t["name"]: t for t in source.ok("GET", "buckets/in.c-crm/tables", 200)}
    verified = target.ok("GET", "tokens/verify", 200)
    target_tables = Api(env["KBC_TARGET_URL"], env["KBC_TARGET_MASTER_TOKEN"]).ok(
        "GET", "buckets/in.c-crm-copy/tables", 200
    )

    assert set(tables) == {"customers", "orders", "events", "products"}
    assert tables["orders"]["rowsCount"] == 250
    assert tables["customers"]["primaryKey"] == ["id"]
    assert tables["events"]["primaryKey"] == []
    assert tables["products"]["isTyped"] is True
    assert verified["bucketPermissions"] == {"in.c-crm-copy": "write"}
    assert verified["owner"]["name"] == "Demo target"
    assert target_tables == []
    assert env["AWS_ENDPOINT_URL_S3"] == local_stack.s3_endpoint_url


def test_demo_customers_round_trip_awkward_values(local_stack) -> None:
    env = local_stack.seed_demo(orders_rows=10)
    source = Api(env["KBC_SOURCE_URL"], env["KBC_SOURCE_TOKEN"])

    rows = export_rows(source, local_stack.s3_endpoint_url, "in.c-crm.customers")

    expected = sorted([value if value is not None else "" for value in row]
                      for row in demo.customers())  # fmt: skip
    assert rows == expected
    values = {value for row in rows for value in row}
    assert any("\n" in v for v in values) and any('"' in v for v in values)
    assert any("," in v for v in values) and "" in values and any(ord(c) > 127 for v in values
                                                                   for c in v)  # fmt: skip


def _default_signals() -> None:
    # The child must stop on SIGTERM even when the test runner ignores it.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def _env_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_cli_runs_prints_env_and_stops_on_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    code = "from kbc_sync.local.cli import local_command; local_command()"
    args = ["--port", "0", "--demo", "--demo-rows", "300", "--slice-rows", "50",
            "--env-file", str(env_file)]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        preexec_fn=_default_signals,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        written = _env_lines(env_file.read_text()) if env_file.exists() else {}
        if written:
            orders = export_rows(
                Api(written["KBC_SOURCE_URL"], written["KBC_SOURCE_TOKEN"]),
                written["AWS_ENDPOINT_URL_S3"], "in.c-crm.orders",
            )  # fmt: skip
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert set(written) == {
        "KBC_SOURCE_URL", "KBC_SOURCE_TOKEN", "KBC_TARGET_URL", "KBC_TARGET_TOKEN",
        "KBC_TARGET_MASTER_TOKEN", "AWS_ENDPOINT_URL_S3",
    }  # fmt: skip
    assert len(orders) == 300
    assert _env_lines(stdout) == written
    assert process.returncode == 0
    assert written["KBC_SOURCE_TOKEN"] not in stderr


@pytest.mark.parametrize("bad", [["--slice-rows", "0"], ["--demo-rows", "-1"]])
def test_cli_refuses_bad_numbers(bad: list[str]) -> None:
    from click.testing import CliRunner

    from kbc_sync.local.cli import local_command

    result = CliRunner().invoke(local_command, bad)

    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_cli_port_in_use_says_so_without_traceback() -> None:
    import socket

    from click.testing import CliRunner

    from kbc_sync.local.cli import local_command

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(local_command, ["--port", str(port)])

    assert result.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output
    assert "Traceback" not in result.output
