"""`kbc-sync` as a user runs it: errors, exit codes, `--debug`, and `copy` with its windows."""

import logging
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from kbc_sync.cli import _MaskingFormatter, _run, main
from kbc_sync.cli_output import traceback_text
from kbc_sync_tests.cli_helpers import (  # noqa: F401 (setup_fixture is a fixture)
    SOURCE_BUCKET,
    TARGET_BUCKET,
    no_secret,
    printed_rows,
    setup_fixture,
)
from kbc_sync_tests.engine.conftest import load_rows, table_rows

EVENTS = f"{SOURCE_BUCKET}.events"
WINDOW_CELL = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d), (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\) UTC$"
)


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


def test_cli_copy_unknown_table_lists_destinations(setup):
    result = setup.run("copy", "--table", "nope")

    assert result.exit_code == 2
    assert (
        "found nope; allowed: a destination of the file (customers, orders_copy)" in result.output
    )


def test_cli_traceback_text_masks_tokens_and_signed_urls():
    token = "8-1234-" + "s3cr3t" * 5
    url = "https://bucket.s3.amazonaws.com/slice.gz?X-Amz-Signature=abcdef0123456789"
    try:
        try:
            raise RuntimeError(f"GET {url} failed")
        except RuntimeError as exc:
            raise ValueError(f"X-StorageApi-Token: {token}") from exc
    except ValueError as exc:
        text = traceback_text(exc)

    assert "Traceback (most recent call last)" in text
    assert "The above exception was the direct cause" in text
    assert token not in text
    assert "abcdef0123456789" not in text


@pytest.mark.parametrize("debug", [False, True])
def test_cli_unexpected_error_exits_1_masked(debug, capsys):
    # No real part raises outside KbcSyncError on purpose, so a body that raises stands in for
    # a bug, to show what the user sees then.
    token = "8-1234-" + "s3cr3t" * 5

    def body() -> int:
        raise RuntimeError(f"broken with X-StorageApi-Token: {token}")

    with pytest.raises(SystemExit) as exited:
        _run(debug, body)

    stderr = capsys.readouterr().err
    assert exited.value.code == 1
    assert ("Traceback (most recent call last)" in stderr) is debug
    assert "RuntimeError: broken with X-StorageApi-Token: ***" in stderr
    assert token not in stderr


def test_cli_copy_copies_every_row_and_prints_results(setup):
    result = setup.run("copy")

    assert result.exit_code == 0, result.output
    rows = printed_rows(result.stdout)
    assert [(r["window"], r["status"]) for r in rows.values()] == [("whole table", "ok")] * 2
    assert setup.target_admin.get_table(f"{TARGET_BUCKET}.customers")["rowsCount"] == 25
    assert setup.target_admin.get_table(f"{TARGET_BUCKET}.orders_copy")["rowsCount"] == 1
    assert f"{TARGET_BUCKET}.customers: no changed_in_last, so the whole table" in result.stderr
    no_secret(result, setup.env)


def test_cli_copy_selected_table_only(setup):
    result = setup.run("copy", "--table", "orders_copy")

    assert result.exit_code == 0, result.output
    assert setup.target_admin.find_table(f"{TARGET_BUCKET}.customers") is None
    assert setup.target_admin.find_table(f"{TARGET_BUCKET}.orders_copy") is not None


def test_cli_copy_failed_row_does_not_stop_others(setup):
    setup.add_row({"source": f"{SOURCE_BUCKET}.missing"}, first=True)

    result = setup.run("copy")

    assert result.exit_code == 1
    assert f"FAILED {TARGET_BUCKET}.missing: The source table" in result.stderr
    assert "Traceback" not in result.output
    statuses = {table: row["status"] for table, row in printed_rows(result.stdout).items()}
    assert statuses == {
        f"{TARGET_BUCKET}.missing": "FAILED",
        f"{TARGET_BUCKET}.customers": "ok",
        f"{TARGET_BUCKET}.orders_copy": "ok",
    }
    no_secret(result, setup.env)


def test_cli_copy_debug_shows_traceback_of_failed_row(setup):
    setup.add_row({"source": f"{SOURCE_BUCKET}.missing"}, first=True)

    result = setup.run("copy", "--debug")

    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "kbc_sync.errors.NotFoundError" in result.stderr
    assert "kbc_sync.errors.CopyError: The source table" in result.stderr
    assert f"FAILED {TARGET_BUCKET}.missing: The source table" in result.stderr
    assert result.stdout.count(" ok") == 2
    no_secret(result, setup.env)


def _events_history(setup) -> None:
    """Source table `events`: rows 1-2 written three days ago, rows 2-3 changed an hour ago.

    The stack's clock runs in real time, shifted back while rows are written; the CLI reads
    real time, so its window up to now holds exactly the rows of the last hour.
    """
    clock = setup.stack.clock
    clock.release()
    clock.advance(-timedelta(days=3))
    setup.stack.seed_table(
        setup.source_project, EVENTS, ["id", "v"], [["1", "old"], ["2", "old"]], primary_key=["id"]
    )
    clock.release()
    clock.advance(-timedelta(hours=1))
    load_rows(setup.source, EVENTS, ["id", "v"], [["2", "new"], ["3", "new"]])
    clock.release()


def _copy_events(setup, *args: str, **row):
    _events_history(setup)
    setup.add_row({"source": EVENTS, "mode": "update", **row})
    result = setup.run("copy", "--table", "events", *args)
    assert result.exit_code == 0, result.output
    return result, table_rows(setup.target_admin, f"{TARGET_BUCKET}.events")


def test_cli_copy_windowed_row_copies_its_last_window(setup):
    result, copied = _copy_events(setup, changed_in_last="1 day", start="2026-01-01")

    assert copied == [("2", "new"), ("3", "new")]
    cell = printed_rows(result.stdout)[f"{TARGET_BUCKET}.events"]["window"]
    since, until = (datetime.fromisoformat(t) for t in WINDOW_CELL.match(cell).groups())
    assert until - since == timedelta(days=1)
    assert f"{TARGET_BUCKET}.events: changed_in_last 1 day, so the rows changed in" in result.stderr


def test_cli_copy_adaptive_row_copies_whole_table_and_says_why(setup):
    result, copied = _copy_events(setup, changed_in_last="adaptive")

    assert copied == [("1", "old"), ("2", "new"), ("3", "new")]
    cell = printed_rows(result.stdout)[f"{TARGET_BUCKET}.events"]["window"]
    assert cell == "whole table (adaptive)"
    assert "kbc-sync copy keeps no high-water mark between runs" in result.stderr


def test_cli_copy_row_without_window_copies_whole_table(setup):
    result, copied = _copy_events(setup)

    assert copied == [("1", "old"), ("2", "new"), ("3", "new")]
    assert printed_rows(result.stdout)[f"{TARGET_BUCKET}.events"]["window"] == "whole table"


def test_cli_copy_given_window_applies_to_every_selected_row(setup):
    _events_history(setup)
    setup.add_row({"source": EVENTS, "changed_in_last": "1 day", "start": "2026-01-01"})
    now = datetime.now(UTC).replace(microsecond=0)
    since, until = now - timedelta(days=4), now - timedelta(days=2)

    result = setup.run(
        "copy", "--since", since.isoformat(), "--until", until.isoformat(), "--table", "events",
        "--table", "customers",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    # Row 2 changed an hour ago, so only row 1 was last changed inside the window.
    assert table_rows(setup.target_admin, f"{TARGET_BUCKET}.events") == [("1", "old")]
    # customers was written just now: nothing of it lies in the window, so nothing is created.
    assert setup.target_admin.find_table(f"{TARGET_BUCKET}.customers") is None
    shown = f"[{since:%Y-%m-%d %H:%M:%S}, {until:%Y-%m-%d %H:%M:%S}) UTC"
    windows = {table: row["window"] for table, row in printed_rows(result.stdout).items()}
    assert windows == {f"{TARGET_BUCKET}.customers": shown, f"{TARGET_BUCKET}.events": shown}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-01-01"], "--since and --until go together"),
        (["--since", "yesterday", "--until", "2026-01-02"], "allowed: an ISO 8601 date"),
        (["--since", "2026-01-01T00:00:00.5", "--until", "2026-01-02"], "whole seconds"),
        (["--since", "2026-01-02", "--until", "2026-01-01"], "must be earlier than --until"),
    ],
)
def test_cli_copy_bad_window_is_usage_error(args, message):
    result = CliRunner().invoke(main, ["copy", *args])

    assert result.exit_code == 2
    assert message in result.output


def test_cli_local_command_registered():
    result = CliRunner().invoke(main, ["local", "--help"])

    assert result.exit_code == 0
    assert "--demo" in result.output
