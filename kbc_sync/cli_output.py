"""What `kbc-sync` prints: aligned tables, one row per table copy or plan, and failures.

Everything here goes through `mask`, so no token or signed URL reaches the terminal, not even
in a `--debug` traceback.
"""

from __future__ import annotations

import traceback
from typing import Any

import click

from kbc_sync.config import TableConfig, TargetConfig
from kbc_sync.engine import CopyPlan, CopyResult, CopySpec, Window
from kbc_sync.errors import KbcSyncError
from kbc_sync.storage import mask

WHOLE_TABLE = "whole table"
WHOLE_TABLE_ADAPTIVE = "whole table (adaptive)"


def table(rows: list[dict[str, Any]], indent: str = "  ") -> str:
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


def window_cell(window: Window | None, *, adaptive: bool = False) -> str:
    """The window column of `copy`: what the copy of one row reads.

    `[since, until) UTC` to the second, as Storage receives it; otherwise the whole table,
    marked for adaptive rows, which the CLI copies whole.
    """
    if window is None:
        return WHOLE_TABLE_ADAPTIVE if adaptive else WHOLE_TABLE
    return f"[{window.since:%Y-%m-%d %H:%M:%S}, {window.until:%Y-%m-%d %H:%M:%S}) UTC"


def traceback_text(exc: BaseException) -> str:
    """The traceback of `exc` with its causes, masked."""
    return mask("".join(traceback.format_exception(exc)).rstrip())


def failure(label: str, exc: Exception, *, debug: bool) -> str:
    """One line naming what failed; with `debug`, the masked traceback goes to stderr first."""
    if debug:
        click.echo(traceback_text(exc), err=True)
    if isinstance(exc, KbcSyncError):
        return f"{label}: {mask(exc)}"
    return f"{label}: {type(exc).__name__}: {mask(exc)}"


def plan_row(target: TargetConfig, row: TableConfig, plan: CopyPlan | None) -> dict[str, Any]:
    """One line of `check`: what copying `row` would do now, and whether keys and columns match."""
    keys = (
        "-" if plan is None or plan.key_match is None else "match" if plan.key_match else "differ"
    )
    columns = "-" if plan is None or plan.target_table is not None else "new table"
    if plan is not None and plan.target_table is not None:
        changes = [f"new in source: {', '.join(plan.new_columns)}"] if plan.new_columns else []
        missing = plan.columns_missing_in_source
        changes += [f"missing in source: {', '.join(missing)}"] if missing else []
        columns = "; ".join(changes) or "match"
    return {
        "table": target.table_id(row),
        "source": row.source,
        "mode": row.mode,
        "window": str(row.changed_in_last or WHOLE_TABLE),
        "action": "-" if plan is None else plan.action,
        "keys": keys,
        "columns": columns,
        "ok": "yes" if plan is not None and not plan.problems else "NO",
    }


def result_row(spec: CopySpec, window: str, result: CopyResult | None) -> dict[str, Any]:
    """One line of `copy`: what the copy of `spec` over `window` did, or that it failed."""
    head = {"table": spec.target_table_id, "mode": spec.mode, "window": window}
    if result is None:
        empty = dict.fromkeys(("action", "rows", "MB", "slices", "seconds"), "-")
        return {**head, **empty, "status": "FAILED"}
    return {
        **head,
        "action": result.action,
        # None: an upsert whose slices were not gzip, so their records could not be counted.
        "rows": "?" if result.rows is None else result.rows,
        "MB": round(result.bytes / 1_000_000, 1),
        "slices": result.slices,
        "seconds": round(result.durations.get("total", 0.0), 1),
        "status": "ok",
    }
