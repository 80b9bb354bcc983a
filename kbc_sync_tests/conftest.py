"""Fixtures shared across the suite: the local Storage stack, started once in-process."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from kbc_sync.local import LocalStack

# Small slices so a few hundred rows already make a many-sliced export.
LOCAL_SLICE_ROWS = 100

_exit_status: list[int] = []


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """One local stack (API + S3) on free loopback ports for the whole session."""
    with LocalStack(port=0, slice_rows=LOCAL_SLICE_ROWS) as stack:
        yield stack


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the test process with pytest's verdict, skipping the interpreter's teardown.

    Once in several full runs, after every test had passed and the summary was printed, the
    process died in that teardown ("terminate called after throwing an instance of ''"): a
    daemon thread inside a native C++ library (DuckDB or gRPC, which the cloud SDKs import) is
    unwound while the interpreter shuts down. The verdict is settled by then, so it is kept.
    """
    if _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
