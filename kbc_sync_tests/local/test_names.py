"""Bucket, table and column name rules with Keboola's codes and messages."""

from __future__ import annotations

import pytest

from kbc_sync.local.names import split_table_id, validate_column_names, validate_table_name
from kbc_sync.local.tableerrors import TableError


@pytest.mark.parametrize("name", ["users", "my-table_2", "_private", "T"])
def test_validate_table_name_accepts_documented_characters(name: str) -> None:
    validate_table_name(name)


@pytest.mark.parametrize("name", ["my table", "tab.le", "žluť", "", "a/b"])
def test_validate_table_name_refuses_other_characters(name: str) -> None:
    with pytest.raises(TableError, match=r"contains not allowed characters\. Only alphanumeric"):
        validate_table_name(name)


def test_validate_table_name_refuses_over_96_characters() -> None:
    with pytest.raises(TableError, match="is 97 characters long; use at most 96"):
        validate_table_name("a" * 97)


def test_split_table_id_returns_bucket_and_name() -> None:
    assert split_table_id("in.c-crm-copy.orders") == ("in.c-crm-copy", "orders")


@pytest.mark.parametrize("table_id", ["users", "in.users", "x.c-main.users", "in.c-.users"])
def test_split_table_id_refuses_malformed_ids(table_id: str) -> None:
    with pytest.raises(TableError, match="is not valid"):
        split_table_id(table_id)


def test_validate_column_names_accepts_documented_names() -> None:
    assert validate_column_names(["id", "first-name", "a_b", "X1"]) == [
        "id", "first-name", "a_b", "X1",
    ]  # fmt: skip


def test_validate_column_names_timestamp_has_keboola_message() -> None:
    with pytest.raises(TableError) as failure:
        validate_column_names(["id", "_timestamp"])

    assert failure.value.code == "storage.tables.validation.invalidColumnName"
    assert failure.value.message == (
        "Invalid columns: _timestamp: Only alphanumeric characters and underscores are allowed "
        "in the column name. Underscore is not allowed on the beginning."
    )


@pytest.mark.parametrize("name", ["_x", "x_", "-x", "x-", "a b", "a.b", "ů", ""])
def test_validate_column_names_refuses_bad_characters_and_edges(name: str) -> None:
    with pytest.raises(TableError, match=r"Invalid columns: .*Only alphanumeric") as failure:
        validate_column_names(["id", name])

    assert failure.value.code == "storage.tables.validation.invalidColumnName"


def test_validate_column_names_refuses_case_insensitive_duplicates() -> None:
    with pytest.raises(TableError, match='Columns "Id" and "id" are duplicates'):
        validate_column_names(["Id", "name", "id"])


def test_validate_column_names_refuses_exact_duplicates() -> None:
    with pytest.raises(TableError, match='Columns "id" and "id" are duplicates'):
        validate_column_names(["id", "id"])


def test_validate_column_names_refuses_over_64_characters() -> None:
    with pytest.raises(TableError, match="at most 64 characters"):
        validate_column_names(["a" * 65])
