"""TableStore exports and previews: slices, filters, windows on `_timestamp`, snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kbc_sync.local.tables import TableError, TableStore
from kbc_sync_tests.local.tables_helpers import (
    TABLE,
    at,
    make_table,
    read_slices,
    rows_of,
    table_rows,
    write,
)

CITIES = "id,city,amount\n1,Praha,10\n2,Brno,9\n3,Ostrava,100\n4,Praha,2\n5,,7\n"


@pytest.fixture
def store() -> Iterator[TableStore]:
    table_store = TableStore(None)
    yield table_store
    table_store.close()


def test_export_slices_hold_at_most_slice_rows(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, CITIES)

    paths = store.export(TABLE, tmp_path / "out", slice_rows=2, gzip=True, prefix="f.csv")

    assert [path.name for path in paths] == [
        "f.csv0000_part_00.gz",
        "f.csv0001_part_00.gz",
        "f.csv0002_part_00.gz",
    ]
    assert [len(rows_of(read_slices([path]))) for path in paths] == [2, 2, 1]
    assert sorted(rows_of(read_slices(paths))) == sorted(rows_of(CITIES)[1:])


def test_export_is_headerless_rfc4180_with_every_value_enclosed(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n")

    paths = store.export(TABLE, tmp_path / "out", slice_rows=10, gzip=False)

    assert paths[0].read_bytes() == b'"1","a"\n'


def test_export_empty_selection_gives_one_empty_slice(store: TableStore, tmp_path: Path) -> None:
    store.create_table(TABLE, ["id"], now=at(0))

    paths = store.export(TABLE, tmp_path / "out", slice_rows=10, gzip=True)

    assert len(paths) == 1
    assert read_slices(paths) == ""


def test_export_columns_limit_and_timestamp(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, CITIES)

    paths = store.export(
        TABLE, tmp_path / "out", columns=["city"], limit=2, include_timestamp=True,
        slice_rows=10, gzip=False,
    )  # fmt: skip

    rows = rows_of(read_slices(paths))
    assert len(rows) == 2
    assert all(row[1] == "2024-03-01 12:00:00" and len(row) == 2 for row in rows)


def test_export_unknown_column_is_400(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, CITIES)

    with pytest.raises(TableError, match="Columns nope are not in table") as failure:
        store.export(TABLE, tmp_path / "out", columns=["nope"], slice_rows=10)

    assert failure.value.code == "storage.tables.validation.columnNotExists"
    assert failure.value.status == 400


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"column": "city", "operator": "eq", "values": ["Praha", "Brno"]}], ["1", "2", "4"]),
        ([{"column": "city", "operator": "ne", "values": ["Praha"]}], ["2", "3", "5"]),
        ([{"column": "city", "operator": "eq", "values": [""]}], ["5"]),
        # As text "9" > "8" but "10" < "8"; as numbers (next case) it differs.
        ([{"column": "amount", "operator": "gt", "values": ["8"]}], ["2"]),
        (
            [{"column": "amount", "operator": "ge", "values": ["9"], "dataType": "INTEGER"}],
            ["1", "2", "3"],
        ),
        (
            [
                {"column": "city", "operator": "eq", "values": ["Praha"]},
                {"column": "amount", "operator": "lt", "values": ["5"], "dataType": "DOUBLE"},
            ],
            ["4"],
        ),
    ],
)
def test_export_where_filters_are_anded(
    store: TableStore, tmp_path: Path, filters: list[dict[str, object]], expected: list[str]
) -> None:
    make_table(store, tmp_path, CITIES)

    paths = store.export(TABLE, tmp_path / "out", where_filters=filters, slice_rows=10, gzip=False)

    assert sorted(row[0] for row in rows_of(read_slices(paths))) == expected


def test_export_ordering_operator_with_two_values_is_refused(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, CITIES)
    filters = [{"column": "amount", "operator": "gt", "values": ["1", "2"]}]

    with pytest.raises(TableError, match='operator "gt" takes exactly one value'):
        store.export(TABLE, tmp_path / "out", where_filters=filters, slice_rows=10)


def test_export_window_since_inclusive_until_exclusive(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n", now=at(0))
    store.load(TABLE, [write(tmp_path, "b.csv", "id,name\n2,b\n")], incremental=True, now=at(10))
    store.load(TABLE, [write(tmp_path, "c.csv", "id,name\n3,c\n")], incremental=True, now=at(20))

    paths = store.export(
        TABLE, tmp_path / "out", changed_since=at(10), changed_until=at(20), slice_rows=10
    )

    assert rows_of(read_slices(paths)) == [["2", "b"]]


def test_preview_has_header_and_default_limit_of_100(store: TableStore) -> None:
    store.create_table(TABLE, ["id", "name"], now=at(0))
    store.append_rows(TABLE, ((str(number), "x") for number in range(150)), now=at(0))

    rows = rows_of(store.preview(TABLE))

    assert rows[0] == ["id", "name"]
    assert len(rows) == 101


def test_preview_limit_over_1000_is_refused(store: TableStore) -> None:
    store.create_table(TABLE, ["id"], now=at(0))

    with pytest.raises(TableError, match="at most 1000 rows") as failure:
        store.preview(TABLE, limit=1001)

    assert failure.value.status == 400


def test_snapshot_restores_rows_timestamps_and_key_under_new_name(
    store: TableStore, tmp_path: Path
) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n2,b\n", now=at(0))
    store.snapshot(TABLE, "77", now=at(1))
    store.load(TABLE, [write(tmp_path, "x.csv", "id,name\n9,z\n")], incremental=False, now=at(2))

    restored = store.create_from_snapshot("77", "in.c-main.restored", now=at(3))

    assert restored["primaryKey"] == ["id"]
    assert restored["created"] == "2024-03-01T12:03:00+0000"
    assert table_rows(store, "in.c-main.restored", include_timestamp=True) == [
        ["1", "a", "2024-03-01 12:00:00"],
        ["2", "b", "2024-03-01 12:00:00"],
    ]
    assert store.describe_snapshot("77")["table"] == {
        "id": TABLE,
        "primaryKey": ["id"],
        "columns": ["id", "name"],
    }


def test_drop_snapshot_leaves_table_and_forgets_snapshot(store: TableStore, tmp_path: Path) -> None:
    make_table(store, tmp_path, "id,name\n1,a\n", now=at(0))
    store.snapshot(TABLE, "5", now=at(1))

    store.drop_snapshot("5")

    with pytest.raises(TableError) as failure:
        store.describe_snapshot("5")
    assert failure.value.code == "storage.snapshots.notFound"
    assert table_rows(store) == [["1", "a"]]
