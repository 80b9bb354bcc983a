"""The Storage API client: one stack, one token, plain dicts in and out.

Every call has a timeout, goes through the retry policy of `kbc_sync.storage.retry`, and turns
an error response into the typed errors of `kbc_sync.errors` with a message that names what
was being read or written. Responses come back as Keboola sends them, with the PHP quirks
normalised (`kbc_sync.storage.responses`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from kbc_sync.errors import KbcSyncError, NotFoundError
from kbc_sync.storage import jobs, links
from kbc_sync.storage.redact import register_file_credentials
from kbc_sync.storage.retry import StorageRetry
from kbc_sync.storage.stacks import resolve_stack_url
from kbc_sync.storage.transport import Transport

logger = logging.getLogger(__name__)

Job = dict[str, Any]


def new_run_id() -> str:
    """Return a fresh run id to send with a job-creating call (`X-KBC-RunId`)."""
    return f"kbc-sync-{uuid.uuid4().hex}"


class StorageClient:
    """A client of the Keboola Storage API for one stack and one token.

    Args:
        url: the stack URL or region name (see `resolve_stack_url`).
        token: the Storage API token. It is sent in `X-StorageApi-Token` and masked in all text
            kbc_sync produces.
        token_env: the environment variable the token came from, named in error messages.
        session: a `requests.Session` to use; the client mounts its retrying adapter on it for
            the stack URL only and sets headers per request, so one session can serve several
            clients.
        timeout: seconds for connect and read, or a `(connect, read)` tuple, on every call.
        max_retries: retries of a call after the first attempt.
        backoff_base: first backoff wait in seconds; it doubles per retry up to `backoff_max`.
        backoff_max: the longest backoff wait.
        retry_after_max: the longest wait a `Retry-After` header (maintenance) may ask for.
        job_poll_max_interval: the longest wait between two polls of a job.
        job_timeout: how long `wait_for_job` waits for one job.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        token_env: str | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (10, 300),
        max_retries: int = 8,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 900.0,
        job_poll_max_interval: float = 5.0,
        job_timeout: float = 6 * 3600,
    ) -> None:
        self.url = resolve_stack_url(url)
        self.token_env = token_env
        self.job_poll_max_interval = job_poll_max_interval
        self.job_timeout = job_timeout
        self._project_id: str | None = None

        retry = StorageRetry(
            max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
        )
        self._transport = Transport(
            self.url,
            token,
            token_env=token_env,
            session=session,
            timeout=timeout,
            retry=retry,
        )
        self._call = self._transport.call
        self.session = self._transport.session

    def __repr__(self) -> str:
        return f"StorageClient(url={self.url!r}, token_env={self.token_env!r})"

    # -- tokens, buckets, tables ------------------------------------------------------------

    def verify_token(self) -> dict[str, Any]:
        """Return the token's detail: project (`owner`), `bucketPermissions`, flags."""
        detail = self._call("GET", "tokens/verify", what="the token")
        self._project_id = str((detail.get("owner") or {}).get("id") or "") or None
        return detail

    @property
    def project_id(self) -> str:
        """The id of the token's project (read once with `verify_token`)."""
        if self._project_id is None:
            self.verify_token()
        return self._project_id or ""

    def list_buckets(self) -> list[dict[str, Any]]:
        """Return the buckets the token can see."""
        return self._call("GET", "buckets", what="the list of buckets")

    def get_bucket(self, bucket_id: str) -> dict[str, Any]:
        """Return a bucket's detail."""
        return self._call("GET", f"buckets/{_q(bucket_id)}", what=f'bucket "{bucket_id}"')

    def list_tables(self, bucket_id: str, include: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Return the tables of a bucket; `include` adds `columns`, `metadata` ..."""
        params = {"include": ",".join(include)} if include else None
        return self._call(
            "GET",
            f"buckets/{_q(bucket_id)}/tables",
            params=params,
            what=f'the tables of bucket "{bucket_id}"',
        )

    def get_table(self, table_id: str) -> dict[str, Any]:
        """Return a table's detail (columns, primaryKey, definition, lastChangeDate ...)."""
        return self._call("GET", f"tables/{_q(table_id)}", what=f'table "{table_id}"')

    def find_table(self, table_id: str) -> dict[str, Any] | None:
        """Return a table's detail, or None when it does not exist."""
        try:
            return self.get_table(table_id)
        except NotFoundError:
            return None

    # -- jobs that read or change tables ----------------------------------------------------

    def start_export(
        self,
        table_id: str,
        *,
        changed_since: datetime | str | int | None = None,
        changed_until: datetime | str | int | None = None,
        columns: Sequence[str] | None = None,
        gzip: bool = True,
        include_internal_timestamp: bool = False,
        where_filters: Sequence[dict[str, Any]] | None = None,
        limit: int | None = None,
    ) -> Job:
        """Start `export-async` of a table into a (sliced) file; return the job.

        Datetimes are sent as unix timestamps (whole seconds, the form the API blueprint
        documents for export); strings such as `-2 days` go as they are.
        """
        body: dict[str, Any] = {"gzip": gzip}
        if changed_since is not None:
            body["changedSince"] = _time_param(changed_since)
        if changed_until is not None:
            body["changedUntil"] = _time_param(changed_until)
        if columns:
            body["columns"] = ",".join(columns)
        if include_internal_timestamp:
            body["includeInternalTimestamp"] = True
        if where_filters:
            body["whereFilters"] = list(where_filters)
        if limit is not None:
            body["limit"] = limit
        return self._call(
            "POST", f"tables/{_q(table_id)}/export-async", json=body, what=_t(table_id)
        )

    def start_create_table(
        self,
        bucket_id: str,
        name: str,
        data_file_id: str | int,
        *,
        primary_key: Sequence[str] = (),
        run_id: str | None = None,
    ) -> Job:
        """Start `tables-async`: create a non-typed table from an uploaded CSV file."""
        body: dict[str, Any] = {"name": name, "dataFileId": str(data_file_id)}
        if primary_key:
            body["primaryKey"] = ",".join(primary_key)
        return self._call(
            "POST",
            f"buckets/{_q(bucket_id)}/tables-async",
            json=body,
            run_id=run_id,
            what=_t(f"{bucket_id}.{name}"),
        )

    def start_create_table_definition(
        self,
        bucket_id: str,
        name: str,
        *,
        primary_key: Sequence[str],
        columns: Sequence[dict[str, Any]],
        run_id: str | None = None,
    ) -> Job:
        """Start `tables-definition`: create an empty typed table; `columns` as Keboola lists."""
        body = {"name": name, "primaryKeysNames": list(primary_key), "columns": list(columns)}
        return self._call(
            "POST",
            f"buckets/{_q(bucket_id)}/tables-definition",
            json=body,
            run_id=run_id,
            what=_t(f"{bucket_id}.{name}"),
        )

    def start_import(
        self,
        table_id: str,
        data_file_id: str | int,
        *,
        incremental: bool,
        columns: Sequence[str] | None = None,
        without_headers: bool = False,
        run_id: str | None = None,
    ) -> Job:
        """Start `import-async` of an uploaded file into a table.

        With `columns`, the file has no header and its columns are these, in this order.
        """
        body: dict[str, Any] = {"dataFileId": str(data_file_id), "incremental": incremental}
        if columns:
            body["columns"] = list(columns)
        if without_headers:
            body["withoutHeaders"] = True
        return self._call(
            "POST",
            f"tables/{_q(table_id)}/import-async",
            json=body,
            run_id=run_id,
            what=_t(table_id),
        )

    def start_delete_table(self, table_id: str, *, run_id: str | None = None) -> Job:
        """Start the asynchronous drop of a table (`async=1`; the sync form is deprecated)."""
        return self._call(
            "DELETE",
            f"tables/{_q(table_id)}",
            params={"async": "1"},
            run_id=run_id,
            what=_t(table_id),
        )

    def start_snapshot(
        self, table_id: str, description: str = "", *, run_id: str | None = None
    ) -> Job:
        """Start a snapshot of a table (data, columns, primary key)."""
        body = {"description": description} if description else {}
        return self._call(
            "POST", f"tables/{_q(table_id)}/snapshots", json=body, run_id=run_id, what=_t(table_id)
        )

    def start_create_table_from_snapshot(
        self, bucket_id: str, name: str, snapshot_id: str | int, *, run_id: str | None = None
    ) -> Job:
        """Start `tables-async` that creates a table from a snapshot."""
        body = {"name": name, "snapshotId": str(snapshot_id)}
        return self._call(
            "POST",
            f"buckets/{_q(bucket_id)}/tables-async",
            json=body,
            run_id=run_id,
            what=_t(f"{bucket_id}.{name}"),
        )

    def start_add_column(
        self,
        table_id: str,
        name: str,
        *,
        definition: dict[str, Any] | None = None,
        basetype: str | None = None,
        run_id: str | None = None,
    ) -> Job:
        """Start adding a column to a table (`tableColumnAdd`).

        A typed table takes a column only with a `definition` or a `basetype`; a non-typed
        table takes a bare name.
        """
        body: dict[str, Any] = {"name": name}
        if definition:
            body["definition"] = definition
        if basetype:
            body["basetype"] = basetype
        return self._call(
            "POST", f"tables/{_q(table_id)}/columns", json=body, run_id=run_id, what=_t(table_id)
        )

    def start_delete_column(self, table_id: str, name: str, *, run_id: str | None = None) -> Job:
        """Start removing a column from a table (`tableColumnDelete`)."""
        return self._call(
            "DELETE",
            f"tables/{_q(table_id)}/columns/{_q(name)}",
            run_id=run_id,
            what=_t(table_id),
        )

    def delete_snapshot(self, snapshot_id: str | int) -> Job | None:
        """Delete a snapshot; return its job when Keboola runs the delete asynchronously."""
        return self._call(
            "DELETE", f"snapshots/{_q(str(snapshot_id))}", what=f"snapshot {snapshot_id}"
        )

    def get_job(self, job_id: str | int) -> Job:
        """Return a Storage job."""
        return self._call("GET", f"jobs/{_q(str(job_id))}", what=f"Storage job {job_id}")

    def list_jobs(self, limit: int = 100, offset: int = 0) -> list[Job]:
        """Return the project's most recent Storage jobs, newest first."""
        return self._call(
            "GET",
            "jobs",
            params={"limit": str(limit), "offset": str(offset)},
            what="the list of Storage jobs",
        )

    def find_job_by_run_id(
        self, run_id: str, operation_name: str, *, limit: int = 100
    ) -> Job | None:
        """Return the newest job that a call sent with `run_id` created, or None.

        After a job-creating call lost its response (an `ApiError` with `status` None), this
        tells whether Keboola received it: send it again only when this returns None.
        """
        for job in self.list_jobs(limit=limit):
            if job.get("runId") == run_id and job.get("operationName") == operation_name:
                return job
        return None

    def wait_for_job(self, job: Job | str | int) -> Job:
        """Poll a job until it ends and return it.

        Raises:
            JobFailedError: the job ended in `error` (with Keboola's code, message, the job id
                and a link), or did not end within `job_timeout`.
        """
        start = job if isinstance(job, dict) else {"id": str(job)}
        return jobs.wait(
            start,
            get_job=self.get_job,
            link=self.job_link,
            max_interval=self.job_poll_max_interval,
            timeout=self.job_timeout,
        )

    # -- files ------------------------------------------------------------------------------

    def get_file(self, file_id: str | int, *, federation_token: bool = True) -> dict[str, Any]:
        """Return a file's detail; with `federation_token`, with credentials to read it."""
        params = {"federationToken": "1"} if federation_token else None
        detail = self._call(
            "GET", f"files/{_q(str(file_id))}", params=params, what=f"file {file_id}"
        )
        register_file_credentials(detail)
        return detail

    def prepare_file(
        self,
        name: str,
        *,
        sliced: bool = False,
        tags: Sequence[str] = (),
        size_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Create a file resource to upload into; the answer carries upload credentials.

        Name gzipped data `*.gz`: Keboola recognises compression by the extension.
        """
        body: dict[str, Any] = {"name": name, "federationToken": True, "isSliced": sliced}
        if tags:
            body["tags"] = list(tags)
        if size_bytes is not None:
            body["sizeBytes"] = size_bytes
        prepared = self._call("POST", "files/prepare", json=body, what=f'file "{name}"')
        register_file_credentials(prepared)
        return prepared

    def delete_file(self, file_id: str | int) -> None:
        """Delete a file resource; a file that is already gone counts as deleted."""
        try:
            self._call("DELETE", f"files/{_q(str(file_id))}", what=f"file {file_id}")
        except NotFoundError:
            logger.debug("File %s was already deleted", file_id)

    # -- links ------------------------------------------------------------------------------

    def job_link(self, job_id: str | int) -> str:
        """Return a link to a job in the Keboola UI, or its API URL without the project id."""
        project_id = self._project_id_or_none()
        if project_id is None:
            return f"{self.url}/v2/storage/jobs/{job_id}"
        return links.job_url(self.url, project_id, job_id)

    def table_link(self, table_id: str) -> str:
        """Return a link to a table in the Keboola UI."""
        return links.table_url(self.url, self.project_id, table_id)

    def _project_id_or_none(self) -> str | None:
        try:
            return self.project_id or None
        except KbcSyncError:
            # A link must never hide the error it is built for.
            return None


def _time_param(value: datetime | str | int) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"changedSince/changedUntil need a timezone-aware datetime: {value}")
        return str(int(value.timestamp()))
    return str(value)


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _t(table_id: str) -> str:
    return f'table "{table_id}"'
