"""`kbc-sync`: check a configuration against Keboola, copy tables without Dagster, run the stack.

Every `KbcSyncError` ends the command with one message on stderr and exit code 1; `--debug`
shows the traceback instead, and DEBUG log lines. Logging is configured here only, never in the
library, with every line masked so that no token or signed URL reaches the terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from kbc_sync.config import SourceConfig, SyncConfig, TableConfig, TargetConfig, load_config
from kbc_sync.engine import (
    CopyPlan,
    CopyResult,
    CopySpec,
    Window,
    copy_table,
    plan_copy,
    verify_target,
)
from kbc_sync.errors import KbcSyncError
from kbc_sync.local.cli import local_command
from kbc_sync.storage import StorageClient, mask

logger = logging.getLogger(__name__)

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _MaskingFormatter(logging.Formatter):
    """Masks the whole formatted record, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def _configure_logging(debug: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter(_LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # DEBUG for kbc_sync only: boto3 and urllib3 at DEBUG would bury the lines that matter,
    # and botocore tells at INFO where it found its endpoint, once per client.
    logging.getLogger("kbc_sync").setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return handler


def _run(debug: bool, body: Callable[[], int]) -> None:
    """Run a command body; a KbcSyncError becomes one message and exit code 1."""
    handler = _configure_logging(debug)
    try:
        code = body()
    except KbcSyncError as exc:
        if debug:
            raise
        click.echo(f"Error: {mask(exc)}", err=True)
        code = 1
    finally:
        # Commands also run inside other processes (tests, scripts): leave no handler behind.
        logging.getLogger().removeHandler(handler)
    sys.exit(code)


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file. Default: $KBC_SYNC_CONFIG, then ./kbc_sync.yaml.",
)
_debug_option = click.option(
    "--debug", is_flag=True, help="Show tracebacks and DEBUG log lines of kbc_sync."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Copy Keboola Connection tables from one project into a bucket of another."""


def _client(project: SourceConfig | TargetConfig) -> StorageClient:
    return StorageClient(project.stack_url, project.token, token_env=project.token_env)


def _table(rows: list[dict[str, Any]], indent: str = "  ") -> str:
    """Rows of equal keys as aligned text columns: text to the left, numbers to the right."""
    columns = list(rows[0]) if rows else []
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) for c in columns}

    def cell(column: str, value: object) -> str:
        text = str(value)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return text.rjust(widths[column]) if number else text.ljust(widths[column])

    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(cell(c, row[c]) for c in columns) for row in rows]
    return "\n".join(indent + line.rstrip() for line in lines)


@main.command()
@_config_option
@_debug_option
def check(config_path: Path | None, debug: bool) -> None:
    """Verify the tokens and show what a copy of each row would do now."""
    _run(debug, lambda: _check(load_config(config_path)))


def _check(config: SyncConfig) -> int:
    problems = 0
    source: StorageClient | None = _client(config.source)
    try:
        owner = source.verify_token().get("owner") or {}
        click.echo(
            f"Source: project {owner.get('name')!r} (id {owner.get('id')}) at "
            f"{config.source.stack_url}, token from ${config.source.token_env}"
        )
    except KbcSyncError as exc:
        click.echo(f"Source: PROBLEM: {mask(exc)}")
        source, problems = None, 1

    for target in config.targets:
        problems += _check_target(target, source)

    rows = sum(len(target.tables) for target in config.targets)
    verdict = f"{problems} problem(s) found." if problems else f"All {rows} rows can be copied."
    click.echo(f"\n{verdict}")
    return 1 if problems else 0


def _check_target(target: TargetConfig, source: StorageClient | None) -> int:
    click.echo(f"\nTarget {target.name}:")
    client = _client(target)
    try:
        info = verify_target(client, target.bucket)
    except KbcSyncError as exc:
        click.echo(f"  PROBLEM: {mask(exc)}")
        return 1
    click.echo(
        f"  project {info.project_name!r} (id {info.project_id}) at {info.stack_url}, "
        f"bucket {info.bucket_id}\n"
        "  Review that this is the project and bucket the tables are meant to be written to."
    )
    if source is None:
        return 0

    rows, notes = [], []
    for table in target.tables:
        try:
            plan = plan_copy(table.to_copy_spec(target), source=source, target=client)
        except KbcSyncError as exc:
            rows.append(_plan_row(target, table, None))
            notes.append(f"  PROBLEM {target.table_id(table)}: {mask(exc)}")
            continue
        rows.append(_plan_row(target, table, plan))
        notes += [f"  PROBLEM {target.table_id(table)}: {mask(p)}" for p in plan.problems]

    click.echo(_table(rows))
    if notes:
        click.echo("\n".join(notes))
    return len(notes)


def _plan_row(target: TargetConfig, table: TableConfig, plan: CopyPlan | None) -> dict[str, Any]:
    keys = (
        "-" if plan is None or plan.key_match is None else "match" if plan.key_match else "differ"
    )
    columns = "-" if plan is None or plan.target_table is not None else "new table"
    if plan is not None and plan.target_table is not None:
        changes = [f"new: {', '.join(plan.new_columns)}"] if plan.new_columns else []
        missing = plan.columns_missing_in_source
        changes += [f"missing in source: {', '.join(missing)}"] if missing else []
        columns = "; ".join(changes) or "match"
    return {
        "table": target.table_id(table),
        "source": table.source,
        "mode": table.mode,
        "window": str(table.changed_in_last or "whole table"),
        "action": "-" if plan is None else plan.action,
        "keys": keys,
        "columns": columns,
        "ok": "yes" if plan is not None and not plan.problems else "NO",
    }


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"found {value!r}; allowed: an ISO 8601 date or timestamp such as 2026-01-01 or "
            "2026-01-01T06:00:00Z (UTC when no zone is given)",
            param_hint=option,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _window(since: str | None, until: str | None) -> Window | None:
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")
    if (start is None) != (end is None):
        raise click.UsageError("--since and --until go together: give both, or neither.")
    if start is None or end is None:
        return None
    if start >= end:
        raise click.UsageError(f"--since ({since}) must be earlier than --until ({until}).")
    return Window(since=start, until=end)


def _select(config: SyncConfig, wanted: tuple[str, ...]) -> list[tuple[TargetConfig, TableConfig]]:
    rows = list(config.rows())
    if not wanted:
        return rows

    names = {name.lower() for name in wanted}
    chosen = [(t, r) for t, r in rows if {r.destination.lower(), t.table_id(r).lower()} & names]
    known = {r.destination.lower() for _, r in rows} | {t.table_id(r).lower() for t, r in rows}
    unknown = sorted(name for name in wanted if name.lower() not in known)
    if unknown:
        choices = ", ".join(sorted({r.destination for _, r in rows}))
        raise click.BadParameter(
            f"found {', '.join(unknown)}; allowed: a destination of the file ({choices}) or a "
            "target table id",
            param_hint="--table",
        )
    return chosen


@main.command(name="copy")
@_config_option
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="DEST",
    help="Copy only this destination table (repeatable). Default: every row.",
)
@click.option("--since", help="Copy rows changed from this time on (ISO 8601, UTC by default).")
@click.option("--until", help="... and before this time. Without both, whole tables are copied.")
@_debug_option
def copy_command(
    config_path: Path | None,
    tables: tuple[str, ...],
    since: str | None,
    until: str | None,
    debug: bool,
) -> None:
    """Copy the configured tables now, without Dagster, and print what each copy did."""
    window = _window(since, until)
    _run(debug, lambda: _copy(load_config(config_path), tables, window, debug))


def _copy(config: SyncConfig, wanted: tuple[str, ...], window: Window | None, debug: bool) -> int:
    selected = _select(config, wanted)
    source = _client(config.source)
    targets = {target.name: _client(target) for target, _ in selected}
    if window is None:
        logger.info("Copying %d table(s), each as a whole table", len(selected))

    rows, failures = [], []
    for target, table in selected:
        spec = table.to_copy_spec(target)
        result = None
        try:
            result = copy_table(spec, source=source, target=targets[target.name], window=window)
        except KbcSyncError as exc:
            failures.append(f"FAILED {spec.target_table_id}: {mask(exc)}")
        except Exception as exc:  # the other rows still run; --debug keeps the traceback
            logger.error("Copy of %s failed unexpectedly", spec.target_table_id, exc_info=debug)
            failures.append(f"FAILED {spec.target_table_id}: {type(exc).__name__}: {mask(exc)}")
        rows.append(_result_row(spec, result))

    click.echo(_table(rows, indent=""))
    if failures:
        click.echo("\n" + "\n".join(failures), err=True)
    return 1 if failures else 0


def _result_row(spec: CopySpec, result: CopyResult | None) -> dict[str, Any]:
    if result is None:
        empty = dict.fromkeys(("action", "rows", "MB", "slices", "seconds"), "-")
        return {"table": spec.target_table_id, "mode": spec.mode, **empty, "status": "FAILED"}
    return {
        "table": result.target_table_id,
        "mode": result.mode,
        "action": result.action,
        # None: an incremental load into an existing table, where Storage reports no count.
        "rows": "?" if result.rows is None else result.rows,
        "MB": round(result.bytes / 1_000_000, 1),
        "slices": result.slices,
        "seconds": round(result.durations.get("total", 0.0), 1),
        "status": "ok",
    }


main.add_command(local_command)

if __name__ == "__main__":
    main()
