"""Loading CSV files into a table, with Keboola's import semantics.

- A full load (`incremental=false`) empties the table, then loads; every row gets a new
  `_timestamp`.
- An incremental load with a primary key upserts: new keys are inserted, rows whose values
  differ are updated, identical rows keep their values and their `_timestamp`. On typed tables
  every row whose key comes again is updated and re-stamped, as only the key is compared.
- An incremental load without a primary key appends every row.
- Duplicate keys inside one load keep one row (which one is not defined, as in Keboola).
- The CSV must hold every column of the table; extra CSV columns are added to a non-typed
  table. A typed table gets new columns only through the add-column call with a type: a load
  that brings a column the definition lacks fails (Keboola documents nothing for this case, so
  the stricter choice is made).

All of it is SQL inside one transaction of the caller: a load that fails leaves the table, its
columns and its metadata as they were. No row passes through Python.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from kbc_sync.local import csvio, names, tablemeta, timeparse, typedefs
from kbc_sync.local.csvio import sql_ident
from kbc_sync.local.tableerrors import LoadFailed, TableError
from kbc_sync.local.tablemeta import TableMeta

logger = logging.getLogger(__name__)

_STAGE = "kbc_stage"


@dataclass(frozen=True)
class LoadResult:
    """What an import job reports (`importedColumns`, `warnings`, `totalDataSizeBytes`)."""

    imported_columns: list[str]
    warnings: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    total_data_size_bytes: int = 0
    changed: bool = False


@dataclass(frozen=True)
class LoadRequest:
    """The files of one load and how to read them."""

    files: Sequence[Path]
    incremental: bool
    has_header: bool = True
    columns: Sequence[str] | None = None
    dialect: csvio.Dialect = field(default_factory=csvio.Dialect)
    sliced: bool | None = None


def csv_columns(request: LoadRequest, table_columns: Sequence[str] | None) -> list[str]:
    """The columns the files hold, from `columns`, the header, or the table's order.

    Raises:
        LoadFailed: several slices without `columns`, an unreadable header or bad names.
    """
    request.dialect.check()
    sliced = request.sliced if request.sliced is not None else len(request.files) > 1
    if request.columns is not None:
        found = list(request.columns)
    elif not request.has_header and table_columns is not None:
        found = list(table_columns)
    elif sliced or not request.files:
        raise LoadFailed(
            "csvImport.columnsNotSet",
            "The data file is sliced, and slices have no header: list the columns of the "
            "slices in the import's `columns` parameter.",
        )
    else:
        found = csvio.read_header(request.files[0], request.dialect)

    try:
        return names.validate_column_names(found)
    except TableError as exc:
        raise LoadFailed(exc.code, exc.message) from exc


def run_load(
    cur: duckdb.DuckDBPyConnection, meta: TableMeta, request: LoadRequest, now: datetime
) -> tuple[TableMeta, LoadResult]:
    """Load the files into the table inside the caller's transaction.

    Returns:
        The table's new metadata (not yet saved) and the load's result.

    Raises:
        LoadFailed: missing or unexpected columns, unreadable CSV, values that do not fit.
    """
    now = timeparse.to_naive_utc(now)
    columns = csv_columns(request, meta.columns)
    _check_columns(meta, columns)
    added = [name for name in columns if name not in meta.columns]
    for name in added:
        cur.execute(f"ALTER TABLE {meta.physical} ADD COLUMN {sql_ident(name)} VARCHAR DEFAULT ''")
    meta = meta.with_changes(columns=[*meta.columns, *added])
    source = _source_sql(request, columns)

    if not meta.primary_key and not meta.is_typed:
        # Nothing to check or fold: rows go straight from the files into the table.
        with _reading_csv(len(columns)):
            rows, changed = _append(cur, meta, source, incremental=request.incremental, now=now)
    else:
        rows = _stage(cur, source, len(columns))
        if meta.is_typed:
            _check_values(cur, meta)
        if meta.primary_key:
            _fold_duplicate_keys(cur, meta.primary_key)
        changed = _apply(cur, meta, incremental=request.incremental, now=now)
        cur.execute(f"DROP TABLE {_STAGE}")

    count, size = tablemeta.measure(cur, meta.physical, meta.columns)
    meta = meta.with_changes(
        last_import=now,
        last_change=now if changed else meta.last_change,
        rows_count=count,
        data_size=size,
    )
    return meta, LoadResult(columns, [], rows, size, changed)


def _check_columns(meta: TableMeta, columns: list[str]) -> None:
    missing = [name for name in meta.columns if name not in columns]
    if missing:
        raise LoadFailed(
            "csvImport.columnsNotMatch",
            f"Some columns are missing in the csv file. Missing columns: {','.join(missing)}. "
            f"Expected columns: {','.join(meta.columns)}.",
            {"missingColumns": missing, "expectedColumns": list(meta.columns)},
        )

    extra = [name for name in columns if name not in meta.columns]
    clashing = [name for name in extra if name.lower() in {c.lower() for c in meta.columns}]
    if clashing:
        raise LoadFailed(
            "storage.tables.validation.duplicateColumns",
            f"Columns {','.join(clashing)} differ from table columns only in letter case "
            "(column names are case-insensitive): rename them in the csv file.",
        )

    if extra and meta.is_typed:
        raise LoadFailed(
            "csvImport.columnsNotMatch",
            f"Some columns of the csv file are not in the typed table: {','.join(extra)}. "
            f"Expected columns: {','.join(meta.columns)}. Add them first with a type "
            "(POST tables/{id}/columns), or leave them out of the file.",
            {"extraColumns": extra, "expectedColumns": list(meta.columns)},
        )


def _source_sql(request: LoadRequest, columns: list[str]) -> str:
    header = request.has_header and request.columns is None
    files = [path for path in request.files if not csvio.is_empty(path)]
    if not files:
        nulls = ", ".join(f"NULL::VARCHAR AS {sql_ident(name)}" for name in columns)
        return f"SELECT {nulls} WHERE false"

    # Slices may mix plain and gzipped files; read_csv takes one compression per call.
    groups: dict[bool, list[Path]] = {}
    for path in files:
        groups.setdefault(csvio.is_gzip(path), []).append(path)
    reads = [csvio.read_csv_sql(group, columns, request.dialect, header=header)
             for group in groups.values()]  # fmt: skip
    return " UNION ALL ".join(f"SELECT * FROM {read}" for read in reads)


@contextmanager
def _reading_csv(columns: int) -> Iterator[None]:
    try:
        yield
    except duckdb.InvalidInputException as exc:
        # DuckDB's message: "CSV Error on Line: N", the offending line, then the reason.
        lines = [line.strip() for line in str(exc).splitlines()]
        where = lines[0].removeprefix("Invalid Input Error: ")
        reason = next((line for line in lines[2:] if line and not line.startswith("Possible")), "")
        raise LoadFailed(
            "csvImport.invalidCsv",
            f"The csv file is not valid: {where}: {reason} Check the delimiter, the enclosure, "
            f"the encoding (UTF-8) and that every row has {columns} columns.",
        ) from exc


def _stage(cur: duckdb.DuckDBPyConnection, source: str, width: int) -> int:
    with _reading_csv(width):
        cur.execute(f"CREATE TEMP TABLE {_STAGE} AS {source}")
    return int(cur.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()[0])


def _check_values(cur: duckdb.DuckDBPyConnection, meta: TableMeta) -> None:
    probes: list[tuple[typedefs.TypedColumn, str]] = []
    parts = []
    for column in meta.definition or ():
        value = sql_ident(column.name)
        if not column.nullable:
            probes.append((column, "null"))
            parts += [f"count_if({value} = '')", "NULL"]
        bad = f"{value} <> '' AND {typedefs.check_sql(column, value)}"
        probes.append((column, "type"))
        parts += [f"count_if({bad})", f"min(CASE WHEN {bad} THEN {value} END)"]

    found = cur.execute(f"SELECT {', '.join(parts)} FROM {_STAGE}").fetchone()
    for index, (column, kind) in enumerate(probes):
        count, sample = found[2 * index], found[2 * index + 1]
        if count and kind == "null":
            raise LoadFailed(
                "csvImport.invalidValues",
                f'Column "{column.name}" is not nullable, but {count} rows have an empty '
                "value in it. Fill the values, or make the column nullable.",
                {"column": column.name},
            )
        if count:
            raise LoadFailed(
                "csvImport.invalidValues",
                f'{count} values of column "{column.name}" do not fit its type '
                f'{column.label()}, e.g. "{sample}". Typed tables convert nothing: fix the '
                "values or the column type.",
                {"column": column.name},
            )


def _fold_duplicate_keys(cur: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    # Most loads carry each key once; a narrow count finds out before any wide work.
    key_sql = ", ".join(sql_ident(key) for key in keys)
    duplicates = cur.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {_STAGE} GROUP BY {key_sql} HAVING count(*) > 1)"
    ).fetchone()[0]
    if not duplicates:
        return

    match = " AND ".join(f"s.{sql_ident(key)} = d.{sql_ident(key)}" for key in keys)
    cur.execute(
        f"DELETE FROM {_STAGE} AS s USING (SELECT {key_sql}, min(rowid) AS keep FROM {_STAGE} "
        f"GROUP BY {key_sql} HAVING count(*) > 1) AS d WHERE {match} AND s.rowid <> d.keep"
    )


def _append(
    cur: duckdb.DuckDBPyConnection, meta: TableMeta, source: str, *, incremental: bool,
    now: datetime,
) -> tuple[int, bool]:  # fmt: skip
    deleted = 0 if incremental else _count(cur.execute(f"DELETE FROM {meta.physical}"))
    names_sql = ", ".join(sql_ident(name) for name in meta.columns)
    inserted = _count(
        cur.execute(
            f"INSERT INTO {meta.physical} ({names_sql}, _timestamp) "
            f"SELECT {names_sql}, ?::TIMESTAMP FROM ({source})",
            [now],
        )
    )
    return inserted, bool(deleted or inserted)


def _incoming_sql(meta: TableMeta) -> str:
    """The staged rows as the table stores them (typed values converted, empty is NULL)."""
    exprs = []
    for name in meta.columns:
        value = sql_ident(name)
        column = meta.typed_by_name.get(name)
        if column is not None:
            value = typedefs.convert_sql(column, f"NULLIF({value}, '')")
        exprs.append(f"{value} AS {sql_ident(name)}")
    return f"SELECT {', '.join(exprs)} FROM {_STAGE}"


def _apply(
    cur: duckdb.DuckDBPyConnection, meta: TableMeta, *, incremental: bool, now: datetime
) -> bool:
    target = meta.physical
    incoming = f"({_incoming_sql(meta)})"
    names_sql = ", ".join(sql_ident(name) for name in meta.columns)
    insert = f"INSERT INTO {target} ({names_sql}, _timestamp) SELECT {names_sql}, ?::TIMESTAMP"

    if not incremental:
        deleted = _count(cur.execute(f"DELETE FROM {target}"))
        inserted = _count(cur.execute(f"{insert} FROM {incoming}", [now]))
        return bool(deleted or inserted)

    if not meta.primary_key:
        return bool(_count(cur.execute(f"{insert} FROM {incoming}", [now])))

    keys = " AND ".join(f"t.{sql_ident(k)} = i.{sql_ident(k)}" for k in meta.primary_key)
    values = [name for name in meta.columns if name not in meta.primary_key]
    updated = 0
    if values or meta.is_typed:
        assignments = [f"{sql_ident(name)} = i.{sql_ident(name)}" for name in values]
        condition = keys
        if not meta.is_typed:
            differs = " OR ".join(
                f"t.{sql_ident(name)} IS DISTINCT FROM i.{sql_ident(name)}" for name in values
            )
            condition = f"{keys} AND ({differs})"
        updated = _count(cur.execute(
            f"UPDATE {target} AS t SET {', '.join([*assignments, '_timestamp = ?::TIMESTAMP'])} "
            f"FROM {incoming} AS i WHERE {condition}",
            [now],
        ))  # fmt: skip

    inserted = _count(cur.execute(
        f"{insert} FROM {incoming} AS i WHERE NOT EXISTS "
        f"(SELECT 1 FROM {target} AS t WHERE {keys})",
        [now],
    ))  # fmt: skip
    return bool(updated or inserted)


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0
