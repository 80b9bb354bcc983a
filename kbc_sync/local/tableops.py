"""Table operations on an open DuckDB transaction: create, columns, snapshots, descriptions.

`TableStore` opens the transaction and holds the write lock; these functions do the SQL and
the metadata bookkeeping, and raise `TableError` with Keboola's codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from kbc_sync.local import names, tablemeta, typedefs
from kbc_sync.local.csvio import sql_ident
from kbc_sync.local.tableerrors import TableError
from kbc_sync.local.tablemeta import TableMeta
from kbc_sync.local.timeparse import format_keboola_time, to_naive_utc


def create(
    cur: duckdb.DuckDBPyConnection,
    table_id: str,
    columns: Sequence[str] | None,
    primary_key: Sequence[str],
    definition: list[dict[str, Any]] | None,
    now: datetime,
) -> TableMeta:
    """Create an empty table (typed when a definition column has a type) and its metadata."""
    names.split_table_id(table_id)
    keys = list(primary_key)
    if definition is not None:
        columns = [str(column.get("name", "")) for column in definition]
    found = names.validate_column_names(columns or [])
    typed = None
    if definition is not None and typedefs.is_typed(definition):
        typed = typedefs.normalise(definition, keys)
    _check_primary_key(keys, found)
    check_free(cur, table_id)

    physical = tablemeta.new_physical(cur, "t")
    if typed:
        ddl = [typedefs.column_sql(column) for column in typed]
    else:
        ddl = [f"{sql_ident(name)} VARCHAR" for name in found]
    cur.execute(f"CREATE TABLE {physical} ({', '.join(ddl)}, _timestamp TIMESTAMP)")

    meta = TableMeta(table_id, physical, found, keys, typed, to_naive_utc(now))
    tablemeta.save_table(cur, meta)
    return meta


def check_free(cur: duckdb.DuckDBPyConnection, table_id: str) -> None:
    """Refuse a table id that is taken."""
    if tablemeta.load_table(cur, table_id) is not None:
        raise TableError(
            "storage.tables.alreadyExists",
            f'The table "{table_id}" already exists; drop it first or choose another name.',
        )


def require(cur: duckdb.DuckDBPyConnection, table_id: str) -> TableMeta:
    """The table's metadata, or 404 `storage.tables.notFound`."""
    meta = tablemeta.load_table(cur, table_id)
    if meta is None:
        raise TableError("storage.tables.notFound", f'The table "{table_id}" was not found.', 404)
    return meta


def require_snapshot(cur: duckdb.DuckDBPyConnection, snapshot_id: str) -> TableMeta:
    """The snapshot's metadata, or 404 `storage.snapshots.notFound`."""
    snap = tablemeta.load_snapshot(cur, snapshot_id)
    if snap is None:
        raise TableError(
            "storage.snapshots.notFound", f'Snapshot "{snapshot_id}" was not found.', 404
        )
    return snap


def add_column(
    cur: duckdb.DuckDBPyConnection,
    meta: TableMeta,
    name: str,
    definition: Mapping[str, Any] | None,
    basetype: str | None,
) -> TableMeta:
    """Add a column (typed tables need a type); existing rows keep their `_timestamp`."""
    names.validate_column_names([*meta.columns, name])
    if not meta.is_typed:
        column_sql = f"{sql_ident(name)} VARCHAR DEFAULT ''"
        typed = None
    else:
        column = _typed_column(meta, name, definition, basetype)
        column_sql = typedefs.column_sql(column)
        typed = [*(meta.definition or ()), column]

    cur.execute(f"ALTER TABLE {meta.physical} ADD COLUMN {column_sql}")
    meta = meta.with_changes(columns=[*meta.columns, name], definition=typed)
    tablemeta.save_table(cur, meta)
    return meta


def drop_column(cur: duckdb.DuckDBPyConnection, meta: TableMeta, name: str) -> TableMeta:
    """Remove a column that is neither a key column nor the table's only column."""
    if name not in meta.columns:
        raise TableError(
            "storage.tables.validation.columnNotExists",
            f'Column "{name}" is not in table {meta.table_id}.',
        )
    if name in meta.primary_key or len(meta.columns) == 1:
        raise TableError(
            "storage.tables.validation.cannotDeleteColumn",
            f'Column "{name}" cannot be removed: it is in the primary key or it is the '
            "table's only column.",
        )

    cur.execute(f"ALTER TABLE {meta.physical} DROP COLUMN {sql_ident(name)}")
    typed = [column for column in meta.definition or () if column.name != name]
    meta = meta.with_changes(
        columns=[column for column in meta.columns if column != name],
        definition=typed if meta.is_typed else None,
    )
    count, size = tablemeta.measure(cur, meta.physical, meta.columns)
    meta = meta.with_changes(rows_count=count, data_size=size)
    tablemeta.save_table(cur, meta)
    return meta


def snapshot(
    cur: duckdb.DuckDBPyConnection, meta: TableMeta, snapshot_id: str, now: datetime
) -> TableMeta:
    """Copy the table's rows (with `_timestamp`) and properties into a new snapshot."""
    if tablemeta.load_snapshot(cur, snapshot_id) is not None:
        raise TableError(
            "storage.snapshots.alreadyExists", f'Snapshot "{snapshot_id}" already exists.'
        )

    physical = tablemeta.new_physical(cur, "s")
    cur.execute(f"CREATE TABLE {physical} AS SELECT * FROM {meta.physical}")
    tablemeta.save_snapshot(cur, snapshot_id, meta, physical, to_naive_utc(now))
    return require_snapshot(cur, snapshot_id)


def restore(
    cur: duckdb.DuckDBPyConnection, snap: TableMeta, table_id: str, now: datetime
) -> TableMeta:
    """Create `table_id` from a snapshot: its rows, `_timestamp`s, columns, key, definition."""
    names.split_table_id(table_id)
    check_free(cur, table_id)

    physical = tablemeta.new_physical(cur, "t")
    cur.execute(f"CREATE TABLE {physical} AS SELECT * FROM {snap.physical}")
    moment = to_naive_utc(now)
    meta = snap.with_changes(
        table_id=table_id, physical=physical, created=moment, last_import=moment,
        last_change=moment,
    )  # fmt: skip
    tablemeta.save_table(cur, meta)
    return meta


def describe(meta: TableMeta) -> dict[str, Any]:
    """The table's fields as Storage reports them; `definition` for typed tables only."""
    fields: dict[str, Any] = {
        "id": meta.table_id,
        "name": meta.table_id.rsplit(".", 1)[1],
        "columns": list(meta.columns),
        "primaryKey": list(meta.primary_key),
        "rowsCount": meta.rows_count,
        "dataSizeBytes": meta.data_size,
        "created": format_keboola_time(meta.created),
        "lastImportDate": format_keboola_time(meta.last_import),
        "lastChangeDate": format_keboola_time(meta.last_change),
        "isTyped": meta.is_typed,
    }
    fields.update(_definition(meta))
    return fields


def describe_snapshot(snapshot_id: str, snap: TableMeta) -> dict[str, Any]:
    """A snapshot's id, time, `table {id, primaryKey, columns}`, size and definition."""
    fields: dict[str, Any] = {
        "id": snapshot_id,
        "createdTime": format_keboola_time(snap.created),
        "table": {"id": snap.table_id, "primaryKey": snap.primary_key, "columns": snap.columns},
        "rowsCount": snap.rows_count,
        "dataSizeBytes": snap.data_size,
        "isTyped": snap.is_typed,
    }
    fields.update(_definition(snap))
    return fields


def _definition(meta: TableMeta) -> dict[str, Any]:
    if meta.definition is None:
        return {}
    return {
        "definition": {
            "primaryKeysNames": list(meta.primary_key),
            "columns": [column.describe() for column in meta.definition],
        }
    }


def _typed_column(
    meta: TableMeta, name: str, definition: Mapping[str, Any] | None, basetype: str | None
) -> typedefs.TypedColumn:
    if not definition and not basetype:
        raise TableError(
            "storage.tables.validation.invalidDefinition",
            f'Table {meta.table_id} is typed: give column "{name}" a definition or basetype.',
        )

    spec = {"name": name, "definition": dict(definition or {}), "basetype": basetype}
    column = typedefs.normalise([spec], [])[0]
    if not column.nullable and meta.rows_count:
        raise TableError(
            "storage.tables.validation.invalidDefinition",
            f'Column "{name}" cannot be added as not nullable to a table with rows: existing '
            "rows would have no value. Add it as nullable.",
        )
    return column


def _check_primary_key(keys: list[str], columns: list[str]) -> None:
    unknown = [key for key in keys if key not in columns]
    if unknown or len(set(keys)) != len(keys):
        raise TableError(
            "storage.tables.validation.invalidPrimaryKeyColumns",
            f"Primary key columns {','.join(keys)} must be distinct columns of the table "
            f"({','.join(columns)}); not found: {','.join(unknown) or 'none'}.",
        )
