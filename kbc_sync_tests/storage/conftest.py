"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kbc_sync.storage import StorageClient
from kbc_sync_tests.storage.local import Project, new_project
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


@pytest.fixture(name="project")
def project_fixture(local_stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fresh project on the local stack; boto3 reaches its S3 through AWS_ENDPOINT_URL_S3."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", local_stack.s3_endpoint_url)
    yield new_project(local_stack)
    local_stack.clear_faults()
