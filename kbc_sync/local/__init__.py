"""The local Keboola Storage stack: a Storage API and S3 server on loopback for dev and tests."""

from __future__ import annotations

from typing import Any

from kbc_sync.local.clock import Clock

__all__ = ["Clock", "LocalStack"]


def __getattr__(name: str) -> Any:
    # LocalStack pulls in moto and boto3; the table engine's modules load without them.
    if name == "LocalStack":
        from kbc_sync.local.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
