from datetime import timedelta

import pytest

from kbc_sync.windows import Cadence


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("15 minutes", 15, "minutes"),
        ("1 minute", 1, "minutes"),
        ("60 minutes", 60, "minutes"),
        ("6 hours", 6, "hours"),
        ("1 Hour", 1, "hours"),
        ("24 hours", 24, "hours"),
        ("1 day", 1, "days"),
        ("1 days", 1, "days"),
        ("1 week", 1, "weeks"),
        ("  2 hours ", 2, "hours"),
    ],
)
def test_window_parse_even_cadence_accepted(text, amount, unit):
    window = Cadence.parse(text)

    assert (window.amount, window.unit) == (amount, unit)


@pytest.mark.parametrize("text", ["7 minutes", "5 hours", "2 days", "2 weeks", "0 hours"])
def test_window_parse_uneven_cadence_rejected(text):
    with pytest.raises(
        ValueError, match=rf"found '{text}', which does not split .* allowed: 'N mi"
    ):
        Cadence.parse(text)


@pytest.mark.parametrize("text", ["daily", "1 month", "15m", "-1 day", ""])
def test_window_parse_not_a_cadence_rejected(text):
    with pytest.raises(ValueError, match=r"allowed: 'N minutes' with N dividing 60 .*'adaptive'"):
        Cadence.parse(text)


@pytest.mark.parametrize(
    ("text", "delta", "cron", "fmt"),
    [
        ("1 minute", timedelta(minutes=1), "* * * * *", "%Y-%m-%d-%H:%M"),
        ("15 minutes", timedelta(minutes=15), "*/15 * * * *", "%Y-%m-%d-%H:%M"),
        ("60 minutes", timedelta(hours=1), "0 * * * *", "%Y-%m-%d-%H:%M"),
        ("1 hour", timedelta(hours=1), "0 * * * *", "%Y-%m-%d-%H:%M"),
        ("6 hours", timedelta(hours=6), "0 */6 * * *", "%Y-%m-%d-%H:%M"),
        ("24 hours", timedelta(days=1), "0 0 * * *", "%Y-%m-%d"),
        ("1 day", timedelta(days=1), "0 0 * * *", "%Y-%m-%d"),
        ("1 week", timedelta(weeks=1), "0 0 * * 1", "%Y-%m-%d"),
    ],
)
def test_window_properties_match_cadence(text, delta, cron, fmt):
    window = Cadence.parse(text)

    assert (window.timedelta, window.cron, window.fmt) == (delta, cron, fmt)


def test_window_str_singular_and_plural():
    texts = (str(Cadence.parse("1 days")), str(Cadence.parse("15 minute")))

    assert texts == ("1 day", "15 minutes")
