"""Typed tables: column definitions as Keboola reports them, DuckDB types, value checks.

A typed table is created from `tables-definition` columns, each with a `definition`
(`{type, length?, nullable?}`) or a `basetype`. Keboola reports the definition in base backend
types, Snowflake style (`INT` is reported as `NUMERIC(38,0)`), so every accepted type is
normalised here to one of: NUMERIC(p,s), FLOAT, VARCHAR(n), BOOLEAN, DATE, TIME,
TIMESTAMP_NTZ, TIMESTAMP_TZ, TIMESTAMP_LTZ. Other types (VARIANT, BINARY, GEOGRAPHY, ...) are
refused rather than stored loosely.

Loads convert nothing: a value that does not fit its column fails the load. The checks are
strict on purpose: `1.0` is not an integer, `1.234` does not fit NUMERIC(10,2), a date is
`YYYY-MM-DD`, booleans are `true/false/t/f/1/0` in any case. An empty value is NULL (Keboola's
default `treatValuesAsNull` of `[""]`), which fails a column that is not nullable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kbc_sync.local.csvio import sql_ident, sql_literal
from kbc_sync.local.tableerrors import TableError

DEFAULT_VARCHAR_LENGTH = 16_777_216

_NUMERIC = {"NUMBER", "NUMERIC", "DECIMAL", "DEC"}
_INTEGER = {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"}
_FLOAT = {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"}
_STRING = {"VARCHAR", "CHAR", "CHARACTER", "STRING", "TEXT", "NVARCHAR", "NCHAR"}
_SIMPLE = {
    "BOOLEAN": ("BOOLEAN", "BOOLEAN", "BOOLEAN"),
    "DATE": ("DATE", "DATE", "DATE"),
    "TIME": ("TIME", "STRING", "TIME"),
    "TIMESTAMP": ("TIMESTAMP_NTZ", "TIMESTAMP", "TIMESTAMP"),
    "DATETIME": ("TIMESTAMP_NTZ", "TIMESTAMP", "TIMESTAMP"),
    "TIMESTAMP_NTZ": ("TIMESTAMP_NTZ", "TIMESTAMP", "TIMESTAMP"),
    "TIMESTAMP_TZ": ("TIMESTAMP_TZ", "TIMESTAMP", "TIMESTAMPTZ"),
    "TIMESTAMP_LTZ": ("TIMESTAMP_LTZ", "TIMESTAMP", "TIMESTAMPTZ"),
}
_BASETYPES = {
    "STRING": {"type": "VARCHAR"},
    "INTEGER": {"type": "NUMERIC", "length": "38,0"},
    "NUMERIC": {"type": "NUMERIC", "length": "38,9"},
    "FLOAT": {"type": "FLOAT"},
    "BOOLEAN": {"type": "BOOLEAN"},
    "DATE": {"type": "DATE"},
    "TIMESTAMP": {"type": "TIMESTAMP_NTZ"},
}
_INVALID = "storage.tables.validation.invalidDefinition"


@dataclass(frozen=True)
class TypedColumn:
    """One column of a typed table, normalised to a base backend type."""

    name: str
    type: str
    length: str | int | None
    nullable: bool
    basetype: str
    duck_type: str

    def describe(self) -> dict[str, Any]:
        """The column as `definition.columns[]` reports it."""
        return {
            "name": self.name,
            "definition": {"type": self.type, "nullable": self.nullable, "length": self.length},
            "basetype": self.basetype,
            "canBeFiltered": True,
        }

    def label(self) -> str:
        """The type as a user reads it, e.g. `NUMERIC(38,0)`."""
        return f"{self.type}({self.length})" if self.length is not None else self.type

    def to_json(self) -> dict[str, Any]:
        """Everything needed to rebuild the column (stored in the table's metadata)."""
        return {"name": self.name, "definition": {"type": self.type, "length": self.length,
                "nullable": self.nullable}}  # fmt: skip


def is_typed(columns: list[dict[str, Any]]) -> bool:
    """Whether a `tables-definition` column list makes a typed table (any column has a type)."""
    return any(column.get("definition") or column.get("basetype") for column in columns)


def normalise(columns: list[dict[str, Any]], primary_key: list[str]) -> list[TypedColumn]:
    """Normalise `tables-definition` columns into base backend types.

    Raises:
        TableError: `storage.tables.validation.invalidDefinition` naming the column and type.
    """
    return [_normalise_column(column, primary_key) for column in columns]


def check_sql(column: TypedColumn, value: str) -> str:
    """A SQL condition, true when the non-NULL text `value` does not fit `column`."""
    kind = column.type
    if kind == "NUMERIC":
        precision, scale = (int(part) for part in str(column.length).split(","))
        fraction = r"(\.\d{1," + str(scale) + "})?" if scale else ""
        pattern = sql_literal(r"[+-]?\d+" + fraction)
        cast = f"TRY_CAST({value} AS DECIMAL({precision},{scale}))"
        return f"(NOT regexp_full_match({value}, {pattern}) OR {cast} IS NULL)"
    if kind == "VARCHAR":
        return f"length({value}) > {int(column.length or DEFAULT_VARCHAR_LENGTH)}"
    if kind == "BOOLEAN":
        return f"lower({value}) NOT IN ('true', 'false', 't', 'f', '1', '0')"
    if kind == "DATE":
        date = f"TRY_CAST({value} AS DATE)"
        return f"(NOT regexp_full_match({value}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') OR {date} IS NULL)"
    return f"TRY_CAST({value} AS {column.duck_type}) IS NULL"


def convert_sql(column: TypedColumn, value: str) -> str:
    """A SQL expression turning checked text `value` into the column's DuckDB type."""
    if column.type == "VARCHAR":
        return value
    if column.type == "BOOLEAN":
        return f"(lower({value}) IN ('true', 't', '1'))"
    return f"CAST({value} AS {column.duck_type})"


def column_sql(column: TypedColumn) -> str:
    """The column's DDL fragment."""
    return f"{sql_ident(column.name)} {column.duck_type}"


def _normalise_column(column: dict[str, Any], primary_key: list[str]) -> TypedColumn:
    name = str(column.get("name", ""))
    definition = dict(column.get("definition") or {})
    if not definition:
        basetype = str(column.get("basetype") or "STRING").upper()
        if basetype not in _BASETYPES:
            raise TableError(
                _INVALID,
                f'Column "{name}": unknown basetype "{basetype}"; use one of '
                f"{', '.join(sorted(_BASETYPES))}.",
            )
        definition = dict(_BASETYPES[basetype])

    nullable = definition.get("nullable", name not in primary_key)
    if name in primary_key and nullable:
        raise TableError(
            _INVALID,
            f'Column "{name}" is in the primary key, so it cannot be nullable; remove '
            '"nullable": true from its definition.',
        )
    return _typed(name, str(definition.get("type", "")), definition.get("length"), bool(nullable))


def _typed(name: str, raw_type: str, length: Any, nullable: bool) -> TypedColumn:
    kind = raw_type.strip().upper()
    if kind in _INTEGER or kind in _NUMERIC:
        precision, scale = _numeric_length(name, kind, length)
        return TypedColumn(
            name, "NUMERIC", f"{precision},{scale}", nullable,
            "INTEGER" if scale == 0 else "NUMERIC", f"DECIMAL({precision},{scale})",
        )  # fmt: skip
    if kind in _FLOAT:
        return TypedColumn(name, "FLOAT", None, nullable, "FLOAT", "DOUBLE")
    if kind in _STRING:
        size = _varchar_length(name, length)
        return TypedColumn(name, "VARCHAR", size, nullable, "STRING", "VARCHAR")
    if kind in _SIMPLE:
        reported, basetype, duck_type = _SIMPLE[kind]
        return TypedColumn(name, reported, None, nullable, basetype, duck_type)
    raise TableError(
        _INVALID,
        f'Column "{name}": type "{raw_type}" is not supported here; use NUMBER/INT, FLOAT, '
        "VARCHAR, BOOLEAN, DATE, TIME or TIMESTAMP(_NTZ|_TZ|_LTZ).",
    )


def _numeric_length(name: str, kind: str, length: Any) -> tuple[int, int]:
    if kind in _INTEGER or length in (None, ""):
        return 38, 0

    match = re.fullmatch(r"\s*(\d+)\s*(?:,\s*(\d+)\s*)?", str(length))
    if match:
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        if 1 <= precision <= 38 and scale <= precision:
            return precision, scale
    raise TableError(
        _INVALID,
        f'Column "{name}": length "{length}" of {kind} is not valid; use "precision,scale" '
        'with precision 1-38 and scale <= precision, e.g. "38,2".',
    )


def _varchar_length(name: str, length: Any) -> int:
    if length in (None, ""):
        return DEFAULT_VARCHAR_LENGTH
    if str(length).isdigit() and 1 <= int(length) <= DEFAULT_VARCHAR_LENGTH:
        return int(length)
    raise TableError(
        _INVALID,
        f'Column "{name}": VARCHAR length "{length}" is not valid; use 1-{DEFAULT_VARCHAR_LENGTH}.',
    )
