"""Rows of the configuration and the translator that turns each into an `AssetSpec`.

Keys come from the configuration alone (never from an API call), so the asset graph loads without
network access and stays the same from one load to the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg

if TYPE_CHECKING:
    from kbc_sync.config import TableConfig, TargetConfig

RowKind = Literal["window", "adaptive", "full"]

_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]")


def slug(text: str) -> str:
    """Return `text` as a Dagster name: letters, digits and underscores only."""
    return _NOT_A_NAME.sub("_", text)


@dataclass(frozen=True)
class CopyRow:
    """One configured table copy: a target and one of its table rows.

    Attributes:
        target: the target (project, bucket, token) the row belongs to.
        table: the row itself.
        index: the row's position in the target's `tables` list, for messages.
    """

    target: TargetConfig
    table: TableConfig
    index: int

    @property
    def kind(self) -> RowKind:
        """`window` for a time window, `adaptive`, or `full` for the whole table."""
        window = self.table.changed_in_last
        if window is None:
            return "full"
        return "adaptive" if window == "adaptive" else "window"

    @property
    def window(self) -> Any:
        """The window cadence of a windowed row, None for the others."""
        return self.table.changed_in_last if self.kind == "window" else None

    @property
    def start(self) -> datetime | None:
        """The row's `start` as an aware UTC datetime (a naive value is read as UTC)."""
        start = self.table.start
        if start is None:
            return None
        if not isinstance(start, datetime):
            start = datetime(start.year, start.month, start.day)
        return start if start.tzinfo else start.replace(tzinfo=UTC)

    @property
    def source_bucket(self) -> str:
        """The source table's bucket id."""
        return self.table.source.rpartition(".")[0]

    @property
    def target_table_id(self) -> str:
        """The full id of the table this row writes."""
        return f"{self.target.bucket}.{self.table.destination}"

    @property
    def label(self) -> str:
        """How messages name the row: target, position and destination."""
        return f"target {self.target.name!r}, table #{self.index + 1} ({self.table.destination})"


def source_asset_key(table_id: str) -> dg.AssetKey:
    """Key of the external asset standing for a source table: `keboola_source/<bucket>/<table>`."""
    bucket, _, name = table_id.rpartition(".")
    return dg.AssetKey(["keboola_source", bucket, name])


class KbcSyncTranslator:
    """Maps a configured row to the `AssetSpec` of its copy.

    Subclass it and override `get_asset_spec` to change keys, groups or owners, for example:

    .. code-block:: python

        class Prefixed(KbcSyncTranslator):
            def get_asset_spec(self, row: CopyRow) -> dg.AssetSpec:
                spec = super().get_asset_spec(row)
                return spec.replace_attributes(key=spec.key.with_prefix("prod"))
    """

    def get_asset_spec(self, row: CopyRow) -> dg.AssetSpec:
        """Return the spec of the asset that copies `row`.

        The key is `keboola/<target name>/<destination>`: unique because a target's
        destinations are unique, and readable in the UI next to its source table.
        """
        table = row.table
        window = {"full": "whole table", "adaptive": "adaptive (changes since the last copy)"}
        window_text = window.get(row.kind) or f"changed in windows of {row.window}"
        description = (
            f"Copies {table.source} → {row.target_table_id} in target '{row.target.name}'; "
            f"mode {table.mode}; {window_text}."
        )
        return dg.AssetSpec(
            key=dg.AssetKey(["keboola", row.target.name, table.destination]),
            deps=[source_asset_key(table.source)],
            description=description,
            group_name=slug(row.target.name),
            kinds={"keboola"},
            metadata={
                "kbc_sync/source_table": table.source,
                "kbc_sync/target_table": row.target_table_id,
                "kbc_sync/mode": table.mode,
                "kbc_sync/window": window_text,
            },
        )
