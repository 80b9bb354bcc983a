"""Wire conventions: PHP-style forms, flags, dates, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kbc_sync.local import Clock
from kbc_sync.local.protocol import ApiFailure, flag, format_date, parse_form, php_map, text_list


def test_parse_form_bracket_arrays_become_lists() -> None:
    parsed = parse_form("tags[]=a&tags[]=b&columns[0]=x&columns[1]=y&name=t")

    assert parsed == {"tags": ["a", "b"], "columns": ["x", "y"], "name": "t"}


def test_parse_form_nested_filters_keep_structure() -> None:
    raw = (
        "whereFilters[0][column]=city&whereFilters[0][operator]=eq"
        "&whereFilters[0][values][]=Praha&whereFilters[0][values][]=Brno"
    )

    parsed = parse_form(raw)

    assert parsed["whereFilters"] == [
        {"column": "city", "operator": "eq", "values": ["Praha", "Brno"]}
    ]


def test_parse_form_sparse_indexes_stay_a_map() -> None:
    assert parse_form("a[1]=x&a[3]=y") == {"a": {"1": "x", "3": "y"}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("1", True), ("0", False), ("true", True), ("false", False)],
)
def test_flag_accepts_json_and_form_booleans(value: object, expected: bool) -> None:
    assert flag({"x": value}, "x") is expected


def test_flag_other_text_is_refused() -> None:
    with pytest.raises(ApiFailure, match='Invalid value "yes" for "x"'):
        flag({"x": "yes"}, "x")


def test_text_list_comma_string_splits_only_where_allowed() -> None:
    assert text_list({"pk": "id,name"}, "pk", comma=True) == ["id", "name"]
    assert text_list({"pk": "id,name"}, "pk", comma=False) == ["id,name"]


def test_php_map_empty_is_a_list() -> None:
    assert php_map({}) == []
    assert php_map({"a": 1}) == {"a": 1}


def test_format_date_uses_compact_offset() -> None:
    assert format_date(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05+0000"


def test_clock_set_advance_release() -> None:
    clock = Clock()
    moment = datetime(2020, 5, 1, 12, 0, tzinfo=UTC)

    clock.set(moment)
    clock.advance(timedelta(minutes=5))
    frozen = clock.now()
    clock.release()

    assert frozen == moment + timedelta(minutes=5)
    assert clock.now().year >= 2025


def test_package_exports_only_stack_and_clock() -> None:
    import kbc_sync.local as local

    assert local.__all__ == ["Clock", "LocalStack"]
    assert local.LocalStack.__name__ == "LocalStack"
