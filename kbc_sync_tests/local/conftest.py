"""Per-test projects in the session's local stack, so tests never see each other's data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kbc_sync.local import Clock, LocalStack
from kbc_sync_tests.local.helpers import Api

BUCKET = "in.c-main"
_numbers = itertools.count(1)


@dataclass
class StackProject:
    """A fresh project with bucket `in.c-main`, a master token and the stack's URLs."""

    stack: LocalStack
    project_id: int
    master: Api
    bucket: str
    s3: str

    def token(self, **kwargs: object) -> Api:
        """A further token of this project (same arguments as `LocalStack.add_token`)."""
        return Api(self.stack.url, self.stack.add_token(self.project_id, **kwargs))


@pytest.fixture
def project(local_stack: LocalStack) -> StackProject:
    project_id = local_stack.add_project(f"Test project {next(_numbers)}")
    local_stack.create_bucket(project_id, BUCKET)
    master = Api(local_stack.url, local_stack.add_token(project_id, master=True))
    return StackProject(local_stack, project_id, master, BUCKET, local_stack.s3_endpoint_url)


@pytest.fixture
def clock(local_stack: LocalStack) -> Iterator[Clock]:
    """The stack's clock, back to real time after the test."""
    yield local_stack.clock
    local_stack.clock.release()


@pytest.fixture
def faults(local_stack: LocalStack) -> Iterator[LocalStack]:
    """The stack, with every injected fault cleared after the test."""
    yield local_stack
    local_stack.clear_faults()
