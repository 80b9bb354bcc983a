"""Start a Storage job that writes, at most once, and wait for it.

A create or import request whose response is lost (the connection dropped after the request
went out) or that got a 500, 502 or 504 (which a gateway may answer after Storage started the
job) may still have started a job. The client does not resend such a request itself (see
`kbc_sync.storage.retry`). Sending it again blindly would load the data twice, so every writing
request carries a run id (`X-KBC-RunId`, which Storage stores as the job's `runId`) and, before
sending again, the job list is searched for that run id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kbc_sync.errors import ApiError
from kbc_sync.storage.retry import may_have_done_work

logger = logging.getLogger(__name__)

START_ATTEMPTS = 3
LOOKUP_DELAYS_S = (0.0, 1.0, 2.0)


def run_job(
    client: Any,
    start: Callable[[str], dict[str, Any]],
    *,
    run_id: str,
    operation: str,
    what: str,
) -> dict[str, Any]:
    """Start a job through `start(run_id)` once and wait for it.

    The client's `wait_for_job` logs the job's INFO line; this adds what the job was for at DEBUG.

    Args:
        client: the `StorageClient` the job runs in.
        start: sends the request; receives the run id to send with it.
        run_id: unique for this step of this copy.
        operation: Storage's `operationName` of the job (`tableImport`, `tableCreate` ...).
        what: a few words for the log line, e.g. `import into in.c-b.t`.

    Returns:
        The finished job.

    Raises:
        JobFailedError: the job ended in `error` or did not end in time.
        ApiError: the request was refused.
    """
    job = _start_once(client, start, run_id=run_id, operation=operation, what=what)
    started = time.monotonic()
    job = client.wait_for_job(job)
    logger.debug(
        "Storage job %s (%s, %s) finished in %.1f s",
        job.get("id"),
        operation,
        what,
        time.monotonic() - started,
    )
    return job


def _start_once(
    client: Any,
    start: Callable[[str], dict[str, Any]],
    *,
    run_id: str,
    operation: str,
    what: str,
) -> dict[str, Any]:
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return start(run_id)
        except ApiError as exc:
            if not _maybe_sent(exc) or attempt == START_ATTEMPTS:
                raise
            found = _find_job(client, run_id, operation)
            if found is not None:
                logger.warning(
                    "No usable answer to the %s request (%s), but Storage job %s with run id "
                    "%s exists; waiting for that job instead of sending again",
                    what,
                    _answer(exc),
                    found.get("id"),
                    run_id,
                )
                return found
            logger.warning(
                "No usable answer to the %s request (%s; attempt %d/%d) and no job with run "
                "id %s; sending it again",
                what,
                _answer(exc),
                attempt,
                START_ATTEMPTS,
                run_id,
            )
    raise AssertionError("unreachable")


def _maybe_sent(exc: ApiError) -> bool:
    """True when the request may have reached Storage and started a job despite the error.

    503 and 429 say Storage did not take the request on; the client already resent those as
    often as it may, so they end the step as they are.
    """
    return exc.status is None or may_have_done_work(exc.status)


def _answer(exc: ApiError) -> str:
    return f"status {exc.status}" if exc.status is not None else "connection lost"


def _find_job(client: Any, run_id: str, operation: str) -> dict[str, Any] | None:
    # The job list may lag the request that created the job by a moment.
    for delay in LOOKUP_DELAYS_S:
        time.sleep(delay)
        job = client.find_job_by_run_id(run_id, operation)
        if job is not None:
            return job
    return None
