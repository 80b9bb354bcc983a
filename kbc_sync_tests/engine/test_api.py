"""The engine's public names, and the spec types the configuration builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import kbc_sync.engine
from kbc_sync.engine import CopySpec, Window


def test_engine_exports_exactly_its_public_api() -> None:
    assert kbc_sync.engine.__all__ == [
        "MODES",
        "CopyPlan",
        "CopyResult",
        "CopySpec",
        "Mode",
        "TargetInfo",
        "TransferProgress",
        "Window",
        "copy_table",
        "plan_copy",
        "verify_target",
    ]


def test_copy_spec_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode 'append' is not one of update, replace, recreate"):
        CopySpec("in.c-a.t", "in.c-b", "t", "append")  # type: ignore[arg-type]


def test_copy_spec_target_table_id_joins_bucket_and_destination() -> None:
    spec = CopySpec("in.c-a.orders", "in.c-copy", "orders_copy", "update")

    assert spec.target_table_id == "in.c-copy.orders_copy"


def test_window_keeps_utc_whatever_the_input_zone() -> None:
    prague = timezone(timedelta(hours=1))
    window = Window(datetime(2026, 3, 1, 11, 0, tzinfo=prague), datetime(2026, 3, 2, tzinfo=UTC))

    assert window.since == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert window.since.tzinfo is UTC
    assert str(window) == "[2026-03-01T10:00:00+00:00, 2026-03-02T00:00:00+00:00)"


def test_window_refuses_a_fraction_of_a_second() -> None:
    # Storage takes unix timestamps in seconds; rounding an end would move the window.
    with pytest.raises(ValueError, match=r"Window.until must be a whole second"):
        Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, 0, 0, 0, 500, tzinfo=UTC))
