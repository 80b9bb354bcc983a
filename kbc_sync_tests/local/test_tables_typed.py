"""TableStore typed tables: definitions as reported, strict values, `_timestamp` on upserts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kbc_sync.local.tables import LoadFailed, TableError, TableStore
from kbc_sync_tests.local.tables_helpers import TABLE, at, table_rows, write

DEFINITION = [
    {"name": "id", "definition": {"type": "INT", "nullable": False}},
    {"name": "price", "definition": {"type": "NUMBER", "length": "10,2"}},
    {"name": "name", "basetype": "STRING"},
    {"name": "active", "definition": {"type": "BOOLEAN"}},
    {"name": "day", "definition": {"type": "DATE"}},
]


@pytest.fixture
def store() -> Iterator[TableStore]:
    table_store = TableStore(None)
    table_store.create_table(TABLE, None, primary_key=["id"], definition=DEFINITION, now=at(0))
    yield table_store
    table_store.close()


def test_describe_reports_base_types_snowflake_style(store: TableStore) -> None:
    table = store.describe(TABLE)

    assert table["isTyped"] is True
    assert table["columns"] == ["id", "price", "name", "active", "day"]
    assert table["definition"]["primaryKeysNames"] == ["id"]
    assert table["definition"]["columns"][0] == {
        "name": "id",
        "definition": {"type": "NUMERIC", "nullable": False, "length": "38,0"},
        "basetype": "INTEGER",
        "canBeFiltered": True,
    }
    assert [column["definition"]["type"] for column in table["definition"]["columns"]] == [
        "NUMERIC", "NUMERIC", "VARCHAR", "BOOLEAN", "DATE",
    ]  # fmt: skip
    assert table["definition"]["columns"][1]["basetype"] == "NUMERIC"
    assert table["definition"]["columns"][2]["definition"]["length"] == 16_777_216


def test_load_typed_values_export_in_their_type_and_empty_is_null(
    store: TableStore, tmp_path: Path
) -> None:
    data = write(tmp_path, "ok.csv", "id,price,name,active,day\n1,1.5,a,TRUE,2024-01-31\n2,,,,\n")

    store.load(TABLE, [data], incremental=False, now=at(1))

    paths = store.export(TABLE, tmp_path / "out", slice_rows=10, gzip=False)
    assert sorted(paths[0].read_text().splitlines()) == [
        '"1","1.50","a","true","2024-01-31"',
        '"2",,,,',
    ]


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("x,1,a,true,2024-01-01", "id"),
        ("1.0,1,a,true,2024-01-01", "id"),
        ("1,1.234,a,true,2024-01-01", "price"),
        ("1,123456789,a,true,2024-01-01", "price"),
        ("1,1,a,maybe,2024-01-01", "active"),
        ("1,1,a,true,31.1.2024", "day"),
        ("1,1,a,true,2024-02-30", "day"),
    ],
)
def test_load_value_that_does_not_fit_fails_without_conversion(
    store: TableStore, tmp_path: Path, row: str, column: str
) -> None:
    data = write(tmp_path, "bad.csv", f"id,price,name,active,day\n{row}\n")

    with pytest.raises(LoadFailed, match=f'values of column "{column}" do not fit') as failure:
        store.load(TABLE, [data], incremental=True)

    assert failure.value.code == "csvImport.invalidValues"
    assert store.describe(TABLE)["rowsCount"] == 0


def test_load_empty_value_in_not_nullable_column_fails(store: TableStore, tmp_path: Path) -> None:
    data = write(tmp_path, "null.csv", "id,price,name,active,day\n,1,a,true,2024-01-01\n")

    with pytest.raises(LoadFailed, match='Column "id" is not nullable, but 1 rows'):
        store.load(TABLE, [data], incremental=True)


def test_load_typed_duplicate_key_restamps_identical_row(store: TableStore, tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", "id,price,name,active,day\n1,1,a,true,2024-01-01\n")
    store.load(TABLE, [first], incremental=True, now=at(1))

    result = store.load(TABLE, [first], incremental=True, now=at(2))

    assert result.changed is True
    assert table_rows(store, include_timestamp=True) == [
        ["1", "1.00", "a", "true", "2024-01-01", "2024-03-01 12:02:00"]
    ]


def test_load_typed_table_refuses_new_columns(store: TableStore, tmp_path: Path) -> None:
    data = write(tmp_path, "wide.csv", "id,price,name,active,day,extra\n1,1,a,true,2024-01-01,x\n")

    with pytest.raises(LoadFailed, match="not in the typed table: extra") as failure:
        store.load(TABLE, [data], incremental=True)

    assert failure.value.code == "csvImport.columnsNotMatch"
    assert store.describe(TABLE)["columns"] == ["id", "price", "name", "active", "day"]


def test_where_filter_on_typed_column_compares_numbers(store: TableStore, tmp_path: Path) -> None:
    data = write(tmp_path, "n.csv", "id,price,name,active,day\n1,9,a,,\n2,10,b,,\n3,100.5,c,,\n")
    store.load(TABLE, [data], incremental=True, now=at(1))

    rows = table_rows(store, where_filters=[{"column": "price", "operator": "gt", "values": ["9"]}])

    assert [row[0] for row in rows] == ["2", "3"]


def test_add_column_to_typed_table_needs_a_type(store: TableStore) -> None:
    with pytest.raises(TableError, match='give column "note" a definition or basetype'):
        store.add_column(TABLE, "note")

    table = store.add_column(TABLE, "note", basetype="STRING")

    assert table["definition"]["columns"][-1]["name"] == "note"
    assert table["definition"]["columns"][-1]["definition"]["nullable"] is True


def test_create_typed_table_with_unknown_type_is_refused() -> None:
    store = TableStore(None)
    bad = [{"name": "id", "definition": {"type": "VARIANT"}}]

    try:
        with pytest.raises(TableError, match='type "VARIANT" is not supported') as failure:
            store.create_table("in.c-main.v", None, definition=bad, now=at(0))
    finally:
        store.close()

    assert failure.value.code == "storage.tables.validation.invalidDefinition"


def test_definition_without_any_type_creates_non_typed_table() -> None:
    store = TableStore(None)

    try:
        table = store.create_table("in.c-main.p", None, definition=[{"name": "a"}], now=at(0))
    finally:
        store.close()

    assert table["isTyped"] is False
    assert table["columns"] == ["a"]


def test_snapshot_of_typed_table_keeps_definition(store: TableStore) -> None:
    store.snapshot(TABLE, "1", now=at(1))

    restored = store.create_from_snapshot("1", "in.c-main.copy", now=at(2))

    assert restored["isTyped"] is True
    assert restored["definition"] == store.describe(TABLE)["definition"]


def test_typed_float_timestamp_and_short_varchar(tmp_path: Path) -> None:
    store = TableStore(None)
    definition = [
        {"name": "ratio", "definition": {"type": "DOUBLE"}},
        {"name": "at", "definition": {"type": "TIMESTAMP"}},
        {"name": "code", "definition": {"type": "VARCHAR", "length": "3"}},
    ]
    store.create_table("in.c-main.m", None, definition=definition, now=at(0))
    good = write(tmp_path, "good.csv", "ratio,at,code\n0.25,2024-01-02 03:04:05,abc\n")
    long_code = write(tmp_path, "long.csv", "ratio,at,code\n1,2024-01-02 03:04:05,abcd\n")

    try:
        store.load("in.c-main.m", [good], incremental=True, now=at(1))
        with pytest.raises(LoadFailed, match=r'column "code" do not fit its type VARCHAR\(3\)'):
            store.load("in.c-main.m", [long_code], incremental=True, now=at(2))
        rows = table_rows(store, "in.c-main.m")
        types = [
            c["definition"]["type"] for c in store.describe("in.c-main.m")["definition"]["columns"]
        ]
    finally:
        store.close()

    assert rows == [["0.25", "2024-01-02 03:04:05", "abc"]]
    assert types == ["FLOAT", "TIMESTAMP_NTZ", "VARCHAR"]
