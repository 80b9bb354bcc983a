"""Fixtures shared across the suite: the local Storage stack, started once in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kbc_sync.local import LocalStack

# Small slices so a few hundred rows already make a many-sliced export.
LOCAL_SLICE_ROWS = 100


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """One local stack (API + S3) on free loopback ports for the whole session."""
    with LocalStack(port=0, slice_rows=LOCAL_SLICE_ROWS) as stack:
        yield stack
