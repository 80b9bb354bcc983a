"""Parse `changedSince` / `changedUntil` the way Keboola Storage accepts them.

Keboola documents these values as "a unix timestamp or any date accepted by strtotime", with
the examples `-2 days`, `1360138863` and `2013-02-12T15:19:21+00:00`; input mapping sends
`-N days` and ISO strings such as `1989-11-17T21:00:00+0200`. This module accepts:

- unix timestamps, optionally with a fraction, and strtotime's `@1360138863`;
- ISO 8601 dates and date-times, with `T` or a space, offsets `Z`, `+00:00`, `+0000`, `+00`;
  a value without an offset is read as UTC (Keboola's servers run in UTC);
- `now`, `today`, `midnight`, `yesterday`, `tomorrow`;
- relative terms, one or several: `-2 days`, `-15 minutes`, `+1 week`, `1 day`, `3 hours ago`,
  `-1 day -2 hours`, with strtotime's units (sec, second, min, minute, hour, day, week,
  fortnight, month, year and their plurals). Months and years move the calendar date and let
  an overflowing day roll into the next month, as strtotime does (Jan 31 + 1 month = Mar 3).

Anything else is refused with a `TableError` naming the parameter and the accepted forms,
where strtotime would guess; a wrong window is worse than a clear error.

Window semantics (used by the table store): `changedSince` is inclusive and `changedUntil`
exclusive, so consecutive windows `[a, b)`, `[b, c)` never share or drop a row.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from kbc_sync.local.tableerrors import TableError

_UNIX = re.compile(r"@?(-?\d+)(\.\d+)?")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_TERM = re.compile(r"\s*([+-]?)\s*(\d+)\s*([a-z]+)(\s+ago)?", re.IGNORECASE)
_UNITS = {
    "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "hour": "hours", "hours": "hours",
    "day": "days", "days": "days",
    "week": "weeks", "weeks": "weeks",
    "fortnight": "fortnights", "fortnights": "fortnights",
    "month": "months", "months": "months",
    "year": "years", "years": "years",
}  # fmt: skip


def parse_time(value: str | int | float, now: datetime, *, field: str = "changedSince") -> datetime:
    """Turn a `changedSince`-style value into an aware UTC datetime.

    Args:
        value: the value as the request carried it.
        now: the current time (the stack's clock), for relative values.
        field: the parameter name, for the error message.

    Returns:
        The point in time, timezone-aware, in UTC.

    Raises:
        TableError: `storage.validation.invalidDate` when the value is none of the forms above.
    """
    text = str(value).strip()
    now = _as_utc(now)

    parsed = _parse_unix(text) or _parse_iso(text) or _parse_keyword(text, now)
    if parsed is None:
        parsed = _parse_relative(text, now)
    if parsed is None:
        raise TableError(
            "storage.validation.invalidDate",
            f'Invalid {field} "{text}": use a unix timestamp (1360138863), an ISO 8601 date '
            '(2013-02-12T15:19:21+00:00) or a relative time such as "-2 days" or "-15 minutes".',
        )
    return parsed


def format_keboola_time(moment: datetime | None) -> str | None:
    """Format a datetime as Storage API responses do: `2019-08-14T16:54:06+0000`."""
    if moment is None:
        return None
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S%z")


def to_naive_utc(moment: datetime) -> datetime:
    """UTC wall time without tzinfo, as `_timestamp` is stored (Snowflake TIMESTAMP_NTZ)."""
    return _as_utc(moment).replace(tzinfo=None)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _parse_unix(text: str) -> datetime | None:
    match = _UNIX.fullmatch(text)
    if not match:
        return None

    seconds = int(match.group(1))
    fraction = float(match.group(2) or 0)
    if seconds < 0:
        fraction = -fraction
    return datetime.fromtimestamp(0, UTC) + timedelta(seconds=seconds + fraction)


def _parse_iso(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if not match:
        return None

    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
    try:
        moment = datetime(
            int(year), int(month), int(day),
            int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None

    if offset and offset.upper() != "Z":
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment = moment - delta if offset[0] == "+" else moment + delta
    return moment


def _parse_keyword(text: str, now: datetime) -> datetime | None:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    keywords = {
        "now": now,
        "today": midnight,
        "midnight": midnight,
        "yesterday": midnight - timedelta(days=1),
        "tomorrow": midnight + timedelta(days=1),
    }
    return keywords.get(text.lower())


def _parse_relative(text: str, now: datetime) -> datetime | None:
    position = 0
    moment = now
    while position < len(text):
        match = _TERM.match(text, position)
        if not match or match.group(3).lower() not in _UNITS:
            return None

        sign, amount, unit, ago = match.groups()
        count = int(amount) * (-1 if sign == "-" else 1) * (-1 if ago else 1)
        moment = _shift(moment, count, _UNITS[unit.lower()])
        position = match.end()
    return moment if position else None


def _shift(moment: datetime, count: int, unit: str) -> datetime:
    if unit in ("months", "years"):
        months = count * (12 if unit == "years" else 1)
        return _add_months(moment, months)

    if unit == "fortnights":
        return moment + timedelta(weeks=2 * count)
    return moment + timedelta(**{unit: count})


def _add_months(moment: datetime, months: int) -> datetime:
    # strtotime keeps the day number and lets it overflow into the following month.
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    first = moment.replace(year=year, month=month + 1, day=1)
    overflow = moment.day - 1
    days_in_month = calendar.monthrange(year, month + 1)[1]
    if moment.day > days_in_month:
        return first + timedelta(days=overflow)
    return first.replace(day=moment.day)
