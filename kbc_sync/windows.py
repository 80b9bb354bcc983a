"""Window cadences of `changed_in_last`: parsing, length, cron expression and partition format.

A cadence is accepted only when it tiles the next larger unit evenly (15 minutes tile an hour,
6 hours tile a day), so every window starts at the same wall-clock times each day and the
partitions, the schedule ticks and Keboola's `changedSince`/`changedUntil` all line up.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

Unit = Literal["minutes", "hours", "days", "weeks"]

ALLOWED_WINDOWS = (
    "'N minutes' with N dividing 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60), "
    "'N hours' with N dividing 24 (1, 2, 3, 4, 6, 8, 12, 24), '1 day', '1 week' "
    "(singular or plural), or 'adaptive'"
)

_PATTERN = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$", re.IGNORECASE)

# How many of each unit make one of the next larger unit; days and weeks allow only 1.
_TILES = {"minutes": 60, "hours": 24, "days": 1, "weeks": 1}
_WHOLE = {"minutes": "an hour", "hours": "a day", "days": "a week", "weeks": "a year"}

# Partition keys: sub-daily windows need the time of day, whole days do not.
_FMT_INTRADAY = "%Y-%m-%d-%H:%M"
_FMT_DAILY = "%Y-%m-%d"


class Cadence(BaseModel):
    """A window cadence such as `15 minutes` or `1 day`, always counted in UTC.

    Attributes:
        amount: how many units one window spans.
        unit: `minutes`, `hours`, `days` or `weeks`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Cadence:
        """Parse `N minutes|hours|days|weeks` (singular or plural) into a window.

        Raises:
            ValueError: the text is not a cadence, or one that does not tile an hour or a day;
                the message lists what is allowed.
        """
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(f"found {text!r}; allowed: {ALLOWED_WINDOWS}")

        amount, unit = int(match.group(1)), f"{match.group(2).lower()}s"
        tiles = _TILES[unit]
        if amount < 1 or tiles % amount != 0:
            raise ValueError(
                f"found {text!r}, which does not split {_WHOLE[unit]} into equal windows; "
                f"allowed: {ALLOWED_WINDOWS}"
            )
        return cls(amount=amount, unit=unit)

    @property
    def timedelta(self) -> timedelta:
        """Length of one window."""
        return timedelta(**{self.unit: self.amount})

    @property
    def cron(self) -> str:
        """Cron expression (UTC) that ticks at every window boundary.

        Weekly windows run Monday to Monday, as ISO 8601 weeks do.
        """
        if self.unit == "minutes" and self.amount < 60:
            return "* * * * *" if self.amount == 1 else f"*/{self.amount} * * * *"
        if self.unit == "minutes" or (self.unit == "hours" and self.amount == 1):
            return "0 * * * *"
        if self.unit == "hours" and self.amount < 24:
            return f"0 */{self.amount} * * *"
        if self.unit == "weeks":
            return "0 0 * * 1"
        return "0 0 * * *"

    @property
    def fmt(self) -> str:
        """strftime format of the partition keys for this cadence."""
        return _FMT_DAILY if self.timedelta >= timedelta(days=1) else _FMT_INTRADAY

    def __str__(self) -> str:
        singular = self.unit[:-1]
        return f"{self.amount} {singular if self.amount == 1 else self.unit}"
