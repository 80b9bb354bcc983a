"""Copy one table from a source project into the target bucket: the whole table or a window.

The steps, and why in this order:

1. the target token is checked and the plan made before anything is exported, so a copy that
   cannot succeed stops with both projects untouched;
2. the source is exported (gzipped, filtered to the window's `_timestamp` range) and every slice
   is streamed into a sliced upload in the target project;
3. only then is the target table written, by one job for `update` and `replace`, or by
   snapshot, drop, create and import for `recreate`, so the table is gone only briefly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kbc_sync.engine.load import LoadOutcome, load_file, recreate
from kbc_sync.engine.plan import CopyPlan, check_plan, plan_copy
from kbc_sync.engine.result import CopyResult
from kbc_sync.engine.spec import CopySpec, Window
from kbc_sync.engine.target import TargetInfo, verify_target
from kbc_sync.engine.transfer import (
    DEFAULT_CHUNK_SIZE,
    TransferProgress,
    TransferStats,
    prepare_upload,
    transfer_export,
)
from kbc_sync.errors import CopyError, KbcSyncError, TransferError
from kbc_sync.storage import links, new_run_id
from kbc_sync.storage.redact import protect_loggers

logger = logging.getLogger(__name__)


def copy_table(
    spec: CopySpec,
    *,
    source: Any,
    target: Any,
    window: Window | None = None,
    run_id: str | None = None,
    progress: Callable[[TransferProgress], None] | None = None,
    concurrency: int = 4,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> CopyResult:
    """Copy `spec.source_table_id` into the target bucket as `spec.mode` says.

    With a window, only rows whose `_timestamp` lies in `[since, until)` are copied. In
    `replace` and `recreate` modes the target then holds exactly the window's rows. A window
    without changed rows writes nothing.

    Args:
        spec: the table and mode to copy.
        source: the `StorageClient` of the source project.
        target: the `StorageClient` of the target project; its token must have `write` on the
            target bucket and nothing else.
        window: the time window of changed rows, or None for the whole table.
        run_id: sent as `X-KBC-RunId` (with a suffix per step); a new one when None.
        progress: called with transfer progress at most every few seconds.
        concurrency: slices transferred at once.
        chunk_size: bytes per multipart part (16 MiB by default). Parts stream through when
            the source reports the slice's length; otherwise a copy buffers about
            `concurrency` x `chunk_size`.

    Returns:
        What the copy did.

    Raises:
        CopyError: the token, keys or columns do not allow the copy (nothing was written), or a
            recreate failed (`restored` says whether the old table is back).
        KbcSyncError: Storage or a file store failed; the target is as before.
    """
    run_id = run_id or new_run_id()
    clock = _Phases()
    protect_loggers()
    _log_start(spec, window, run_id)

    info = verify_target(target, spec.target_bucket_id)
    source_links = (source.url, source.project_id)
    clock.lap("verify")
    plan = plan_copy(spec, source=source, target=target)
    check_plan(plan)
    clock.lap("plan")

    # The target file is prepared while the export job runs. If the export fails, the empty
    # file resource is left to Storage, which deletes non-permanent files after 15 days.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kbc-prepare") as helper:
        upload = helper.submit(
            prepare_upload, target, f"{spec.destination}.csv.gz", chunk_size=chunk_size
        )
        export_job = _export(source, spec, window)
        source_file = source.get_file(_exported_file_id(export_job), federation_token=True)
        prepared = upload.result()
    clock.lap("export")
    try:
        stats = transfer_export(
            source_file,
            prepared,
            concurrency=concurrency,
            chunk_size=chunk_size,
            progress=progress,
            count_rows=_upserts(plan),
        )
    except TransferError as exc:
        # The store's message names a slice; the reader needs the table it belongs to.
        raise TransferError(
            f"Copy {spec.source_table_id} -> {spec.target_table_id}: {exc}",
            retryable=exc.retryable,
        ) from exc
    clock.lap("transfer")

    outcome = _load(target, plan, stats, window, run_id=run_id)
    rows = _rows(target, plan, stats, outcome)
    clock.lap("load")
    result = _result(plan, info, window, stats, export_job, outcome, rows, clock, source_links)
    logger.info("Copied %s", result.summary())
    return result


def _log_start(spec: CopySpec, window: Window | None, run_id: str) -> None:
    scope = f"rows changed in {window}" if window else "the whole table"
    note = ""
    if window and spec.mode != "update":
        note = f"; mode {spec.mode} leaves the target holding only this window's rows"
    logger.info(
        "Copy %s -> %s started (mode %s, %s, run id %s%s)",
        spec.source_table_id,
        spec.target_table_id,
        spec.mode,
        scope,
        run_id,
        note,
    )


def _export(source: Any, spec: CopySpec, window: Window | None) -> dict[str, Any]:
    job = source.start_export(
        spec.source_table_id,
        # The client sends the ends as unix timestamps, the form documented for exports.
        changed_since=window.since if window else None,
        changed_until=window.until if window else None,
        gzip=True,
    )
    return source.wait_for_job(job)


def _exported_file_id(job: dict[str, Any]) -> str:
    results = job.get("results") or {}
    file = results.get("file") if isinstance(results, dict) else None
    if not isinstance(file, dict) or file.get("id") is None:
        raise CopyError(
            f"Export job {job.get('id')} ended without naming its file; nothing was written. "
            "Run the copy again; if it repeats, report the job id to Keboola support."
        )
    return str(file["id"])


def _load(
    target: Any, plan: CopyPlan, stats: TransferStats, window: Window | None, *, run_id: str
) -> LoadOutcome | None:
    """Write the target by the plan; None when there was nothing to write."""
    mode = plan.spec.mode
    if not stats.has_rows and (window is not None or mode == "update"):
        logger.info(
            "Nothing to load into %s: the export is empty%s",
            plan.spec.target_table_id,
            f" (no rows changed in {window})" if window else "",
        )
        _forget_file(target, stats.file_id)
        return None
    if plan.action == "recreate":
        return recreate(target, plan, stats.file_id, run_id=run_id)
    return load_file(target, plan, stats.file_id, incremental=mode == "update", run_id=run_id)


def _rows(
    target: Any, plan: CopyPlan, stats: TransferStats, outcome: LoadOutcome | None
) -> int | None:
    """Rows copied: the rows of the export, which the load wrote.

    After a full load the table holds exactly the loaded rows. An incremental load without a
    primary key appends, so the growth of the table is the loaded rows. With a key, updated
    rows do not change the count and Storage's import results carry none, so the transfer
    counted the exported records (`_upserts`); None only if a slice could not be counted.
    """
    if outcome is None or not stats.has_rows:
        return 0
    incremental = plan.spec.mode == "update" and not outcome.created
    if incremental and plan.primary_key:
        return stats.rows
    after = int(target.get_table(plan.spec.target_table_id).get("rowsCount") or 0)
    if incremental:
        return after - int((plan.target_table or {}).get("rowsCount") or 0)
    return after


def _upserts(plan: CopyPlan) -> bool:
    """True for an upsert into an existing table, whose row count Storage cannot tell."""
    return plan.spec.mode == "update" and plan.action == "load" and bool(plan.primary_key)


def _forget_file(target: Any, file_id: str) -> None:
    # Storage deletes unused files after 15 days anyway; this only tidies up early.
    try:
        target.delete_file(file_id)
    except KbcSyncError as exc:
        logger.debug("Could not delete unused file %s: %s", file_id, exc)


def _result(
    plan: CopyPlan,
    info: TargetInfo,
    window: Window | None,
    stats: TransferStats,
    export_job: dict[str, Any],
    outcome: LoadOutcome | None,
    rows: int | None,
    clock: _Phases,
    source_links: tuple[str, str],
) -> CopyResult:
    spec = plan.spec
    jobs = outcome.jobs if outcome else []
    source_url, source_project_id = source_links
    found = {
        "source_table": links.table_url(source_url, source_project_id, spec.source_table_id),
        "source_job": links.job_url(source_url, source_project_id, export_job["id"]),
        "target_project": links.project_url(info.stack_url, info.project_id),
        "target_table": links.table_url(info.stack_url, info.project_id, spec.target_table_id),
    }
    if outcome and outcome.import_job:
        found["target_job"] = links.job_url(
            info.stack_url, info.project_id, outcome.import_job["id"]
        )
    return CopyResult(
        source_table_id=spec.source_table_id,
        target_table_id=spec.target_table_id,
        mode=spec.mode,
        action=plan.action if outcome else "skip",
        window=window,
        rows=rows,
        bytes=stats.bytes,
        slices=stats.slices,
        source_job_id=str(export_job["id"]),
        target_job_ids=[str(job["id"]) for job in jobs],
        links=found,
        durations=clock.finish(),
        columns=plan.columns,
        primary_key=plan.primary_key,
        target_project_id=info.project_id,
        target_project_name=info.project_name,
        created=bool(outcome and outcome.created),
    )


class _Phases:
    """Wall time per phase of a copy."""

    def __init__(self) -> None:
        self._started = self._last = time.monotonic()
        self.durations: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.durations[phase] = round(now - self._last, 3)
        self._last = now

    def finish(self) -> dict[str, float]:
        self.durations["total"] = round(time.monotonic() - self._started, 3)
        return dict(self.durations)
