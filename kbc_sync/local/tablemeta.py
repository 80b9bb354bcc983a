"""Table and snapshot metadata, kept in the project's DuckDB database beside the data.

Each Keboola table lives in a physical DuckDB table named `t_<n>` (snapshots in `s_<n>`), so
table ids with dots and dashes never reach SQL as identifiers. The metadata row holds what
`describe` reports and is written in the same transaction as the data it describes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from duckdb import DuckDBPyConnection as Connection

from kbc_sync.local import typedefs
from kbc_sync.local.csvio import sql_ident

# DuckDB's buffer pool per project database. Beyond it, tables (also in-memory ones) and
# intermediate results spill to the temporary directory, so this caps the memory a load or an
# export takes whatever the table's size. 128 MB is already full at 1M rows x 10 columns, so
# 1M and 5M rows take the same memory (benchmarks/local_stack.py), and 1M rows still move in a
# few seconds each way; 256 MB left room that a 5M-row table filled and a 1M-row one did not.
MEMORY_LIMIT = "128MB"

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS kbc_physical_seq;
CREATE TABLE IF NOT EXISTS kbc_tables (
    table_id VARCHAR, physical VARCHAR, columns VARCHAR, primary_key VARCHAR,
    definition VARCHAR, created TIMESTAMP, last_import TIMESTAMP, last_change TIMESTAMP,
    rows_count BIGINT, data_size BIGINT
);
CREATE TABLE IF NOT EXISTS kbc_snapshots (
    snapshot_id VARCHAR, table_id VARCHAR, physical VARCHAR, columns VARCHAR,
    primary_key VARCHAR, definition VARCHAR, created TIMESTAMP, rows_count BIGINT,
    data_size BIGINT
);
"""
_FIELDS = (
    "table_id, physical, columns, primary_key, definition, created, last_import, last_change, "
    "rows_count, data_size"
)


@dataclass(frozen=True)
class TableMeta:
    """What the store knows about one table; times are naive UTC."""

    table_id: str
    physical: str
    columns: list[str]
    primary_key: list[str]
    definition: list[typedefs.TypedColumn] | None
    created: datetime
    last_import: datetime | None = None
    last_change: datetime | None = None
    rows_count: int = 0
    data_size: int = 0
    typed_by_name: dict[str, typedefs.TypedColumn] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        index = {column.name: column for column in self.definition or ()}
        object.__setattr__(self, "typed_by_name", index)

    @property
    def is_typed(self) -> bool:
        """Whether the table has native types (a `definition`)."""
        return self.definition is not None

    def with_changes(self, **changes: Any) -> TableMeta:
        """A copy with some fields replaced (the index of typed columns is rebuilt)."""
        return replace(self, **changes)


def connect(path: Path | None, memory_limit: str, threads: int, temp_dir: Path) -> Connection:
    """Open (or create) a project database with bounded memory, and its metadata tables."""
    config = {
        "memory_limit": memory_limit,
        "threads": threads,
        "temp_directory": str(temp_dir),
        # Row order inside a table does not matter (Keboola exports in random order);
        # letting DuckDB drop it keeps COPY and CTAS streaming with flat memory.
        "preserve_insertion_order": False,
        # The stack trades disk for speed: compressing row groups made a file-backed load
        # of 1M rows x 10 columns about 2.5x slower here.
        "force_compression": "uncompressed",
    }
    db = duckdb.connect(str(path) if path else ":memory:", config=config)
    db.execute(SCHEMA)
    return db


def load_table(cur: Connection, table_id: str) -> TableMeta | None:
    """The metadata of one table, or None when there is no such table."""
    row = cur.execute(f"SELECT {_FIELDS} FROM kbc_tables WHERE table_id = ?", [table_id]).fetchone()
    return _from_row(row) if row else None


def list_tables(cur: Connection, bucket_prefix: str) -> list[TableMeta]:
    """All tables whose id starts with `bucket_prefix`, ordered by id."""
    rows = cur.execute(
        f"SELECT {_FIELDS} FROM kbc_tables WHERE starts_with(table_id, ?) ORDER BY table_id",
        [bucket_prefix],
    ).fetchall()
    return [_from_row(row) for row in rows]


def save_table(cur: Connection, meta: TableMeta) -> None:
    """Insert or replace the metadata row of a table."""
    cur.execute("DELETE FROM kbc_tables WHERE table_id = ?", [meta.table_id])
    cur.execute(
        f"INSERT INTO kbc_tables ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            meta.table_id, meta.physical, json.dumps(meta.columns),
            json.dumps(meta.primary_key), _definition_json(meta.definition), meta.created,
            meta.last_import, meta.last_change, meta.rows_count, meta.data_size,
        ],
    )  # fmt: skip


def delete_table(cur: Connection, table_id: str) -> None:
    """Remove the metadata row of a table."""
    cur.execute("DELETE FROM kbc_tables WHERE table_id = ?", [table_id])


def new_physical(cur: Connection, prefix: str) -> str:
    """A fresh physical table name such as `t_12`."""
    number = cur.execute("SELECT nextval('kbc_physical_seq')").fetchone()[0]
    return f"{prefix}_{number}"


def measure(cur: Connection, physical: str, columns: list[str]) -> tuple[int, int]:
    """Rows and bytes of text held by a physical table (the stand-in for `dataSizeBytes`)."""
    sizes = " + ".join(
        f"coalesce(strlen(CAST({sql_ident(name)} AS VARCHAR)), 0)" for name in columns
    )
    rows, size = cur.execute(
        f"SELECT count(*), coalesce(sum({sizes}), 0) FROM {physical}"
    ).fetchone()
    return int(rows), int(size)


def save_snapshot(cur: Connection, snapshot_id: str, meta: TableMeta,
                  physical: str, created: datetime) -> None:  # fmt: skip
    """Record a snapshot of `meta` whose data was copied to `physical`."""
    cur.execute(
        "INSERT INTO kbc_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            snapshot_id, meta.table_id, physical, json.dumps(meta.columns),
            json.dumps(meta.primary_key), _definition_json(meta.definition), created,
            meta.rows_count, meta.data_size,
        ],
    )  # fmt: skip


def load_snapshot(cur: Connection, snapshot_id: str) -> TableMeta | None:
    """A snapshot as table metadata (`table_id` is the snapshotted table, `created` its time)."""
    row = cur.execute(
        "SELECT table_id, physical, columns, primary_key, definition, created, NULL, NULL, "
        "rows_count, data_size FROM kbc_snapshots WHERE snapshot_id = ?",
        [snapshot_id],
    ).fetchone()
    return _from_row(row) if row else None


def delete_snapshot(cur: Connection, snapshot_id: str) -> None:
    """Remove the metadata row of a snapshot."""
    cur.execute("DELETE FROM kbc_snapshots WHERE snapshot_id = ?", [snapshot_id])


def _definition_json(definition: list[typedefs.TypedColumn] | None) -> str | None:
    if definition is None:
        return None
    return json.dumps([column.to_json() for column in definition])


def _from_row(row: tuple[Any, ...]) -> TableMeta:
    table_id, physical, columns, primary_key, definition, *rest = row
    keys = json.loads(primary_key)
    typed = typedefs.normalise(json.loads(definition), keys) if definition else None
    created, last_import, last_change, rows_count, data_size = rest
    return TableMeta(
        table_id, physical, json.loads(columns), keys, typed, created, last_import,
        last_change, int(rows_count), int(data_size),
    )  # fmt: skip
