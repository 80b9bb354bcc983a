"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kbc_sync.storage import StorageClient
from kbc_sync_tests.storage.stub import StubServer

TOKEN = "1234-56789-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"


@pytest.fixture(name="stub")
def stub_fixture() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture(name="client")
def client_fixture(stub: StubServer) -> StorageClient:
    """A client of the stub with waits short enough for tests."""
    return StorageClient(
        stub.url,
        TOKEN,
        token_env="KBC_TEST_TOKEN",
        timeout=(2, 5),
        max_retries=3,
        backoff_base=0.01,
        backoff_max=0.05,
        retry_after_max=0.1,
        job_poll_max_interval=0.05,
        job_timeout=5,
    )
