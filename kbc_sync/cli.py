"""`kbc-sync`: check a configuration against Keboola, copy tables without Dagster, run the stack.

Exit codes: 1 on any problem with the configuration, a token, a table or a copy; 2 on a wrong
command line (click's convention: a missing partner option, a bad time, an unknown `--table`).
A `KbcSyncError` prints as one message; a copy or check of one row that fails prints one line and
the other rows go on. `--debug` adds the traceback of each failure and DEBUG log lines. Logging
is configured here only, never in the library, and every line and traceback is masked so that
no token or signed URL reaches the terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from kbc_sync.cli_output import (
    failure,
    plan_row,
    result_row,
    table,
    traceback_text,
    window_cell,
)
from kbc_sync.config import SourceConfig, SyncConfig, TableConfig, TargetConfig, load_config
from kbc_sync.engine import Window, copy_table, plan_copy, verify_target
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
    """Run a command body; an error becomes one message (a masked traceback with `--debug`)."""
    handler = _configure_logging(debug)
    try:
        code = body()
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise  # a wrong command line: click prints it and exits 2
    except Exception as exc:
        # Python would print a traceback unmasked, so even --debug prints it here.
        if debug:
            click.echo(traceback_text(exc), err=True)
        elif isinstance(exc, KbcSyncError):
            click.echo(f"Error: {mask(exc)}", err=True)
        else:
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {mask(exc)}. Run again with --debug "
                "for the traceback, and report it.",
                err=True,
            )
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


@main.command()
@_config_option
@_debug_option
def check(config_path: Path | None, debug: bool) -> None:
    """Verify the tokens and show what a copy of each row would do now."""
    _run(debug, lambda: _check(load_config(config_path), debug))


def _check(config: SyncConfig, debug: bool) -> int:
    problems = 0
    source: StorageClient | None = _client(config.source)
    try:
        owner = source.verify_token().get("owner") or {}
        click.echo(
            f"Source: project {owner.get('name')!r} (id {owner.get('id')}) at "
            f"{config.source.stack_url}, token from ${config.source.token_env}"
        )
    except KbcSyncError as exc:
        click.echo(failure("Source: PROBLEM", exc, debug=debug))
        source, problems = None, 1

    for target in config.targets:
        problems += _check_target(target, source, debug)

    rows = sum(len(target.tables) for target in config.targets)
    verdict = f"{problems} problem(s) found." if problems else f"All {rows} rows can be copied."
    click.echo(f"\n{verdict}")
    return 1 if problems else 0


def _check_target(target: TargetConfig, source: StorageClient | None, debug: bool) -> int:
    click.echo(f"\nTarget {target.name}:")
    client = _client(target)
    try:
        info = verify_target(client, target.bucket)
    except KbcSyncError as exc:
        click.echo(failure("  PROBLEM", exc, debug=debug))
        return 1
    click.echo(
        f"  project {info.project_name!r} (id {info.project_id}) at {info.stack_url}, "
        f"bucket {info.bucket_id}\n"
        "  Review that this is the project and bucket the tables are meant to be written to."
    )
    if source is None:
        return 0

    rows, notes = [], []
    for row in target.tables:
        label = f"  PROBLEM {target.table_id(row)}"
        try:
            plan = plan_copy(row.to_copy_spec(target), source=source, target=client)
        except KbcSyncError as exc:
            rows.append(plan_row(target, row, None))
            notes.append(failure(label, exc, debug=debug))
            continue
        rows.append(plan_row(target, row, plan))
        notes += [f"{label}: {mask(p)}" for p in plan.problems]

    click.echo(table(rows))
    if notes:
        click.echo("\n".join(notes))
    return len(notes)


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
    if moment.microsecond:
        raise click.BadParameter(
            f"found {value!r}; allowed: a time in whole seconds, as Storage filters changes by "
            "the second",
            param_hint=option,
        )
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
@click.option(
    "--until",
    help="... and before this time. Without both, a row with changed_in_last copies its last "
    "window up to now; other rows copy the whole table.",
)
@_debug_option
def copy_command(
    config_path: Path | None,
    tables: tuple[str, ...],
    since: str | None,
    until: str | None,
    debug: bool,
) -> None:
    """Copy the configured tables now, without Dagster, and print what each copy did."""
    given = _window(since, until)
    _run(debug, lambda: _copy(load_config(config_path), tables, given, debug))


def _copy(config: SyncConfig, wanted: tuple[str, ...], given: Window | None, debug: bool) -> int:
    selected = _select(config, wanted)
    source = _client(config.source)
    targets = {target.name: _client(target) for target, _ in selected}
    if given is not None:
        logger.info("Copying %d table(s), the rows changed in %s", len(selected), given)
    now = datetime.now(UTC).replace(microsecond=0)

    rows, failures = [], []
    for target, row in selected:
        spec = row.to_copy_spec(target)
        window = given if given is not None else _row_window(spec.target_table_id, row, now)
        result = None
        try:
            result = copy_table(spec, source=source, target=targets[target.name], window=window)
        except Exception as exc:  # the other rows still run
            failures.append(failure(f"FAILED {spec.target_table_id}", exc, debug=debug))
        rows.append(result_row(spec, window_cell(window, adaptive=row.adaptive), result))

    click.echo(table(rows, indent=""))
    if failures:
        click.echo("\n" + "\n".join(failures), err=True)
    return 1 if failures else 0


def _row_window(table_id: str, row: TableConfig, now: datetime) -> Window | None:
    """The window a row copies without --since/--until: its last `changed_in_last` up to now."""
    if row.window is not None:
        window = Window(since=now - row.window.timedelta, until=now)
        logger.info(
            "%s: changed_in_last %s, so the rows changed in %s", table_id, row.window, window
        )
        return window
    if row.adaptive:
        # The high-water mark of an adaptive row lives in Dagster's asset metadata; a CLI run
        # has no earlier run to continue from.
        logger.info(
            "%s: changed_in_last adaptive, so the whole table: kbc-sync copy keeps no high-water "
            "mark between runs (the Dagster layer does); give --since/--until for a window",
            table_id,
        )
        return None
    logger.info("%s: no changed_in_last, so the whole table", table_id)
    return None


main.add_command(local_command)

if __name__ == "__main__":
    main()
