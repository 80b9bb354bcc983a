"""A fresh project with a master token and a bucket on the shared local stack, per test."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kbc_sync.storage import StorageClient


@dataclass
class Project:
    """One project of the local stack, seen through a StorageClient with its master token."""

    stack: Any
    id: int
    token: str
    bucket: str
    client: StorageClient

    def seed(self, name: str, rows: int, *, primary_key: Sequence[str] = ("id",)) -> str:
        """Create table `name` with columns id, name and `rows` rows; return its id."""
        table_id = f"{self.bucket}.{name}"
        data = [(str(i), f"name {i}") for i in range(rows)]
        self.stack.seed_table(self.id, table_id, ["id", "name"], data, primary_key=primary_key)
        return table_id


def new_project(stack: Any, **client_options: Any) -> Project:
    """Create a project with a unique name, a master token and bucket `in.c-<name>`."""
    name = f"p{uuid.uuid4().hex[:10]}"
    project_id = stack.add_project(name)
    token = stack.add_token(project_id, master=True)
    bucket = f"in.c-{name}"
    stack.create_bucket(project_id, bucket)
    options = {
        "token_env": "KBC_LOCAL_TOKEN",
        "timeout": (5, 30),
        "max_retries": 3,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "retry_after_max": 5.0,
        "job_poll_max_interval": 0.1,
        "job_timeout": 60,
    }
    options.update(client_options)
    client = StorageClient(stack.url, token, **options)
    return Project(stack, project_id, token, bucket, client)
