"""Write an uploaded sliced file into the target table: create, import, or recreate.

Exported slices carry no header, so every import names the columns (`columns`, which makes
Storage read the first line as data). A table that does not exist yet is created empty first
and then loaded by one import, so its rows are loaded once, never twice (Keboola's Storage writer
creates the table with the data and then imports the same data again). The empty table comes
from `tables-definition`: with the source's definition for a typed source, with bare column
names otherwise. If that first load fails, the new table is dropped again, so a failed copy
leaves the target bucket as it was.

New source columns of a typed target are added first (`kbc_sync.engine.columns`) and removed
again if the load fails.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from dataclasses import dataclass, field
from typing import Any

from kbc_sync.engine.columns import (
    add_typed_columns,
    cause,
    column_definition,
    remove_added_columns,
)
from kbc_sync.engine.jobs import run_job
from kbc_sync.engine.plan import CopyPlan
from kbc_sync.errors import ApiError, CopyError, KbcSyncError
from kbc_sync.storage.files import open_file_store

logger = logging.getLogger(__name__)

# How a backend without `tables-definition` may answer it (400 invalid request, 501 not
# supported); which one Keboola sends is not documented.
DEFINITION_UNSUPPORTED = frozenset({400, 501})


@dataclass
class LoadOutcome:
    """The Storage jobs a load ran, in order, and what they did.

    Attributes:
        jobs: every finished job of the load, in order.
        import_job: the import job, whose `results` describe the load.
        created: whether the target table was created by this load.
    """

    jobs: list[dict[str, Any]] = field(default_factory=list)
    import_job: dict[str, Any] | None = None
    created: bool = False


def load_file(
    target: Any, plan: CopyPlan, file_id: str, *, incremental: bool, run_id: str
) -> LoadOutcome:
    """Import the uploaded file into the target table, creating the table when it is missing.

    Args:
        target: the `StorageClient` of the target project.
        plan: the copy's plan (action `create` or `load`).
        file_id: the uploaded sliced file in the target project.
        incremental: True for `update` (upsert or append), False for a full load.
        run_id: the copy's run id; each step adds its own suffix.

    Returns:
        The jobs that ran.
    """
    outcome = LoadOutcome()
    if plan.action == "create":
        outcome.jobs.append(create_table(target, plan, run_id=f"{run_id}-create"))
        outcome.created = True
    elif plan.new_columns and plan.target_typed:
        outcome.jobs.extend(add_typed_columns(target, plan, run_id=f"{run_id}-add-column"))

    try:
        outcome.import_job = import_file(
            target, plan, file_id, incremental=incremental, run_id=f"{run_id}-import"
        )
    except BaseException as exc:
        if outcome.created:
            _remove_new_table(target, plan.spec.target_table_id, exc, run_id=run_id)
        elif plan.new_columns and plan.target_typed:
            remove_added_columns(
                target, plan.spec.target_table_id, plan.new_columns, exc, run_id=run_id
            )
        raise
    outcome.jobs.append(outcome.import_job)
    return outcome


def _remove_new_table(target: Any, table_id: str, failure: BaseException, *, run_id: str) -> None:
    """Drop a table this copy created when its first load failed: the target was without it."""
    try:
        _drop(target, table_id, run_id=f"{run_id}-undo-create")
    except KbcSyncError as exc:
        raise CopyError(
            f"Loading the new table {table_id} failed ({cause(failure)}), and dropping the "
            f"empty table again failed too ({exc}). Drop {table_id} in the Keboola UI or leave "
            "it for the next copy, which loads it.",
            table=table_id,
        ) from failure
    logger.info("Dropped %s again, which this copy had created before its load failed", table_id)


def create_table(target: Any, plan: CopyPlan, *, run_id: str) -> dict[str, Any]:
    """Create the target table empty, with the source's columns, key and (if typed) types.

    `tables-definition` creates a table from its column list alone: typed when the columns
    carry types, non-typed when they are bare names. Storage offers it on Snowflake and
    BigQuery projects only, so for a non-typed table another backend's refusal falls back to
    `tables-async` from a one-line header file.
    """
    spec = plan.spec
    if plan.typed:
        columns = [column_definition(c) for c in plan.source_table["definition"]["columns"]]
    else:
        columns = [{"name": name} for name in plan.columns]
    try:
        return run_job(
            target,
            lambda rid: target.start_create_table_definition(
                spec.target_bucket_id,
                spec.destination,
                primary_key=plan.primary_key,
                columns=columns,
                run_id=rid,
            ),
            run_id=run_id,
            operation="tableDefinitionCreate",
            what=f"create {'typed ' if plan.typed else ''}table {spec.target_table_id}",
        )
    except ApiError as exc:
        if plan.typed or exc.status not in DEFINITION_UNSUPPORTED:
            raise
        logger.warning(
            "tables-definition refused (%s); creating %s from a header file instead",
            exc.status,
            spec.target_table_id,
        )

    header_file_id = _upload_header(target, plan)
    return run_job(
        target,
        lambda rid: target.start_create_table(
            spec.target_bucket_id,
            spec.destination,
            header_file_id,
            primary_key=plan.primary_key,
            run_id=rid,
        ),
        run_id=f"{run_id}-from-header",
        operation="tableCreate",
        what=f"create table {spec.target_table_id} from a header file",
    )


def import_file(
    target: Any, plan: CopyPlan, file_id: str, *, incremental: bool, run_id: str
) -> dict[str, Any]:
    """Run one `import-async` of the headerless sliced file into the target table."""
    table_id = plan.spec.target_table_id
    return run_job(
        target,
        lambda rid: target.start_import(
            table_id, file_id, incremental=incremental, columns=plan.columns, run_id=rid
        ),
        run_id=run_id,
        operation="tableImport",
        what=f"{'incremental' if incremental else 'full'} import into {table_id}",
    )


def recreate(target: Any, plan: CopyPlan, file_id: str, *, run_id: str) -> LoadOutcome:
    """Drop the target table and create it again from the source, keeping a way back.

    The table is snapshotted first. If the drop, create or import fails, the table is created
    again from the snapshot and the error says so; the snapshot is deleted after success.

    Raises:
        CopyError: the recreate failed; `restored` tells whether the old table is back.
    """
    table_id = plan.spec.target_table_id
    outcome = LoadOutcome(created=True)
    try:
        snapshot_job = run_job(
            target,
            lambda rid: target.start_snapshot(
                table_id, description=f"kbc-sync recreate {rid}", run_id=rid
            ),
            run_id=f"{run_id}-snapshot",
            operation="tableSnapshotCreate",
            what=f"snapshot of {table_id} before recreate",
        )
    except KbcSyncError as exc:
        # Without a snapshot there is no way back, so the table is not dropped.
        raise CopyError(
            f"Recreating {table_id} stopped before any change: the snapshot that keeps its data "
            "during the recreate failed, so the table was not dropped and is unchanged. Fix the "
            f"cause and run again. Cause: {cause(exc)}",
            table=table_id,
        ) from exc
    outcome.jobs.append(snapshot_job)
    snapshot_id = _snapshot_id(snapshot_job)

    dropped = False
    try:
        outcome.jobs.append(_drop(target, table_id, run_id=f"{run_id}-drop"))
        dropped = True
        outcome.jobs.append(create_table(target, plan, run_id=f"{run_id}-create"))
        outcome.import_job = import_file(
            target, plan, file_id, incremental=False, run_id=f"{run_id}-import"
        )
        outcome.jobs.append(outcome.import_job)
    except BaseException as exc:
        # Whatever stopped the recreate (an error, or the run being cancelled after the drop),
        # the old table must come back before the copy gives up.
        error = _restore(target, plan, snapshot_id, exc, dropped=dropped, run_id=run_id)
        if isinstance(exc, Exception):
            raise error from exc
        logger.warning("%s", error)
        raise

    _delete_snapshot(target, snapshot_id)
    return outcome


def _restore(
    target: Any,
    plan: CopyPlan,
    snapshot_id: str,
    failure: BaseException,
    *,
    dropped: bool,
    run_id: str,
) -> CopyError:
    """Put the snapshotted table back and return the error that tells what happened."""
    spec = plan.spec
    table_id = spec.target_table_id
    if not dropped and target.find_table(table_id) is not None:
        _delete_snapshot(target, snapshot_id)
        return CopyError(
            f"Recreating {table_id} failed before the old table was dropped; it is unchanged. "
            f"Cause: {cause(failure)}",
            table=table_id,
        )

    logger.warning("Recreate of %s failed; restoring it from snapshot %s", table_id, snapshot_id)
    try:
        if target.find_table(table_id) is not None:
            _drop(target, table_id, run_id=f"{run_id}-restore-drop")
        run_job(
            target,
            lambda rid: target.start_create_table_from_snapshot(
                spec.target_bucket_id, spec.destination, snapshot_id, run_id=rid
            ),
            run_id=f"{run_id}-restore",
            operation="tableCreate",
            what=f"restore {table_id} from snapshot {snapshot_id}",
        )
    except KbcSyncError as restore_error:
        return CopyError(
            f"Recreating {table_id} failed and restoring its previous data failed too; the old "
            f"data is kept in snapshot {snapshot_id}. To get it back, drop {table_id} if it "
            f"exists, then create it from the snapshot: POST {target.url}/v2/storage/buckets/"
            f'{spec.target_bucket_id}/tables-async with {{"name": "{spec.destination}", '
            f'"snapshotId": "{snapshot_id}"}}, then run the copy again. Cause: '
            f"{cause(failure)} Restore error: {restore_error}",
            table=table_id,
        )

    _delete_snapshot(target, snapshot_id)
    return CopyError(
        f"Recreating {table_id} failed, so the previous table was restored from a snapshot "
        f"taken before the drop; the target holds its old data. Fix the cause and run again. "
        f"Cause: {cause(failure)}",
        table=table_id,
        restored=True,
    )


def _drop(target: Any, table_id: str, *, run_id: str) -> dict[str, Any]:
    return run_job(
        target,
        lambda rid: target.start_delete_table(table_id, run_id=rid),
        run_id=run_id,
        operation="tableDrop",
        what=f"drop {table_id}",
    )


def _delete_snapshot(target: Any, snapshot_id: str) -> None:
    # A leftover snapshot costs storage but loses nothing, so a failure here must not fail a
    # copy that has already written its data.
    try:
        target.delete_snapshot(snapshot_id)
    except KbcSyncError as exc:
        logger.warning("Could not delete snapshot %s; delete it in the UI: %s", snapshot_id, exc)


def _snapshot_id(job: dict[str, Any]) -> str:
    results = job.get("results")
    if isinstance(results, dict) and results.get("id") is not None:
        return str(results["id"])
    raise CopyError(
        f"Storage job {job.get('id')} created a snapshot but did not report its id; the target "
        "table was not touched. Run again; if it repeats, use mode replace meanwhile.",
        table=str(job.get("tableId") or ""),
    )


def _upload_header(target: Any, plan: CopyPlan) -> str:
    """Upload a gzipped one-line CSV holding the source's column names; return its file id."""
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(plan.columns)
    body = gzip.compress(text.getvalue().encode("utf-8"))

    prepared = target.prepare_file(
        f"{plan.spec.destination}.header.csv.gz", sliced=True, tags=("kbc-sync",)
    )
    store = open_file_store(prepared)
    store.upload_slice(prepared, "part00000.csv.gz", io.BytesIO(body))
    store.write_manifest(prepared, ["part00000.csv.gz"])
    return str(prepared["id"])
