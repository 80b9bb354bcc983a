"""What one table copy is asked to do: the row of the configuration and an optional time window.

This module stands alone (no other kbc_sync import) so that the configuration layer can build
these types without pulling in the Storage client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

Mode = Literal["update", "replace", "recreate"]
MODES: tuple[str, ...] = get_args(Mode)


@dataclass(frozen=True)
class CopySpec:
    """One configured table copy.

    Attributes:
        source_table_id: the table in the source project, e.g. `in.c-crm.customers`.
        target_bucket_id: the bucket in the target project, the only one the target token may
            write to, e.g. `in.c-crm-copy`.
        destination: the table name inside the target bucket.
        mode: `update` (incremental load, primary key from the source), `replace` (full load,
            structure kept) or `recreate` (drop and create from the source's structure).
    """

    source_table_id: str
    target_bucket_id: str
    destination: str
    mode: Mode = "replace"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")

    @property
    def target_table_id(self) -> str:
        """The full id of the target table, `<bucket>.<destination>`."""
        return f"{self.target_bucket_id}.{self.destination}"


@dataclass(frozen=True)
class Window:
    """A half-open time window `[since, until)` over the source rows' `_timestamp`.

    Both ends are kept as timezone-aware UTC datetimes; a naive datetime is refused because
    guessing its zone would silently shift the window.
    """

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Window.{name} must be timezone-aware, got {value.isoformat()}")
            object.__setattr__(self, name, value.astimezone(UTC))
            if value.microsecond:
                raise ValueError(
                    f"Window.{name} must be a whole second, got {value.isoformat()}: Storage "
                    "takes changedSince/changedUntil as unix timestamps in seconds."
                )
        if self.since >= self.until:
            raise ValueError(
                f"Window.since ({self.since.isoformat()}) must be before "
                f"Window.until ({self.until.isoformat()})"
            )

    def __str__(self) -> str:
        return f"[{self.since.isoformat()}, {self.until.isoformat()})"
