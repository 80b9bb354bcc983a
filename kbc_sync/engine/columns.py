"""New source columns for a typed target table: added before the load, removed if it fails.

Storage adds a load's new columns to a non-typed table by itself, but refuses them in a typed
table, where a column needs a type. Those are added first, each with the source's definition.
When the load that needed them then fails, they are removed again, so a failed copy leaves the
target table with the columns it had.
"""

from __future__ import annotations

import logging
from typing import Any

from kbc_sync.engine.jobs import run_job
from kbc_sync.engine.plan import CopyPlan
from kbc_sync.errors import CopyError, KbcSyncError

logger = logging.getLogger(__name__)


def add_typed_columns(target: Any, plan: CopyPlan, *, run_id: str) -> list[dict[str, Any]]:
    """Add the source's new columns to the typed target table, each with the source's type.

    The plan has already refused a non-typed source here (it has no type to give) and a NOT
    NULL column for a target with rows (its rows would have no value).

    Raises:
        CopyError: Storage refused a column; the ones added before it are removed again and
            nothing was loaded.
    """
    table_id = plan.spec.target_table_id
    definitions = {column["name"]: column for column in plan.source_table["definition"]["columns"]}
    jobs: list[dict[str, Any]] = []
    for index, name in enumerate(plan.new_columns):
        column = column_definition(definitions[name])
        try:
            jobs.append(
                run_job(
                    target,
                    lambda rid, column=column: target.start_add_column(
                        table_id,
                        column["name"],
                        definition=column.get("definition"),
                        basetype=column.get("basetype"),
                        run_id=rid,
                    ),
                    run_id=f"{run_id}-{index}",
                    operation="tableColumnAdd",
                    what=f"add column {name} to {table_id}",
                )
            )
        except KbcSyncError as exc:
            remove_added_columns(target, table_id, plan.new_columns[:index], exc, run_id=run_id)
            raise CopyError(
                f"Adding the new source column {name} to the typed table {table_id} failed, so "
                "nothing was loaded and the table keeps its columns. Fix the cause and run "
                "again, or set `mode: recreate` to create the target again with the source's "
                f"columns. Cause: {cause(exc)}",
                table=table_id,
            ) from exc
    logger.info("Added columns %s to the typed table %s", ", ".join(plan.new_columns), table_id)
    return jobs


def remove_added_columns(
    target: Any, table_id: str, names: list[str], failure: BaseException, *, run_id: str
) -> None:
    """Remove the columns this copy added to a table before its load failed.

    Raises:
        CopyError: a column could not be removed; the error names what is left and the fix.
    """
    for index, name in enumerate(names):
        try:
            run_job(
                target,
                lambda rid, name=name: target.start_delete_column(table_id, name, run_id=rid),
                run_id=f"{run_id}-undo-column-{index}",
                operation="tableColumnDelete",
                what=f"remove column {name} from {table_id}",
            )
        except KbcSyncError as exc:
            left = ", ".join(names[index:])
            raise CopyError(
                f"Loading {table_id} failed ({cause(failure)}), and removing the columns this "
                f"copy had added failed too ({exc}). The columns {left} are still in the table, "
                "empty: remove them in the Keboola UI, or leave them for the next copy, which "
                "fills them.",
                table=table_id,
            ) from failure
    if names:
        logger.info("Removed columns %s from %s again", ", ".join(names), table_id)


def column_definition(column: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of a table detail's column that `tables-definition` accepts."""
    # The detail adds `canBeFiltered` and others, which a create refuses.
    wanted = {"name": column["name"]}
    if column.get("definition"):
        wanted["definition"] = column["definition"]
    elif column.get("basetype"):
        wanted["basetype"] = column["basetype"]
    return wanted


def cause(failure: BaseException) -> str:
    """The text of an error, or its type's name when it has none."""
    return str(failure) or type(failure).__name__
