"""Waiting for Storage jobs.

Asynchronous Storage calls answer 202 with a job in `waiting`; the job then moves through
`processing` to `success` or `error`. Keboola's own clients poll at once and then back off to
a cap (PHP: 1, 2, 4 ... 20 s; Go: 50 ms doubling to 3 s). kbc_sync polls at once, then starts
at a fraction of a second, because most jobs of a copy end within seconds, and grows the interval
by half each poll up to `max_interval`, until an overall deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from kbc_sync.errors import JobFailedError
from kbc_sync.storage.redact import mask

logger = logging.getLogger(__name__)

FIRST_INTERVAL = 0.2
GROWTH = 1.5
FINISHED = frozenset({"success", "error"})


def poll_intervals(max_interval: float, first: float = FIRST_INTERVAL) -> Iterator[float]:
    """Yield the waits between polls: 0 for the first poll, then growing to `max_interval`."""
    yield 0.0
    interval = min(first, max_interval)
    while True:
        yield interval
        interval = min(interval * GROWTH, max_interval)


def wait(
    job: dict[str, Any],
    *,
    get_job: Callable[[str], dict[str, Any]],
    link: Callable[[str], str],
    max_interval: float,
    timeout: float,
) -> dict[str, Any]:
    """Poll a job until it ends, and return it when it succeeded.

    Args:
        job: the job as the 202 response gave it (at least `id`).
        get_job: reads the job by id.
        link: builds a link to the job for people.
        max_interval: the longest wait between two polls, in seconds.
        timeout: the overall deadline, in seconds from now.

    Returns:
        The finished job.

    Raises:
        JobFailedError: the job ended in `error`, or did not end before the deadline.
    """
    job_id = str(job["id"])
    operation = job.get("operationName") or "job"
    started = time.monotonic()
    # INFO gets one line per job, the one with its outcome below.
    logger.debug("Waiting for Storage job %s (%s)", job_id, operation)

    current = job
    for interval in poll_intervals(max_interval):
        elapsed = time.monotonic() - started
        if elapsed + interval > timeout:
            raise _timeout_error(current, job_id, operation, timeout, link(job_id))
        if interval:
            time.sleep(interval)
        current = get_job(job_id)
        if current.get("status") in FINISHED:
            break

    seconds = time.monotonic() - started
    logger.info(
        "Storage job %s (%s) ended %s after %.1f s",
        job_id,
        operation,
        current.get("status"),
        seconds,
    )
    if current.get("status") == "error":
        raise job_error(current, link(job_id))
    return current


def job_error(job: dict[str, Any], url: str) -> JobFailedError:
    """Build the error for a job that ended in `error`.

    Args:
        job: the finished job with its `error` object `{code, message, exceptionId}`.
        url: a link to the job for people.
    """
    job_id = str(job.get("id"))
    operation = job.get("operationName") or "job"
    error = job.get("error") or {}
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = str(error["code"]) if error.get("code") not in (None, "") else None
    detail = mask(error.get("message") or "no message")
    table = f" on table {job['tableId']}" if job.get("tableId") else ""
    exception = f" Exception id: {error['exceptionId']}." if error.get("exceptionId") else ""

    message = (
        f"Storage job {job_id} ({operation}){table} failed"
        f"{f' with {code}' if code else ''}: {detail} Fix what Keboola names and run again; "
        f"details at {url}.{exception}"
    )
    return JobFailedError(
        mask(message),
        job_id=job_id,
        code=code,
        detail=detail,
        url=url,
        results=job.get("results"),
    )


def _timeout_error(
    job: dict[str, Any], job_id: str, operation: str, timeout: float, url: str
) -> JobFailedError:
    status = job.get("status") or "unknown"
    message = (
        f"Storage job {job_id} ({operation}) did not finish within {timeout:.0f} s (last "
        f"status {status}). It may still be running: check it at {url} before running again, "
        f"or allow more time."
    )
    return JobFailedError(mask(message), job_id=job_id, url=url, retryable=True)
