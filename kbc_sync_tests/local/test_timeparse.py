"""changedSince / changedUntil parsing: unix, ISO 8601, strtotime-like relative strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kbc_sync.local.tableerrors import TableError
from kbc_sync.local.timeparse import format_keboola_time, parse_time, to_naive_utc

NOW = datetime(2024, 1, 31, 15, 30, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1360138863", datetime(2013, 2, 6, 8, 21, 3, tzinfo=UTC)),
        (1360138863, datetime(2013, 2, 6, 8, 21, 3, tzinfo=UTC)),
        ("@1360138863", datetime(2013, 2, 6, 8, 21, 3, tzinfo=UTC)),
        ("1360138863.5", datetime(2013, 2, 6, 8, 21, 3, 500000, tzinfo=UTC)),
        ("2013-02-12T15:19:21+00:00", datetime(2013, 2, 12, 15, 19, 21, tzinfo=UTC)),
        ("1989-11-17T21:00:00+0200", datetime(1989, 11, 17, 19, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00-05:30", datetime(2024, 5, 1, 15, 30, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01 10:00:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456789+00", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_parse_time_absolute_forms(value: str | int, expected: datetime) -> None:
    assert parse_time(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("now", NOW),
        ("-2 days", NOW - timedelta(days=2)),
        ("-15 minutes", NOW - timedelta(minutes=15)),
        ("-1 min", NOW - timedelta(minutes=1)),
        ("-30 second", NOW - timedelta(seconds=30)),
        ("+1 hour", NOW + timedelta(hours=1)),
        ("1 day", NOW + timedelta(days=1)),
        ("3 hours ago", NOW - timedelta(hours=3)),
        ("-1 week -2 hours", NOW - timedelta(weeks=1, hours=2)),
        ("-1 fortnight", NOW - timedelta(weeks=2)),
        ("  -2 DAYS ", NOW - timedelta(days=2)),
        ("today", datetime(2024, 1, 31, tzinfo=UTC)),
        ("yesterday", datetime(2024, 1, 30, tzinfo=UTC)),
        # strtotime lets the day overflow: Jan 31 + 1 month = Feb 31 = Mar 2 (2024 is leap).
        ("+1 month", datetime(2024, 3, 2, 15, 30, 45, tzinfo=UTC)),
        ("-1 year", datetime(2023, 1, 31, 15, 30, 45, tzinfo=UTC)),
    ],
)
def test_parse_time_relative_forms(value: str, expected: datetime) -> None:
    assert parse_time(value, NOW) == expected


def test_parse_time_relative_uses_now_in_utc() -> None:
    prague = timezone(timedelta(hours=1))

    parsed = parse_time("-1 hour", datetime(2024, 1, 1, 13, 0, tzinfo=prague))

    assert parsed == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["", "yesterdayish", "-2 parsecs", "2024-13-01", "next to"])
def test_parse_time_unknown_form_is_refused_with_hint(value: str) -> None:
    with pytest.raises(TableError, match=r'Invalid changedUntil ".*": use a unix timestamp') as e:
        parse_time(value, NOW, field="changedUntil")

    assert e.value.code == "storage.validation.invalidDate"
    assert e.value.status == 400


def test_format_keboola_time_uses_offset_without_colon() -> None:
    assert format_keboola_time(datetime(2019, 8, 14, 16, 54, 6, tzinfo=UTC)) == (
        "2019-08-14T16:54:06+0000"
    )
    assert format_keboola_time(None) is None


def test_to_naive_utc_converts_offsets() -> None:
    moment = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))

    assert to_naive_utc(moment) == datetime(2023, 12, 31, 23, 0)
