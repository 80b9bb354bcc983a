"""The table data of one project of the local Storage stack, in DuckDB.

`TableStore` holds everything about a project's tables: columns, primary key, typed
definition, `created` / `lastImportDate` / `lastChangeDate`, the rows with their internal
`_timestamp`, and snapshots. The HTTP layer calls it and never writes SQL for table data.
Load semantics are described in `kbc_sync.local.loads`, export and filter semantics in
`kbc_sync.local.exports`, time values in `kbc_sync.local.timeparse`.

`lastChangeDate` moves when a row's `_timestamp` moves or rows are deleted: a full load,
an incremental load that inserted or changed rows. A load of rows identical to the stored ones,
or a column added with empty values, changes nothing and keeps it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from kbc_sync.local import csvio, exports, loads, tablemeta, tableops
from kbc_sync.local.loads import LoadRequest, LoadResult
from kbc_sync.local.tableerrors import LoadFailed, TableError

__all__ = ["LoadFailed", "LoadResult", "TableError", "TableStore"]

logger = logging.getLogger(__name__)


class TableStore:
    """The tables of one project: a DuckDB database in a file, or in memory.

    Every method is safe to call from several threads: writes take the store's lock (Keboola
    also runs one write at a time per table), reads run on their own snapshot.

    Beyond the interface the stack server was promised, the store offers (all keyword
    arguments have defaults, so older calls keep working): `create_from_files` (create a table
    from a CSV in one step, as `tables-async` does), `append_rows` (test and demo seeding),
    `exists`, `describe_snapshot`, `drop_snapshot`, `drop_column`, `close`; `load(sliced=)`
    to say a one-file load is a slice, and `export(prefix=)` for slice file names.

    `describe` returns Keboola's table fields: `id`, `name`, `columns`, `primaryKey`,
    `rowsCount`, `dataSizeBytes`, `created`, `lastImportDate`, `lastChangeDate` (strings like
    `2019-08-14T16:54:06+0000`, or None), `isTyped`, and `definition` for typed tables only.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        memory_limit: str = tablemeta.MEMORY_LIMIT,
        threads: int = 2,
        temp_dir: Path | None = None,
    ) -> None:
        self._own_temp = temp_dir is None and path is None
        if temp_dir is None and path is None:
            temp_dir = Path(tempfile.mkdtemp(prefix="kbc-tables-"))
        elif temp_dir is None and path is not None:
            temp_dir = path.with_name(path.name + ".tmp")
        self._temp_dir = temp_dir
        self._db = tablemeta.connect(path, memory_limit, threads, temp_dir)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database (and remove its temporary directory when the store made it)."""
        self._db.close()
        if self._own_temp:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    # --- tables -------------------------------------------------------------------------

    def create_table(
        self,
        table_id: str,
        columns: Sequence[str] | None,
        *,
        primary_key: Sequence[str] = (),
        definition: list[dict[str, Any]] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Create an empty table; with a `definition` that types a column, a typed table.

        Args:
            table_id: `in.c-bucket.name`.
            columns: column names; may be None when `definition` is given.
            primary_key: primary key column names.
            definition: `tables-definition` columns (`name` plus `definition` or `basetype`).
            now: creation time (the stack's clock).

        Returns:
            The table as `describe` reports it.

        Raises:
            TableError: bad names, unknown key columns, bad types, or the table exists.
        """
        with self._write() as cur:
            meta = tableops.create(cur, table_id, columns, primary_key, definition, _now(now))
            return tableops.describe(meta)

    def create_from_files(
        self,
        table_id: str,
        files: list[Path],
        *,
        primary_key: Sequence[str] = (),
        has_header: bool = True,
        columns: Sequence[str] | None = None,
        delimiter: str = ",",
        enclosure: str = '"',
        escaped_by: str = "",
        now: datetime | None = None,
    ) -> LoadResult:
        """Create a non-typed table from CSV files, columns from the header (`tables-async`).

        Nothing is left behind when the data cannot be loaded.

        Raises:
            TableError: bad table name or key, the table exists.
            LoadFailed: the data cannot be loaded (see `load`).
        """
        moment = _now(now)
        request = LoadRequest(
            files, False, has_header, columns, csvio.Dialect(delimiter, enclosure, escaped_by)
        )
        found = loads.csv_columns(request, None)
        with self._write() as cur:
            meta = tableops.create(cur, table_id, found, primary_key, None, moment)
            meta, result = loads.run_load(cur, meta, request, moment)
            tablemeta.save_table(cur, meta)
            return result

    def load(
        self,
        table_id: str,
        files: list[Path],
        *,
        incremental: bool,
        has_header: bool = True,
        columns: list[str] | None = None,
        delimiter: str = ",",
        enclosure: str = '"',
        escaped_by: str = "",
        sliced: bool | None = None,
        now: datetime | None = None,
    ) -> LoadResult:
        """Load CSV files (plain or gzipped; several slices in order) into a table.

        Args:
            table_id: the table.
            files: the data file, or the slices of a sliced file in manifest order.
            incremental: upsert/append (True) or truncate-then-load (False).
            has_header: whether the data starts with a header line (ignored with `columns`);
                False without `columns` means the table's columns in order.
            columns: the columns of headerless data (Keboola's `columns[]`).
            delimiter: Keboola's `delimiter`.
            enclosure: Keboola's `enclosure`.
            escaped_by: Keboola's `escapedBy`.
            sliced: whether the files are slices (default: more than one file); slices have
                no header, so they need `columns`.
            now: the load's time, stamped on every inserted or changed row.

        Raises:
            TableError: 404 when the table does not exist.
            LoadFailed: Keboola's load errors; the table is left as it was.
        """
        moment = _now(now)
        dialect = csvio.Dialect(delimiter, enclosure, escaped_by)
        request = LoadRequest(files, incremental, has_header, columns, dialect, sliced)
        with self._write() as cur:
            meta = tableops.require(cur, table_id)
            meta, result = loads.run_load(cur, meta, request, moment)
            tablemeta.save_table(cur, meta)
        logger.debug(
            "loaded %d rows into %s (incremental=%s, changed=%s)",
            result.rows_loaded, table_id, incremental, result.changed,
        )  # fmt: skip
        return result

    def append_rows(
        self,
        table_id: str,
        rows: Iterable[Sequence[str | None]],
        *,
        columns: Sequence[str] | None = None,
        incremental: bool = True,
        now: datetime | None = None,
    ) -> LoadResult:
        """Load rows given in Python (for seeding tests and the demo) like a headerless CSV.

        `None` is an empty value (NULL in typed tables, an empty string otherwise). The rows
        stream through a temporary file, so a generator of millions of rows is fine.
        """
        with tempfile.TemporaryDirectory(prefix="kbc-rows-") as folder:
            path = Path(folder) / "rows.csv"
            csvio.write_rows(path, rows)
            wanted = list(columns) if columns is not None else None
            return self.load(
                table_id, [path], incremental=incremental, has_header=False, columns=wanted,
                now=now,
            )  # fmt: skip

    def describe(self, table_id: str) -> dict[str, Any]:
        """The table's fields as Storage reports them (see the class docstring).

        Raises:
            TableError: 404 `storage.tables.notFound`.
        """
        with self._read() as cur:
            return tableops.describe(tableops.require(cur, table_id))

    def exists(self, table_id: str) -> bool:
        """Whether the table exists."""
        with self._read() as cur:
            return tablemeta.load_table(cur, table_id) is not None

    def list_tables(self, bucket_id: str) -> list[dict[str, Any]]:
        """Every table of a bucket, described, ordered by id."""
        with self._read() as cur:
            metas = tablemeta.list_tables(cur, bucket_id + ".")
        return [tableops.describe(meta) for meta in metas if meta.table_id.count(".") == 2]

    def drop(self, table_id: str) -> None:
        """Delete a table and its rows (its snapshots stay).

        Raises:
            TableError: 404 `storage.tables.notFound`.
        """
        with self._write() as cur:
            meta = tableops.require(cur, table_id)
            cur.execute(f"DROP TABLE {meta.physical}")
            tablemeta.delete_table(cur, table_id)

    def add_column(
        self,
        table_id: str,
        name: str,
        *,
        definition: Mapping[str, Any] | None = None,
        basetype: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Add a column; existing rows get an empty value (NULL in typed tables).

        A typed table needs `definition` or `basetype`; a column that is not nullable can
        only be added to an empty typed table. Rows keep their `_timestamp`.

        Raises:
            TableError: bad or duplicate name, missing or bad type.
        """
        with self._write() as cur:
            meta = tableops.require(cur, table_id)
            meta = tableops.add_column(cur, meta, name, definition, basetype)
            return tableops.describe(meta)

    def drop_column(self, table_id: str, name: str) -> dict[str, Any]:
        """Remove a column that is not in the primary key and not the last one.

        Raises:
            TableError: the column does not exist, is a key column, or is the only one.
        """
        with self._write() as cur:
            meta = tableops.drop_column(cur, tableops.require(cur, table_id), name)
            return tableops.describe(meta)

    # --- reading out ----------------------------------------------------------------------

    def export(
        self,
        table_id: str,
        out_dir: Path,
        *,
        columns: Sequence[str] | None = None,
        changed_since: datetime | None = None,
        changed_until: datetime | None = None,
        limit: int | None = None,
        where_filters: Sequence[Mapping[str, Any]] = (),
        include_timestamp: bool = False,
        gzip: bool = True,
        slice_rows: int,
        prefix: str = "",
    ) -> list[Path]:
        """Export rows as headerless RFC 4180 slices of at most `slice_rows` rows each.

        Slices are named `<prefix>0000_part_00` (`.gz` added when gzipped), in order; there
        is always at least one, possibly empty. `changed_since` is inclusive,
        `changed_until` exclusive.

        Raises:
            TableError: 404 for a missing table, 400 for bad columns or filters.
        """
        selection = exports.Selection(
            columns, changed_since, changed_until, limit, where_filters, include_timestamp
        )
        with self._read() as cur:
            meta = tableops.require(cur, table_id)
            return exports.export_slices(
                cur, meta, selection, out_dir, slice_rows=slice_rows, gzip_output=gzip,
                prefix=prefix,
            )  # fmt: skip

    def preview(
        self,
        table_id: str,
        *,
        columns: Sequence[str] | None = None,
        changed_since: datetime | None = None,
        changed_until: datetime | None = None,
        limit: int | None = None,
        where_filters: Sequence[Mapping[str, Any]] = (),
        include_timestamp: bool = False,
    ) -> str:
        """Rows as CSV with a header, as `data-preview` returns (limit 100 by default, max 1000).

        Raises:
            TableError: 404 for a missing table, 400 for bad columns, filters or limit.
        """
        selection = exports.Selection(
            columns, changed_since, changed_until, limit, where_filters, include_timestamp
        )
        with self._read() as cur:
            return exports.preview_csv(cur, tableops.require(cur, table_id), selection)

    # --- snapshots ------------------------------------------------------------------------

    def snapshot(
        self, table_id: str, snapshot_id: str, *, now: datetime | None = None
    ) -> dict[str, Any]:
        """Keep a copy of the table's rows and properties under `snapshot_id`.

        Returns:
            The snapshot as `describe_snapshot` reports it.

        Raises:
            TableError: 404 for a missing table, 400 when the snapshot id is taken.
        """
        with self._write() as cur:
            meta = tableops.require(cur, table_id)
            snap = tableops.snapshot(cur, meta, snapshot_id, _now(now))
            return tableops.describe_snapshot(snapshot_id, snap)

    def describe_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """A snapshot's `table {id, primaryKey, columns}`, definition, rows and time.

        Raises:
            TableError: 404 `storage.snapshots.notFound`.
        """
        with self._read() as cur:
            return tableops.describe_snapshot(
                snapshot_id, tableops.require_snapshot(cur, snapshot_id)
            )

    def drop_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot; its table is untouched.

        Raises:
            TableError: 404 `storage.snapshots.notFound`.
        """
        with self._write() as cur:
            snap = tableops.require_snapshot(cur, snapshot_id)
            cur.execute(f"DROP TABLE {snap.physical}")
            tablemeta.delete_snapshot(cur, snapshot_id)

    def create_from_snapshot(
        self, snapshot_id: str, table_id: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """Create a table (any name) with a snapshot's rows, `_timestamp`s and properties.

        Raises:
            TableError: 404 for a missing snapshot, 400 when the table exists or the name is bad.
        """
        with self._write() as cur:
            snap = tableops.require_snapshot(cur, snapshot_id)
            return tableops.describe(tableops.restore(cur, snap, table_id, _now(now)))

    # --- internals ------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock, self._db.cursor() as cur:
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            cur.commit()

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._db.cursor() as cur:
            cur.begin()
            try:
                yield cur
            finally:
                cur.rollback()


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)
