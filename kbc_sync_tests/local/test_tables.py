"""TableStore loads: Keboola's import semantics, `_timestamp`, errors, atomicity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kbc_sync.local.tables import LoadFailed, TableError, TableStore
from kbc_sync_tests.local.tables_helpers import T0, TABLE, at, make_table, table_rows, write


@pytest.fixture
def store() -> Iterator[TableStore]:
    table_store = TableStore(None)
    yield table_store
    table_store.close()


def test_create_from_files_header_columns_and_key_described(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n2,b\n")

    table = store.describe(TABLE)

    assert table["columns"] == ["id", "name"]
    assert table["primaryKey"] == ["id"]
    assert table["rowsCount"] == 2
    assert table["isTyped"] is False
    assert "definition" not in table
    assert table["created"] == "2024-03-01T12:00:00+0000"
    assert table["lastImportDate"] == table["lastChangeDate"] == "2024-03-01T12:00:00+0000"


def test_load_full_truncates_then_loads_and_restamps(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n2,b\n")

    result = store.load(
        TABLE, [write(tmp_path, "full.csv", "id,name\n2,b\n3,c\n")], incremental=False, now=at(5)
    )

    assert result.changed is True
    assert result.rows_loaded == 2
    assert table_rows(store, include_timestamp=True) == [
        ["2", "b", "2024-03-01 12:05:00"],
        ["3", "c", "2024-03-01 12:05:00"],
    ]


def test_load_incremental_with_key_upserts_and_keeps_identical_rows(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n2,b\n")

    data = write(tmp_path, "inc.csv", "id,name\n1,a\n2,changed\n3,new\n")
    result = store.load(TABLE, [data], incremental=True, now=at(10))

    assert result.changed is True
    assert table_rows(store, include_timestamp=True) == [
        ["1", "a", "2024-03-01 12:00:00"],
        ["2", "changed", "2024-03-01 12:10:00"],
        ["3", "new", "2024-03-01 12:10:00"],
    ]


def test_load_identical_rows_moves_import_date_but_not_change_date(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n2,b\n")

    data = write(tmp_path, "same.csv", "id,name\n2,b\n1,a\n")
    result = store.load(TABLE, [data], incremental=True, now=at(30))

    table = store.describe(TABLE)
    assert result.changed is False
    assert table["lastImportDate"] == "2024-03-01T12:30:00+0000"
    assert table["lastChangeDate"] == "2024-03-01T12:00:00+0000"


def test_load_incremental_without_key_appends_duplicates(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n", key=())

    store.load(TABLE, [write(tmp_path, "more.csv", "id,name\n1,a\n2,b\n")], incremental=True)

    assert table_rows(store) == [["1", "a"], ["1", "a"], ["2", "b"]]
    assert store.describe(TABLE)["rowsCount"] == 3


def test_load_duplicate_keys_in_one_file_keep_one_row(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n1,b\n1,c\n2,x\n")

    rows = table_rows(store)

    assert len(rows) == 2
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[0][1] in {"a", "b", "c"}


def test_load_new_csv_columns_are_added_with_empty_values(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")

    data = write(tmp_path, "wide.csv", "id,name,city\n2,b,Brno\n")
    result = store.load(TABLE, [data], incremental=True, now=at(1))

    assert result.imported_columns == ["id", "name", "city"]
    assert store.describe(TABLE)["columns"] == ["id", "name", "city"]
    assert table_rows(store, include_timestamp=True) == [
        ["1", "a", "", "2024-03-01 12:00:00"],
        ["2", "b", "Brno", "2024-03-01 12:01:00"],
    ]


def test_load_missing_columns_fails_with_keboola_message(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,boo\n1,a\n")
    data = write(tmp_path, "narrow.csv", "id\n2\n")

    with pytest.raises(LoadFailed) as failure:
        store.load(TABLE, [data], incremental=False)

    assert failure.value.code == "csvImport.columnsNotMatch"
    assert failure.value.message == (
        "Some columns are missing in the csv file. Missing columns: boo. Expected columns: id,boo."
    )
    assert failure.value.results == {"missingColumns": ["boo"], "expectedColumns": ["id", "boo"]}
    assert table_rows(store) == [["1", "a"]]


def test_load_timestamp_column_is_refused(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")
    data = write(tmp_path, "ts.csv", "id,name,_timestamp\n1,a,2024-01-01 00:00:00\n")

    with pytest.raises(LoadFailed, match=r"^Invalid columns: _timestamp: Only alphanumeric") as e:
        store.load(TABLE, [data], incremental=True)

    assert e.value.code == "storage.tables.validation.invalidColumnName"


def test_load_invalid_column_name_is_refused(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")
    data = write(tmp_path, "bad.csv", "id,name,my col\n1,a,x\n")

    with pytest.raises(LoadFailed, match="Invalid columns: my col") as failure:
        store.load(TABLE, [data], incremental=True)

    assert failure.value.code == "storage.tables.validation.invalidColumnName"


def test_load_values_are_kept_byte_exact(store: TableStore, tmp_path: Path) -> None:
    text = (
        'id,value\n1,"Příliš žluťoučký 🐎"\n2,"say ""hi"", then go"\n3,"two\nlines"\n'
        '4,"crlf\r\ninside"\n5,""\n6,\n7," padded "\n'
    )

    make_table(store, tmp_path, text)
    exported = store.export(TABLE, tmp_path / "out", slice_rows=100, gzip=False)

    body = exported[0].read_bytes().decode("utf-8")
    assert sorted(body.split('"\n"')) == sorted(
        [
            '"1","Příliš žluťoučký 🐎',
            '2","say ""hi"", then go',
            '3","two\nlines',
            '4","crlf\r\ninside',
            '5","',
            '6","',
            '7"," padded "\n',
        ]
    )


def test_load_gzip_detected_by_magic_bytes_and_slices_need_columns(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")
    first = write(tmp_path, "slice0", "2,b\n3,c\n", compress=True)
    second = write(tmp_path, "slice1", "4,d\n")
    empty = write(tmp_path, "slice2", "")

    with pytest.raises(LoadFailed, match="list the columns of the slices") as failure:
        store.load(TABLE, [first, second, empty], incremental=True)
    store.load(TABLE, [first, second, empty], incremental=True, columns=["id", "name"])

    assert failure.value.code == "csvImport.columnsNotSet"
    assert table_rows(store) == [["1", "a"], ["2", "b"], ["3", "c"], ["4", "d"]]


def test_load_headerless_without_columns_uses_table_order(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")

    store.load(TABLE, [write(tmp_path, "raw.csv", "2,b\n")], incremental=True, has_header=False)

    assert table_rows(store) == [["1", "a"], ["2", "b"]]


def test_load_malformed_csv_fails_and_leaves_table_as_it_was(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")
    data = write(tmp_path, "broken.csv", "id,name,city\n2,b,x\n3,c,y,extra\n")

    with pytest.raises(LoadFailed, match="The csv file is not valid") as failure:
        store.load(TABLE, [data], incremental=False, now=at(3))

    table = store.describe(TABLE)
    assert failure.value.code == "csvImport.invalidCsv"
    assert table["columns"] == ["id", "name"]
    assert table["lastImportDate"] == "2024-03-01T12:00:00+0000"
    assert table_rows(store) == [["1", "a"]]


def test_load_other_dialect_reads_semicolons_and_backslash_escapes(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")
    data = write(tmp_path, "semi.csv", 'id;name\n2;"x; \\"y\\""\n')

    store.load(TABLE, [data], incremental=True, delimiter=";", escaped_by="\\", enclosure='"')

    assert table_rows(store) == [["1", "a"], ["2", 'x; "y"']]


def test_describe_missing_table_is_404(store: TableStore) -> None:
    with pytest.raises(TableError, match="was not found") as failure:
        store.describe("in.c-main.nope")

    assert failure.value.code == "storage.tables.notFound"
    assert failure.value.status == 404


def test_create_table_twice_is_refused(store: TableStore) -> None:
    store.create_table(TABLE, ["id"], now=T0)

    with pytest.raises(TableError, match="already exists") as failure:
        store.create_table(TABLE, ["id"], now=T0)

    assert failure.value.code == "storage.tables.alreadyExists"


def test_create_table_key_must_name_columns(store: TableStore) -> None:
    with pytest.raises(TableError, match="not found: nope") as failure:
        store.create_table(TABLE, ["id"], primary_key=["nope"], now=T0)

    assert failure.value.code == "storage.tables.validation.invalidPrimaryKeyColumns"
    assert not store.exists(TABLE)


def test_create_from_files_that_fail_leave_no_table(store: TableStore, tmp_path: Path) -> None:
    data = write(tmp_path, "broken.csv", "id,name\n1,a,b\n")

    with pytest.raises(LoadFailed):
        store.create_from_files(TABLE, [data], now=T0)

    assert not store.exists(TABLE)


def test_list_and_drop_tables_by_bucket(store: TableStore) -> None:
    store.create_table("in.c-main.a", ["id"], now=T0)
    store.create_table("in.c-main.b", ["id"], now=T0)
    store.create_table("in.c-main-2.c", ["id"], now=T0)

    store.drop("in.c-main.a")

    assert [table["id"] for table in store.list_tables("in.c-main")] == ["in.c-main.b"]


def test_append_rows_none_is_empty_string_in_non_typed_table(store: TableStore) -> None:
    store.create_table(TABLE, ["id", "name"], primary_key=["id"], now=T0)

    store.append_rows(TABLE, iter([("1", None), ("2", "b")]), now=T0)

    assert table_rows(store) == [["1", ""], ["2", "b"]]


def test_add_and_drop_column_on_non_typed_table(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")

    store.add_column(TABLE, "city", now=at(1))
    described = store.drop_column(TABLE, "name")

    assert described["columns"] == ["id", "city"]
    assert described["lastChangeDate"] == "2024-03-01T12:00:00+0000"
    assert table_rows(store) == [["1", ""]]


def test_file_backed_store_keeps_tables_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "project.duckdb"
    first = TableStore(path)
    make_table(first, tmp_path, "id,name\n1,a\n")
    first.close()

    second = TableStore(path)
    try:
        rows = table_rows(second)
        table = second.describe(TABLE)
    finally:
        second.close()

    assert rows == [["1", "a"]]
    assert table["primaryKey"] == ["id"]


def test_load_not_utf8_names_the_line(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n", key=())
    data = tmp_path / "latin1.csv"
    data.write_bytes("id,name\n2,b\n3,Žluť\n".encode("cp1250"))

    with pytest.raises(LoadFailed, match=r"CSV Error on Line: 3: Invalid unicode"):
        store.load(TABLE, [data], incremental=True)

    assert table_rows(store) == [["1", "a"]]


def test_load_into_missing_table_is_404(store: TableStore, tmp_path: Path) -> None:
    data = write(tmp_path, "a.csv", "id\n1\n")

    with pytest.raises(TableError) as failure:
        store.load("in.c-main.nope", [data], incremental=True)

    assert failure.value.code == "storage.tables.notFound"
    assert failure.value.status == 404


def test_load_incremental_duplicate_keys_fold_to_one_row(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")
    data = write(tmp_path, "dups.csv", "id,name\n2,x\n2,x\n3,y\n3,z\n")

    result = store.load(TABLE, [data], incremental=True, now=at(1))

    rows = table_rows(store)
    assert result.rows_loaded == 4
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert rows[2][1] in {"y", "z"}
