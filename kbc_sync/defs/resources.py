"""Dagster resources for the source project and each target project.

A resource only holds settings; `get_client()` hands the engine a plain `StorageClient`, so the
engine and the client never import Dagster. The token comes through `dg.EnvVar`, which Dagster
resolves when a run starts and never shows in the UI.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from kbc_sync.errors import ConfigError
from kbc_sync.storage import StorageClient
from kbc_sync.storage.stacks import resolve_stack_url


class _KeboolaProjectResource(dg.ConfigurableResource):
    """Settings shared by the source and the target resources."""

    url: str | None = Field(
        default=None,
        description="Stack URL, e.g. https://connection.keboola.com (give this or `region`).",
    )
    region: str | None = Field(
        default=None,
        description="Multi-tenant stack by region, e.g. us-east-1 (give this or `url`).",
    )
    token: str = Field(
        description="Storage API token; pass dg.EnvVar('NAME') so it never appears in the UI.",
    )
    token_env: str | None = Field(
        default=None,
        description="Name of the environment variable holding the token, quoted in errors.",
    )
    connect_timeout: float = Field(
        default=10.0, description="Seconds to wait for a connection to the Storage API."
    )
    read_timeout: float = Field(
        default=300.0, description="Seconds to wait for a Storage API response."
    )
    max_retries: int = Field(
        default=8, description="Retries of a call on 5xx, 429, maintenance or a lost connection."
    )
    backoff_max: float = Field(
        default=60.0, description="Longest pause in seconds between two retries."
    )
    job_poll_max_interval: float = Field(
        default=5.0, description="Longest pause in seconds between two polls of a Storage job."
    )
    job_timeout: float = Field(
        default=6 * 3600.0, description="Seconds a Storage job may run before the copy gives up."
    )

    @property
    def stack_url(self) -> str:
        """The stack URL, from `url` or `region`."""
        value = self.url or self.region
        if not value:
            raise ConfigError(f"{type(self).__name__} needs `url` or `region`; set one of them.")
        return resolve_stack_url(value)

    def get_client(self, **overrides: Any) -> StorageClient:
        """Return a Storage client built from these settings.

        Args:
            **overrides: client settings that replace the resource's, for instance shorter
                retries in a sensor that must answer within Dagster's tick deadline.
        """
        settings: dict[str, Any] = {
            "token_env": self.token_env,
            "timeout": (self.connect_timeout, self.read_timeout),
            "max_retries": self.max_retries,
            "backoff_max": self.backoff_max,
            "job_poll_max_interval": self.job_poll_max_interval,
            "job_timeout": self.job_timeout,
        }
        settings.update(overrides)
        return StorageClient(self.stack_url, self.token, **settings)


class KeboolaSourceResource(_KeboolaProjectResource):
    """The Keboola project the tables are copied from; any token that can read them.

    Example:
        .. code-block:: python

            KeboolaSourceResource(url="https://connection.keboola.com",
                                  token=dg.EnvVar("KBC_SOURCE_TOKEN"),
                                  token_env="KBC_SOURCE_TOKEN")
    """


class KeboolaTargetResource(_KeboolaProjectResource):
    """One target: a Keboola project and the one bucket its token may write to."""

    bucket: str = Field(description="The bucket the copies land in, the token's only bucket.")
    parallel_copies: int = Field(
        default=4,
        ge=1,
        description="Tables one step copies at the same time (they mostly wait on Storage jobs).",
    )
