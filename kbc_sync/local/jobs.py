"""Asynchronous Storage jobs: `waiting` → `processing` → `success` | `error` on a thread pool."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kbc_sync.local.clock import Clock
from kbc_sync.local.protocol import ApiFailure, format_date, new_exception_id

logger = logging.getLogger(__name__)

Work = Callable[["Job"], Any]


@dataclass
class Job:
    id: int
    project_id: int
    token_id: str
    creator: dict[str, Any]
    operation_name: str
    operation_params: dict[str, Any]
    table_id: str | None
    run_id: str | None
    created: datetime
    status: str = "waiting"
    started: datetime | None = None
    ended: datetime | None = None
    results: Any = None
    error: dict[str, str] | None = None
    metrics: dict[str, Any] = field(
        default_factory=lambda: {
            "inCompressed": False, "inBytes": 0, "inBytesUncompressed": 0,
            "outCompressed": False, "outBytes": 0, "outBytesUncompressed": 0,
        }
    )  # fmt: skip
    forced_error: tuple[str, str] | None = None

    def to_json(self, base_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "url": f"{base_url}/v2/storage/jobs/{self.id}",
            "tableId": self.table_id,
            "operationName": self.operation_name,
            "operationParams": self.operation_params,
            "createdTime": format_date(self.created),
            "startTime": format_date(self.started),
            "endTime": format_date(self.ended),
            "runId": self.run_id,
            "results": self.results,
            "creatorToken": self.creator,
            "metrics": self.metrics,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


class JobRunner:
    """Keeps every job and runs their work on a small pool of worker threads.

    Jobs that write one table run one at a time, as Keboola serializes imports into a table.
    """

    def __init__(self, clock: Clock, workers: int = 4) -> None:
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbc-local-job")
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._jobs: dict[int, Job] = {}
        self._table_locks: dict[tuple[int, str], threading.Lock] = {}
        self._generations: dict[tuple[int, str], int] = {}

    def submit(
        self,
        *,
        project_id: int,
        token_id: str,
        creator: dict[str, Any],
        operation_name: str,
        operation_params: dict[str, Any],
        table_id: str | None,
        run_id: str | None,
        work: Work,
        forced_error: tuple[str, str] | None = None,
        serialize_on: str | None = None,
        base_url: str = "",
    ) -> tuple[Job, dict[str, Any]]:
        """Record a job in `waiting` and queue `work(job)`, whose return value becomes `results`.

        Returns:
            The job and its JSON as it stood before any worker touched it (the 202 answer).
        """
        with self._lock:
            job = Job(
                next(self._ids), project_id, token_id, creator, operation_name,
                operation_params, table_id, run_id, self._clock.now(), forced_error=forced_error,
            )  # fmt: skip
            self._jobs[job.id] = job
        initial = job.to_json(base_url)
        self._pool.submit(self._run, job, work, serialize_on)
        return job, initial

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def list(self, project_id: int, token_id: str | None) -> list[Job]:
        """Jobs of a project, newest first; only the token's own unless `token_id` is None."""
        with self._lock:
            jobs = [
                job
                for job in self._jobs.values()
                if job.project_id == project_id and token_id in (None, job.token_id)
            ]
        return sorted(jobs, key=lambda job: job.id, reverse=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def generation(self, project_id: int, table_id: str) -> int:
        """A number that changes whenever a job (or `bump`) may have written the table."""
        return self._generations.get((project_id, table_id), 0)

    def bump(self, project_id: int, table_id: str) -> None:
        with self._lock:
            key = (project_id, table_id)
            self._generations[key] = self._generations.get(key, 0) + 1

    def _table_lock(self, project_id: int, table_id: str) -> threading.Lock:
        with self._lock:
            return self._table_locks.setdefault((project_id, table_id), threading.Lock())

    def _run(self, job: Job, work: Work, serialize_on: str | None) -> None:
        lock = self._table_lock(job.project_id, serialize_on) if serialize_on else None
        if lock is not None:
            lock.acquire()
        try:
            job.started = self._clock.now()
            job.status = "processing"
            self._execute(job, work)
        finally:
            if serialize_on is not None:
                self.bump(job.project_id, serialize_on)
            if lock is not None:
                lock.release()

    def _execute(self, job: Job, work: Work) -> None:
        try:
            if job.forced_error is not None:
                raise ApiFailure(500, *job.forced_error)
            results = work(job)
        except ApiFailure as failure:
            job.error = {
                "code": failure.code,
                "message": failure.message,
                "exceptionId": new_exception_id(),
            }
            job.results = failure.results
            self._finish(job, "error")
            return
        except Exception as exc:
            logger.exception("Job %s (%s) crashed", job.id, job.operation_name)
            job.error = {
                "code": "storage.internalError",
                "message": f"Internal error of the local stack: {exc}",
                "exceptionId": new_exception_id(),
            }
            self._finish(job, "error")
            return

        # An empty result is `[]`, PHP's serialization of an empty map, as the Go client expects.
        job.results = results if results is not None else []
        self._finish(job, "success")

    def _finish(self, job: Job, status: str) -> None:
        job.ended = self._clock.now()
        job.status = status
        logger.info("Job %s %s ended in %s", job.id, job.operation_name, status)
