"""A clock the local stack reads for every time it records, so tests can set it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Real UTC time by default; `set` freezes it and `advance` moves it.

    Row `_timestamp`s, `lastImportDate`/`lastChangeDate`, job and file times and relative window
    strings such as `-2 days` are all read from one clock, so a test can build an exact window
    without sleeping.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def set(self, dt: datetime) -> None:
        """Freeze the clock at `dt` (a naive value is taken as UTC)."""
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        with self._lock:
            self._frozen = dt.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by `delta`, frozen or not."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def release(self) -> None:
        """Go back to real time."""
        with self._lock:
            self._frozen = None
            self._offset = timedelta()
