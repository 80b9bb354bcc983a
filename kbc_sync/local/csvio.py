"""CSV files in and out of DuckDB: dialect, gzip detection, headers, slice names.

Input follows what Keboola accepts: a delimiter, an enclosure (`"`), and either doubled
enclosures or an `escapedBy` character. Keboola says "use enclosure or escapedBy, not both";
as the enclosure always has a default, an `escapedBy` is read as replacing the doubling of
enclosures inside enclosed values (as in MySQL-style dumps). Files are plain or gzipped (by
`.gz` or by the gzip magic bytes, whatever the name), with a header line unless the columns
are given. Values are read as text and kept byte for byte: DuckDB's own reader does the work,
so no row passes through Python.

Output is what Snowflake-backed stacks produce: RFC 4180 with `,` and `"`, LF line ends, UTF-8,
no header, every non-NULL value enclosed (so an empty string is `""` and a NULL of a typed
table is an empty unenclosed field).
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kbc_sync.local.tableerrors import LoadFailed

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Dialect:
    """How a CSV file is written: Keboola's `delimiter`, `enclosure` and `escapedBy`."""

    delimiter: str = ","
    enclosure: str = '"'
    escaped_by: str = ""

    def check(self) -> None:
        """Refuse dialects Keboola refuses, before any file is read.

        Raises:
            LoadFailed: `csvImport.invalidDialect` naming the bad parameter.
        """
        if len(self.delimiter) != 1:
            raise LoadFailed(
                "csvImport.invalidDialect",
                f'Invalid delimiter "{self.delimiter}": use exactly one character, e.g. ",".',
            )

        if len(self.enclosure) > 1 or len(self.escaped_by) > 1:
            raise LoadFailed(
                "csvImport.invalidDialect",
                "Invalid enclosure or escapedBy: each is at most one character.",
            )


def is_gzip(path: Path) -> bool:
    """Whether a file is gzipped, by its name or its first two bytes."""
    if path.name.endswith(".gz"):
        return True
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def is_empty(path: Path) -> bool:
    """Whether a file holds no data at all (zero bytes, or gzip of nothing)."""
    if path.stat().st_size == 0:
        return True
    if not is_gzip(path):
        return False
    with gzip.open(path, "rb") as handle:
        return handle.read(1) == b""


def read_header(path: Path, dialect: Dialect) -> list[str]:
    """Read the first record of a CSV file as its header.

    Raises:
        LoadFailed: `csvImport.invalidCsv` when the file is empty or not UTF-8 CSV.
    """
    opener = gzip.open if is_gzip(path) else open
    try:
        # Decoding reads ahead of the first line: bad bytes further down are the data
        # reader's to report (with their line), so they must not fail the header here.
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.reader(handle, **_python_dialect(dialect))
            header = next(reader, None)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise LoadFailed(
            "csvImport.invalidCsv",
            f"Cannot read the CSV header: {exc}. Send a UTF-8 CSV file whose first line "
            "names the columns.",
        ) from exc

    if not header:
        raise LoadFailed(
            "csvImport.invalidCsv",
            "The CSV file is empty: it needs a header line naming the columns, or the import "
            "must list the columns.",
        )
    return header


def read_csv_sql(
    paths: Sequence[Path], columns: Sequence[str], dialect: Dialect, *, header: bool
) -> str:
    """A DuckDB `read_csv(...)` call reading files of one compression as text columns.

    Every value is VARCHAR and `force_not_null` keeps empty fields as empty strings, so nothing
    is converted on the way in; the caller decides what is NULL (typed tables) and what fits.
    One call takes all the files: a `UNION ALL` of one `read_csv` per slice holds a read
    buffer per slice at once, and ran out of a 256 MB memory limit at 5M rows.
    """
    names = ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in columns)
    not_null = ", ".join(sql_literal(name) for name in columns)
    escape = dialect.escaped_by or dialect.enclosure
    # DuckDB's default read buffer is 16 x max_line_size (32 MB) per thread, too much of the
    # store's 128 MB memory limit; 8 MB still holds four of the longest lines it accepts.
    options = [
        f"columns = {{{names}}}",
        f"header = {str(header).lower()}",
        "auto_detect = false",
        f"delim = {sql_literal(dialect.delimiter)}",
        f"quote = {sql_literal(dialect.enclosure)}",
        f"escape = {sql_literal(escape)}",
        f"force_not_null = [{not_null}]",
        "strict_mode = true",
        "null_padding = false",
        "buffer_size = 8388608",
        f"compression = '{'gzip' if is_gzip(paths[0]) else 'none'}'",
    ]
    files = ", ".join(sql_literal(str(path)) for path in paths)
    return f"read_csv([{files}], {', '.join(options)})"


def copy_options(*, gzip_output: bool) -> str:
    """DuckDB COPY options for Keboola's export format (no header, all values enclosed)."""
    options = [
        "FORMAT csv",
        "HEADER false",
        "DELIMITER ','",
        "QUOTE '\"'",
        "ESCAPE '\"'",
        "NULLSTR ''",
        "FORCE_QUOTE *",
        "NEW_LINE '\\n'",
        f"COMPRESSION {'gzip' if gzip_output else 'none'}",
    ]
    return ", ".join(options)


def slice_name(index: int, *, prefix: str = "", gzip_output: bool) -> str:
    """Name of export slice `index`, in the style Keboola shows (`<prefix>0000_part_00`)."""
    return f"{prefix}{index:04d}_part_00{'.gz' if gzip_output else ''}"


def gzip_file(source: Path, target: Path, *, level: int = 1) -> None:
    """Compress `source` into `target` (gzip format) in chunks, then delete `source`."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            writer.write(packer.compress(chunk))
        writer.write(packer.flush())
    source.unlink()


def write_rows(path: Path, rows: Iterable[Sequence[str | None]]) -> int:
    """Write rows as a headerless CSV file where `None` is an empty unenclosed field.

    Returns:
        The number of rows written.
    """
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        for row in rows:
            handle.write(",".join(_enclose(value) for value in row))
            handle.write("\n")
            count += 1
    return count


def header_line(columns: Sequence[str]) -> str:
    """A CSV header line with every name enclosed, as previews show it."""
    buffer = io.StringIO()
    buffer.write(",".join(_enclose(name) for name in columns))
    buffer.write("\n")
    return buffer.getvalue()


def sql_literal(text: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _enclose(value: str | None) -> str:
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


def _python_dialect(dialect: Dialect) -> dict[str, object]:
    if dialect.escaped_by:
        return {
            "delimiter": dialect.delimiter,
            "quotechar": dialect.enclosure or None,
            "escapechar": dialect.escaped_by,
            "doublequote": False,
            "quoting": csv.QUOTE_MINIMAL if dialect.enclosure else csv.QUOTE_NONE,
        }
    return {"delimiter": dialect.delimiter, "quotechar": dialect.enclosure or None}
