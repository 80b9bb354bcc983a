"""Name rules for buckets, tables and columns, with Keboola's error codes and messages.

Documented rules: table and column names hold only alphanumeric characters, dash and underscore,
and column names must not start or end with a dash or an underscore; `_timestamp` is refused
with its own documented message. Undocumented, chosen strictly here:

- maximum length: 96 characters for bucket and table names (the limit Keboola's Go client
  checks) and 64 for column names;
- column names are compared case-insensitively, as on Snowflake, so `Id` and `id` in one
  table are duplicates;
- a bucket name may hold dashes (`in.c-crm-copy`), as the documented create example
  `my-new-bucket` -> `in.c-my-new-bucket` shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kbc_sync.local.tableerrors import TableError

TIMESTAMP_COLUMN = "_timestamp"
MAX_TABLE_NAME = 96
MAX_COLUMN_NAME = 64

_TABLE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_COLUMN_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?")
_BUCKET_ID = re.compile(r"(in|out|sys)\.c-([A-Za-z0-9_-]+)")

INVALID_COLUMN_CODE = "storage.tables.validation.invalidColumnName"
_TIMESTAMP_MESSAGE = (
    "Invalid columns: _timestamp: Only alphanumeric characters and underscores are allowed in "
    "the column name. Underscore is not allowed on the beginning."
)


def validate_table_name(name: str) -> None:
    """Check a table name (the part after the bucket id).

    Raises:
        TableError: `storage.tables.validation.invalidName` with the validate endpoint's
            wording, or a length message.
    """
    if not _TABLE_NAME.fullmatch(name):
        raise TableError(
            "storage.tables.validation.invalidName",
            f'"{name}" contains not allowed characters. Only alphanumeric characters dash and '
            "underscores are allowed.",
        )

    if len(name) > MAX_TABLE_NAME:
        raise TableError(
            "storage.tables.validation.invalidName",
            f'Table name "{name}" is {len(name)} characters long; use at most '
            f"{MAX_TABLE_NAME} characters.",
        )


def validate_bucket_id(bucket_id: str) -> None:
    """Check a bucket id of the form `{in|out|sys}.c-{name}`.

    Raises:
        TableError: `storage.buckets.validation.invalidId` naming the expected form.
    """
    match = _BUCKET_ID.fullmatch(bucket_id)
    if not match or len(match.group(2)) + 2 > MAX_TABLE_NAME:
        raise TableError(
            "storage.buckets.validation.invalidId",
            f'Bucket id "{bucket_id}" is not valid: use "in.c-<name>" or "out.c-<name>" where '
            "the name holds only alphanumeric characters, dash and underscore.",
        )


def split_table_id(table_id: str) -> tuple[str, str]:
    """Split `in.c-bucket.table` into the bucket id and the table name, checking both.

    Raises:
        TableError: `storage.tables.validation.invalidId` or a bucket/table name error.
    """
    bucket_id, dot, name = table_id.rpartition(".")
    if not dot or not bucket_id:
        raise TableError(
            "storage.tables.validation.invalidId",
            f'Table id "{table_id}" is not valid: use "<bucket id>.<table name>", '
            'e.g. "in.c-main.users".',
        )

    validate_bucket_id(bucket_id)
    validate_table_name(name)
    return bucket_id, name


def validate_column_names(columns: Iterable[str]) -> list[str]:
    """Check column names of a CSV header or a table definition; return them as a list.

    Raises:
        TableError: `storage.tables.validation.invalidColumnName` for `_timestamp`, names
            with characters outside the rules and over-long names;
            `storage.tables.validation.duplicateColumns` for duplicates.
    """
    names = list(columns)
    if TIMESTAMP_COLUMN in names:
        raise TableError(INVALID_COLUMN_CODE, _TIMESTAMP_MESSAGE)

    invalid = [name for name in names if not _COLUMN_NAME.fullmatch(name)]
    if invalid:
        raise TableError(
            INVALID_COLUMN_CODE,
            f"Invalid columns: {', '.join(invalid)}: Only alphanumeric characters, dash and "
            "underscores are allowed in the column name. Dash and underscore are not allowed "
            "at the beginning or the end.",
        )

    too_long = [name for name in names if len(name) > MAX_COLUMN_NAME]
    if too_long:
        raise TableError(
            INVALID_COLUMN_CODE,
            f"Invalid columns: {', '.join(too_long)}: a column name may have at most "
            f"{MAX_COLUMN_NAME} characters.",
        )

    seen: dict[str, str] = {}
    for name in names:
        other = seen.get(name.lower())
        if other is not None:
            raise TableError(
                "storage.tables.validation.duplicateColumns",
                f'Columns "{other}" and "{name}" are duplicates (column names are '
                "case-insensitive); rename or remove one of them.",
            )
        seen[name.lower()] = name
    if not names:
        raise TableError(INVALID_COLUMN_CODE, "No columns given: a table needs at least one.")
    return names
