"""A local Storage stack with small slices, and fresh source and target projects per test."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from kbc_sync.local import LocalStack
from kbc_sync.storage import StorageClient
from kbc_sync.storage.files import open_file_store

# Small slices let a few hundred rows make a many-sliced export.
SLICE_ROWS = 50
SOURCE_BUCKET = "in.c-src"
TARGET_BUCKET = "in.c-copy"
# A table for proving "loaded exactly once": several slices and no primary key, so a second
# load would double the rows.
ONCE_COLUMNS = ["id", "name"]
ONCE_ROWS = [[str(i), f"n{i}"] for i in range(SLICE_ROWS * 3)]

_names = itertools.count(1)
# Values of a few hundred kB must survive the round trip; the csv module refuses them by default.
csv.field_size_limit(sys.maxsize)


@pytest.fixture(scope="session")
def engine_stack() -> Iterator[LocalStack]:
    """One stack for the engine tests; each test gets its own projects in it."""
    mp = pytest.MonkeyPatch()
    with LocalStack(slice_rows=SLICE_ROWS) as stack:
        mp.setenv("AWS_ENDPOINT_URL_S3", stack.s3_endpoint_url)
        yield stack
    mp.undo()


@dataclass
class Projects:
    """A source project with bucket `in.c-src` and a target project with `in.c-copy`.

    `source` holds a master token of the source; `target` the bucket-write token the engine
    needs; `target_admin` a master token of the target, for looking at what a copy did.
    """

    stack: LocalStack
    source_project: int
    target_project: int
    source: StorageClient
    target: StorageClient
    target_admin: StorageClient
    source_token: str
    target_token: str
    target_admin_token: str

    def seed(
        self,
        name: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[str | None]],
        *,
        primary_key: Sequence[str] = (),
        definition: list[dict] | None = None,
        project: str = "source",
    ) -> str:
        """Create a table in the source (or target) bucket with these rows; return its id."""
        project_id, bucket = (
            (self.source_project, SOURCE_BUCKET)
            if project == "source"
            else (self.target_project, TARGET_BUCKET)
        )
        table_id = f"{bucket}.{name}"
        self.stack.seed_table(
            project_id,
            table_id,
            list(columns),
            [list(row) for row in rows],
            primary_key=tuple(primary_key),
            definition=definition,
        )
        return table_id


@pytest.fixture
def projects(engine_stack: LocalStack) -> Iterator[Projects]:
    """Fresh projects and tokens for one test; faults and the clock are reset afterwards."""
    number = next(_names)
    source_project = engine_stack.add_project(f"Source {number}")
    target_project = engine_stack.add_project(f"Target {number}")
    engine_stack.create_bucket(source_project, SOURCE_BUCKET)
    engine_stack.create_bucket(target_project, TARGET_BUCKET)
    source_token = engine_stack.add_token(source_project, master=True)
    target_token = engine_stack.add_token(
        target_project, bucket_permissions={TARGET_BUCKET: "write"}, description="writer"
    )
    admin_token = engine_stack.add_token(target_project, master=True)
    projects = Projects(
        stack=engine_stack,
        source_project=source_project,
        target_project=target_project,
        source=_client(engine_stack, source_token, "KBC_SOURCE_TOKEN"),
        target=_client(engine_stack, target_token, "KBC_TARGET_TOKEN"),
        target_admin=_client(engine_stack, admin_token, "KBC_TARGET_MASTER_TOKEN"),
        source_token=source_token,
        target_token=target_token,
        target_admin_token=admin_token,
    )
    yield projects
    # Closed sessions end the server threads that keep their connections alive.
    for client in (projects.source, projects.target, projects.target_admin):
        client.session.close()
    engine_stack.clear_faults()
    engine_stack.clock.release()


def _client(stack: LocalStack, token: str, env: str) -> StorageClient:
    # Short waits keep fault tests quick; the retry rules themselves are the client's.
    return StorageClient(
        stack.url,
        token,
        token_env=env,
        backoff_base=0.05,
        backoff_max=0.2,
        retry_after_max=5.0,
        job_poll_max_interval=0.2,
    )


def table_rows(client: StorageClient, table_id: str) -> list[tuple[str, ...]]:
    """Export a table through the API and return its rows, sorted, as tuples of strings."""
    job = client.wait_for_job(client.start_export(table_id, gzip=True))
    detail = client.get_file(job["results"]["file"]["id"], federation_token=True)
    store = open_file_store(detail)
    rows: list[tuple[str, ...]] = []
    for url in store.slice_urls(detail):
        stream = store.open_slice(url)
        try:
            text = gzip.decompress(stream.read()).decode("utf-8")
        finally:
            stream.close()
        rows.extend(tuple(row) for row in csv.reader(io.StringIO(text, newline="")))
    return sorted(rows)


def target_jobs(projects: Projects) -> list[dict]:
    """Every Storage job of the target project, oldest first."""
    return list(reversed(projects.target_admin.list_jobs(limit=1000)))


def load_rows(
    client: StorageClient,
    table_id: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    incremental: bool = True,
) -> None:
    """Import rows into an existing table through the API, as another Keboola job would."""
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    prepared = client.prepare_file("rows.csv.gz", sliced=True)
    store = open_file_store(prepared)
    store.upload_slice(
        prepared, "part0.csv.gz", io.BytesIO(gzip.compress(text.getvalue().encode()))
    )
    store.write_manifest(prepared, ["part0.csv.gz"])
    # Slices of a sliced file carry no header; the import names the columns.
    job = client.start_import(table_id, prepared["id"], incremental=incremental, columns=columns)
    client.wait_for_job(job)
