"""Reading a table out: export slices and data previews, with Keboola's filters.

Filters: `changedSince` (inclusive) and `changedUntil` (exclusive) on `_timestamp`, `columns`,
`limit` and `whereFilters` (`{column, operator eq|ne|gt|ge|lt|le, values[], dataType?}`,
ANDed). `eq` with several values means IN and `ne` NOT IN; the ordering operators take exactly
one value. On a non-typed table values compare as text unless `dataType` names a numeric type;
on a typed table they compare in the column's type.

Exports go through DuckDB `COPY` into headerless slices of at most `slice_rows` rows, so the
table never passes through Python and memory stays flat. The selected rows are first copied
into a temporary table (one consistent snapshot, contiguous row ids), then each slice is one
range of row ids. (Inside a transaction the ids of new rows start at a large offset, hence the
`min(rowid)` base.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from kbc_sync.local import csvio, timeparse
from kbc_sync.local.csvio import sql_ident
from kbc_sync.local.tableerrors import TableError
from kbc_sync.local.tablemeta import TableMeta

logger = logging.getLogger(__name__)

_OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_DATA_TYPES = {
    "INTEGER": "BIGINT", "BIGINT": "BIGINT", "INT": "BIGINT", "DOUBLE": "DOUBLE",
    "REAL": "DOUBLE", "FLOAT": "DOUBLE", "DECIMAL": "DECIMAL(38,9)", "NUMERIC": "DECIMAL(38,9)",
}  # fmt: skip
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
PREVIEW_MAX_ROWS = 1000
PREVIEW_DEFAULT_ROWS = 100
_EXPORT = "kbc_export"


@dataclass(frozen=True)
class Selection:
    """Which rows and columns of a table to read."""

    columns: Sequence[str] | None = None
    changed_since: datetime | None = None
    changed_until: datetime | None = None
    limit: int | None = None
    where_filters: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    include_timestamp: bool = False


def select_sql(meta: TableMeta, selection: Selection) -> tuple[str, list[Any], list[str]]:
    """The SELECT of a selection, its parameters and the output column names.

    Raises:
        TableError: 400 for unknown columns, bad filters or a negative limit.
    """
    columns = _columns(meta, selection.columns)
    exprs = [_text(meta, name) for name in columns]
    if selection.include_timestamp:
        exprs.append(f"strftime(_timestamp, '{_TIMESTAMP_FORMAT}') AS _timestamp")
        columns = [*columns, "_timestamp"]

    conditions, params = _conditions(meta, selection)
    sql = f"SELECT {', '.join(exprs)} FROM {meta.physical}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if selection.limit is not None:
        if int(selection.limit) < 0:
            raise TableError("storage.validation.limit", "limit must be 0 or more.")
        sql += f" LIMIT {int(selection.limit)}"
    return sql, params, columns


def export_slices(
    cur: duckdb.DuckDBPyConnection,
    meta: TableMeta,
    selection: Selection,
    out_dir: Path,
    *,
    slice_rows: int,
    gzip_output: bool,
    prefix: str = "",
) -> list[Path]:
    """Write the selection as headerless CSV slices; at least one, maybe empty.

    Runs inside the caller's read transaction so every slice comes from one snapshot.
    """
    if slice_rows < 1:
        raise ValueError("slice_rows must be at least 1")
    sql, params, _ = select_sql(meta, selection)
    out_dir.mkdir(parents=True, exist_ok=True)

    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_EXPORT} AS {sql}", params)
    total, first, last = cur.execute(
        f"SELECT count(*), min(rowid), max(rowid) FROM {_EXPORT}"
    ).fetchone()
    if total and last - first + 1 != total:
        # Row ids of a freshly written table are contiguous; this guards the slicing below.
        raise RuntimeError(f"export of {meta.table_id}: row ids are not contiguous")

    # DuckDB's own gzip writer is single-threaded and slow (13 s for 1M rows x 10 columns
    # here); plain COPY plus a fast gzip level on two threads is several times quicker.
    options = csvio.copy_options(gzip_output=False)
    paths = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = []
        for index in range(max(1, -(-total // slice_rows))):
            path = out_dir / csvio.slice_name(index, prefix=prefix, gzip_output=gzip_output)
            plain = path.with_name(path.name + ".plain") if gzip_output else path
            start = (first or 0) + index * slice_rows
            cur.execute(
                f"COPY (SELECT * FROM {_EXPORT} WHERE rowid >= {start} "
                f"AND rowid < {start + slice_rows}) TO {csvio.sql_literal(str(plain))} "
                f"({options})"
            )
            if gzip_output:
                pending.append(pool.submit(csvio.gzip_file, plain, path))
            paths.append(path)
        for job in pending:
            job.result()

    cur.execute(f"DROP TABLE {_EXPORT}")
    logger.debug("exported %d rows of %s in %d slices", total, meta.table_id, len(paths))
    return paths


def preview_csv(cur: duckdb.DuckDBPyConnection, meta: TableMeta, selection: Selection) -> str:
    """The selection as CSV text with a header, as `data-preview` answers.

    Raises:
        TableError: 400 when `limit` is over 1000.
    """
    limit = PREVIEW_DEFAULT_ROWS if selection.limit is None else int(selection.limit)
    if limit > PREVIEW_MAX_ROWS:
        raise TableError(
            "storage.validation.limit",
            f"limit {limit} is too high: a data preview returns at most {PREVIEW_MAX_ROWS} rows.",
        )

    limited = Selection(
        selection.columns, selection.changed_since, selection.changed_until, limit,
        selection.where_filters, selection.include_timestamp,
    )  # fmt: skip
    sql, params, columns = select_sql(meta, limited)
    rows = cur.execute(sql, params).fetchall()
    return csvio.header_line(columns) + "".join(csvio.header_line(row) for row in rows)


def _columns(meta: TableMeta, wanted: Sequence[str] | None) -> list[str]:
    if not wanted:
        return list(meta.columns)
    unknown = [name for name in wanted if name not in meta.columns]
    if unknown:
        raise TableError(
            "storage.tables.validation.columnNotExists",
            f"Columns {', '.join(unknown)} are not in table {meta.table_id}; its columns are "
            f"{', '.join(meta.columns)}.",
        )
    return list(wanted)


def _text(meta: TableMeta, name: str) -> str:
    if name in meta.typed_by_name:
        return f"CAST({sql_ident(name)} AS VARCHAR) AS {sql_ident(name)}"
    return sql_ident(name)


def _conditions(meta: TableMeta, selection: Selection) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if selection.changed_since is not None:
        conditions.append("_timestamp >= ?::TIMESTAMP")
        params.append(timeparse.to_naive_utc(selection.changed_since))
    if selection.changed_until is not None:
        conditions.append("_timestamp < ?::TIMESTAMP")
        params.append(timeparse.to_naive_utc(selection.changed_until))

    for where in selection.where_filters:
        condition, values = _where(meta, where)
        conditions.append(condition)
        params.extend(values)
    return conditions, params


def _where(meta: TableMeta, where: Mapping[str, Any]) -> tuple[str, list[Any]]:
    column = str(where.get("column", ""))
    operator = str(where.get("operator", "eq")).lower()
    values = where.get("values")
    if column not in meta.columns:
        raise TableError(
            "storage.tables.validation.columnNotExists",
            f'whereFilters: column "{column}" is not in table {meta.table_id}.',
        )
    if operator not in _OPERATORS:
        raise TableError(
            "storage.tables.validation.invalidWhereFilter",
            f'whereFilters: operator "{operator}" is not one of {", ".join(_OPERATORS)}.',
        )
    if not isinstance(values, Iterable) or isinstance(values, str | bytes) or not list(values):
        raise TableError(
            "storage.tables.validation.invalidWhereFilter",
            f'whereFilters: column "{column}" needs "values", a non-empty list.',
        )
    values = [str(value) for value in values]
    if operator not in ("eq", "ne") and len(values) != 1:
        raise TableError(
            "storage.tables.validation.invalidWhereFilter",
            f'whereFilters: operator "{operator}" takes exactly one value, got {len(values)}.',
        )

    left, cast = _comparable(meta, column, where.get("dataType"))
    holders = ", ".join(f"TRY_CAST(? AS {cast})" if cast else "?" for _ in values)
    if len(values) > 1:
        keyword = "IN" if operator == "eq" else "NOT IN"
        return f"{left} {keyword} ({holders})", values
    return f"{left} {_OPERATORS[operator]} {holders}", values


def _comparable(meta: TableMeta, column: str, data_type: Any) -> tuple[str, str | None]:
    typed = meta.typed_by_name.get(column)
    if typed is not None:
        return sql_ident(column), typed.duck_type
    if not data_type:
        return sql_ident(column), None

    cast = _DATA_TYPES.get(str(data_type).upper())
    if cast is None:
        raise TableError(
            "storage.tables.validation.invalidWhereFilter",
            f'whereFilters: dataType "{data_type}" is not one of {", ".join(_DATA_TYPES)}.',
        )
    return f"TRY_CAST({sql_ident(column)} AS {cast})", cast
