"""Small helpers for the TableStore tests: CSV files in, CSV text out."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kbc_sync.local.tables import TableStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TABLE = "in.c-main.users"


def at(minutes: int) -> datetime:
    """A moment `minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def write(folder: Path, name: str, text: str, *, compress: bool = False) -> Path:
    """Write CSV text (UTF-8, newlines kept as given), gzipped when asked."""
    path = folder / name
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def read_slices(paths: list[Path]) -> str:
    """The slices' text concatenated in order (gunzipped when needed)."""
    parts = []
    for path in paths:
        data = path.read_bytes()
        parts.append(gzip.decompress(data) if path.name.endswith(".gz") else data)
    return b"".join(parts).decode("utf-8")


def rows_of(text: str) -> list[list[str]]:
    """Parse CSV text into rows."""
    return list(csv.reader(io.StringIO(text, newline="")))


def table_rows(store: TableStore, table_id: str = TABLE, **kwargs: object) -> list[list[str]]:
    """Every row of a table (header dropped), sorted, via the preview."""
    text = store.preview(table_id, limit=1000, **kwargs)  # type: ignore[arg-type]
    return sorted(rows_of(text)[1:])


def make_table(store: TableStore, folder: Path, text: str, *, key: tuple[str, ...] = ("id",),
               now: datetime = T0, table_id: str = TABLE) -> None:  # fmt: skip
    """Create a non-typed table from CSV text with a header."""
    store.create_from_files(table_id, [write(folder, "create.csv", text)], primary_key=key,
                            now=now)  # fmt: skip
