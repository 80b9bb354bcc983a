"""What a finished or failed copy shows in Dagster: metadata, the failure, and the log lines."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from kbc_sync.engine.spec import Window
from kbc_sync.errors import ApiError, CopyError, JobFailedError, KbcSyncError
from kbc_sync.storage import mask

PROGRESS_EVERY_S = 5.0

# The engine and the client log one INFO line per Storage job; these are the loggers whose
# lines also belong in the step's log in the Dagster UI.
FORWARDED_LOGGERS = ("kbc_sync.engine", "kbc_sync.storage")


def copy_metadata(
    result: Any,
    target_table: Mapping[str, Any],
    *,
    target_stack_url: str,
    bucket: str,
    window: Window | None,
    rows_copied: int | None,
) -> dict[str, Any]:
    """Build the materialization metadata of a finished copy.

    Args:
        result: the engine's `CopyResult`.
        target_table: the target table's detail, read after the copy.
        target_stack_url: the target stack URL, for `dagster/uri`.
        bucket: the target bucket id.
        window: the copied window, None for the whole table.
        rows_copied: rows the copy loaded, when known.
    """
    table_id = result.target_table_id
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(int(target_table.get("rowsCount") or 0)),
        "dagster/column_schema": column_schema(target_table),
        "dagster/table_name": table_id,
        "dagster/uri": dg.MetadataValue.url(f"{target_stack_url}/v2/storage/tables/{table_id}"),
        "kbc_sync/bytes": dg.MetadataValue.int(int(result.bytes)),
        "kbc_sync/slices": dg.MetadataValue.int(int(result.slices)),
        "kbc_sync/mode": result.mode,
        "kbc_sync/action": result.action,
        "kbc_sync/source_table": result.source_table_id,
        "kbc_sync/target_project_name": str(result.target_project_name),
        "kbc_sync/target_project_id": str(result.target_project_id),
        "kbc_sync/target_bucket": bucket,
        "kbc_sync/window": str(window) if window else "whole table",
        "kbc_sync/source_job_id": str(result.source_job_id),
        "kbc_sync/target_job_ids": ", ".join(str(j) for j in result.target_job_ids),
        "kbc_sync/durations_s": dg.MetadataValue.json(
            {phase: round(float(s), 3) for phase, s in result.durations.items()}
        ),
    }
    if rows_copied is not None:
        metadata["kbc_sync/rows_copied"] = dg.MetadataValue.int(rows_copied)
    for name, url in result.links.items():
        metadata[f"kbc_sync/link/{name}"] = dg.MetadataValue.url(url)
    if window:
        metadata["kbc_sync/window_start"] = dg.MetadataValue.timestamp(window.since)
        metadata["kbc_sync/window_end"] = dg.MetadataValue.timestamp(window.until)
    return metadata


def column_schema(table: Mapping[str, Any]) -> dg.TableSchema:
    """Return the table's columns as a `TableSchema`, with types when the table is typed."""
    types: dict[str, str] = {}
    nullable: dict[str, bool] = {}
    for column in (table.get("definition") or {}).get("columns") or []:
        definition = column.get("definition") or {}
        types[column["name"]] = str(definition.get("type") or column.get("basetype") or "string")
        nullable[column["name"]] = bool(definition.get("nullable", True))
    keys = set(table.get("primaryKey") or [])
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=types.get(name, "string"),
                constraints=dg.TableColumnConstraints(
                    nullable=nullable.get(name, name not in keys), unique=keys == {name}
                ),
            )
            for name in table.get("columns") or []
        ]
    )


def failure(exc: KbcSyncError, *, source_table: str, target_table: str) -> dg.Failure:
    """Turn a kbc_sync error into a Dagster `Failure` with what the UI should show."""
    metadata: dict[str, Any] = {
        "kbc_sync/error": type(exc).__name__,
        "kbc_sync/source_table": source_table,
        "kbc_sync/target_table": target_table,
    }
    if isinstance(exc, JobFailedError):
        if exc.url:
            metadata["kbc_sync/link/job"] = dg.MetadataValue.url(mask(exc.url))
        metadata["kbc_sync/job_id"] = str(exc.job_id)
        metadata["kbc_sync/error_code"] = str(exc.code)
    if isinstance(exc, ApiError):
        metadata["kbc_sync/http_status"] = str(exc.status)
        metadata["kbc_sync/error_code"] = str(exc.code)
    if isinstance(exc, CopyError):
        metadata["kbc_sync/previous_data_restored"] = exc.restored
    return dg.Failure(description=mask(str(exc)), metadata=metadata, allow_retries=exc.retryable)


class ProgressLog:
    """Progress callback for the engine that writes to the step log every few seconds."""

    def __init__(self, log: Any, table_id: str, every_s: float = PROGRESS_EVERY_S) -> None:
        self._log = log
        self._table_id = table_id
        self._every_s = every_s
        self._last = time.monotonic()

    def __call__(self, progress: object) -> None:
        now = time.monotonic()
        if now - self._last >= self._every_s:
            self._last = now
            self._log.info(f"Transfer into {self._table_id}: {progress}")


class _StepLogHandler(logging.Handler):
    def __init__(self, log: Any) -> None:
        super().__init__(logging.INFO)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        # Progress already goes through `ProgressLog`; repeating it would double the lines.
        if record.getMessage().startswith("Transfer "):
            return
        level = "warning" if record.levelno >= logging.WARNING else "info"
        getattr(self._log, level)(mask(record.getMessage()))


@contextmanager
def step_log(log: Any) -> Iterator[None]:
    """Forward the engine's and the client's INFO lines to the step's log while copying."""
    handler = _StepLogHandler(log)
    loggers = [logging.getLogger(name) for name in FORWARDED_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
