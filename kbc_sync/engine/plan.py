"""What a copy would do now: create, load or recreate, and whether keys and columns allow it.

The checks here run before anything is exported or written, so a copy that cannot succeed stops
with the target untouched. The rules follow Storage's import semantics: a load must carry every
column of the target table and may bring new ones. Storage adds those to a non-typed table
itself; a typed table takes a column only with a type, so the load adds them first with the
source's definition, and a source without types cannot bring any. The primary keys must be
the same, in the same order, as Keboola's Storage writer requires; it checks them in `replace`
mode too, since a full load under another key would silently merge rows the source keeps apart.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from kbc_sync.engine.spec import CopySpec
from kbc_sync.errors import CopyError, NotFoundError

logger = logging.getLogger(__name__)

Action = Literal["create", "load", "recreate"]


@dataclass(frozen=True)
class CopyPlan:
    """What copying one table would do now.

    Attributes:
        spec: the copy this plan is for.
        action: `create` (target missing), `load` (import into the existing table) or
            `recreate` (drop the existing table and create it again).
        problems: why the copy cannot run as configured, each with its fix; empty when it can.
        key_match: whether the target's primary key equals the source's; None without a target.
        columns_missing_in_source: target columns the source lacks (a load would fail).
        new_columns: source columns the target lacks (the load adds them).
        source_table: the source table's detail as Storage sent it.
        target_table: the target table's detail, or None when it does not exist.
    """

    spec: CopySpec
    action: Action
    problems: list[str] = field(default_factory=list)
    key_match: bool | None = None
    columns_missing_in_source: list[str] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    source_table: dict[str, Any] = field(default_factory=dict)
    target_table: dict[str, Any] | None = None

    @property
    def columns(self) -> list[str]:
        """The source table's columns, in order."""
        return list(self.source_table.get("columns") or [])

    @property
    def primary_key(self) -> list[str]:
        """The source table's primary key."""
        return list(self.source_table.get("primaryKey") or [])

    @property
    def typed(self) -> bool:
        """Whether the source table has native data types."""
        return _is_typed(self.source_table)

    @property
    def target_typed(self) -> bool:
        """Whether the target table exists and has native data types."""
        return self.target_table is not None and _is_typed(self.target_table)


def _is_typed(table: dict[str, Any]) -> bool:
    return bool(table.get("isTyped") and table.get("definition"))


def plan_copy(spec: CopySpec, *, source: Any, target: Any) -> CopyPlan:
    """Read both tables and decide what copying `spec` would do now.

    Args:
        spec: the configured copy.
        source: the `StorageClient` of the source project.
        target: the `StorageClient` of the target project.

    Returns:
        The plan; `problems` lists what stops the copy.

    Raises:
        CopyError: the source table does not exist.
    """
    try:
        source_table = source.get_table(spec.source_table_id)
    except NotFoundError as exc:
        raise CopyError(
            f"The source table {spec.source_table_id} does not exist or the source token may "
            "not read it. Check the table id in the configuration and the token's access.",
            table=spec.target_table_id,
        ) from exc
    target_table = target.find_table(spec.target_table_id)

    if target_table is None:
        return CopyPlan(spec, "create", source_table=source_table)
    if spec.mode == "recreate":
        return CopyPlan(spec, "recreate", source_table=source_table, target_table=target_table)
    return _plan_load(spec, source_table, target_table)


def _plan_load(
    spec: CopySpec, source_table: dict[str, Any], target_table: dict[str, Any]
) -> CopyPlan:
    source_columns = list(source_table.get("columns") or [])
    target_columns = list(target_table.get("columns") or [])
    source_key = list(source_table.get("primaryKey") or [])
    target_key = list(target_table.get("primaryKey") or [])
    missing = [name for name in target_columns if name not in source_columns]
    new = [name for name in source_columns if name not in target_columns]
    problems: list[str] = []

    if source_key != target_key:
        problems.append(
            f"The primary key of the target table {spec.target_table_id} is "
            f"{json.dumps(target_key)} but the source table {spec.source_table_id} has "
            f"{json.dumps(source_key)}; mode {spec.mode} needs the same key. Fix: set "
            "`mode: recreate` for this table (the target is dropped and created again with the "
            "source's key), or change the primary key of one of the tables in the Keboola UI."
        )
    if missing:
        problems.append(
            f"The target table {spec.target_table_id} has columns the source table "
            f"{spec.source_table_id} lacks: {', '.join(missing)}. Storage refuses a load without "
            "them. Fix: set `mode: recreate` for this table (the target takes the source's "
            "columns), or delete those columns from the target table in the Keboola UI."
        )
    if new and _is_typed(target_table):
        problems.extend(_typed_target_problems(spec, source_table, target_table, new))
    return CopyPlan(
        spec,
        "load",
        problems=problems,
        key_match=source_key == target_key,
        columns_missing_in_source=missing,
        new_columns=new,
        source_table=source_table,
        target_table=target_table,
    )


def _typed_target_problems(
    spec: CopySpec, source_table: dict[str, Any], target_table: dict[str, Any], new: list[str]
) -> list[str]:
    """Why the source's new columns cannot be added to the typed target table, if they cannot."""
    names = ", ".join(new)
    if not _is_typed(source_table):
        # A typed column needs a type and a non-typed source has none to give. A guessed one
        # (say VARCHAR) would be fixed for good, since types cannot change after creation, so
        # the copy stops and the user chooses.
        return [
            f"The target table {spec.target_table_id} is typed but the source table "
            f"{spec.source_table_id} is not, and the source has columns the target lacks: "
            f"{names}. Storage adds a column to a typed table only with a data type, and "
            "kbc_sync does not guess one. Fix: add these columns to the target table in the "
            "Keboola UI with the types you want, or set `mode: recreate` for this table (the "
            "target is created again, non-typed like the source)."
        ]

    definitions = {
        column.get("name"): column.get("definition") or {}
        for column in source_table["definition"].get("columns") or []
    }
    required = [name for name in new if definitions.get(name, {}).get("nullable") is False]
    if required and int(target_table.get("rowsCount") or 0) > 0:
        return [
            f"The source table {spec.source_table_id} has new NOT NULL columns "
            f"{', '.join(required)}; added to the typed target table {spec.target_table_id}, "
            "they would leave its existing rows without a value, which Storage refuses. Fix: set "
            "`mode: recreate` for this table, or make these columns nullable in the source."
        ]
    return []


def check_plan(plan: CopyPlan) -> None:
    """Raise the plan's problems as one `CopyError`, before anything is written."""
    if plan.problems:
        raise CopyError(" ".join(plan.problems), table=plan.spec.target_table_id)
