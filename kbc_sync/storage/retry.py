"""Retry policy of the Storage API client, as a urllib3 `Retry` mounted on an HTTPAdapter.

What is retried:

- connection errors where the request never reached the server (refused, connect timeout):
  every call, because nothing happened on the server yet;
- 503 (maintenance) and 429: every call, because the server says it did not do the work;
  `Retry-After` is honoured up to `retry_after_max` seconds, otherwise the wait is capped
  exponential backoff with jitter;
- other 5xx except 501 (501 means "not supported", it will not change): only calls that are
  safe to send twice (below). A 500, 502 or 504 may come from a gateway or load balancer after
  the Storage app received the request and started its job, so a call that changes tables is
  not sent again: urllib3 hands its response back and the client raises `ApiError` with that
  status;
- a connection lost after the request was sent (read timeout, connection dropped mid-response):
  only calls that are safe to send twice. The client raises `ApiError` with `status=None` for
  the others.

Calls safe to send twice are GET/HEAD/OPTIONS/PUT, the DELETE of a file or snapshot, and the
two POSTs whose repetition only costs a spare resource (`files/prepare`, `export-async`). The
POSTs that change tables (`tables-async`, `tables-definition`, `import-async`, snapshot
creation, adding a column) and the DELETE of a table or a column are not: a second import could
load the same data twice. For those, the caller looks the job up by its run id
(`find_job_by_run_id`, done by `kbc_sync.engine.jobs.run_job`) before sending the request again.

Other 4xx are never retried: the request itself has to change first. A response whose body
breaks off after its headers arrived is outside urllib3's loop; `transport.Transport` resends
it under the same rules and counters.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from kbc_sync.storage.redact import mask

logger = logging.getLogger(__name__)

_RESEND_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT"})
_RESEND_SAFE_POST = re.compile(r"/files/prepare$|/export-async$")
_RESEND_SAFE_DELETE = re.compile(r"/files/[^/]+$|/snapshots/[^/]+$")

# Statuses by which Storage says it did not do the work: rate limit and maintenance.
NOT_DONE_STATUSES = frozenset({429, 503})


def is_resend_safe(method: str, path: str) -> bool:
    """Tell whether a call may be sent again after its response was lost.

    Args:
        method: the HTTP method.
        path: the URL path, with or without a query string.

    Returns:
        True when sending the call twice cannot change data twice.
    """
    method = method.upper()
    path = path.split("?", 1)[0].rstrip("/")
    if method in _RESEND_SAFE_METHODS:
        return True
    if method == "POST":
        return bool(_RESEND_SAFE_POST.search(path))
    if method == "DELETE":
        return bool(_RESEND_SAFE_DELETE.search(path))
    return False


def is_retryable_status(status: int) -> bool:
    """Tell whether a response status is worth the same request again."""
    return status == 429 or (status >= 500 and status != 501)


def may_have_done_work(status: int) -> bool:
    """Tell whether an error status leaves open that Storage did the work anyway.

    429 and 503 are Storage saying it did not take the request on; 501 is a refusal. Any other
    5xx may be a gateway's answer for a request that reached Storage and started a job.
    """
    return status >= 500 and status != 501 and status not in NOT_DONE_STATUSES


class StorageRetry(Retry):
    """urllib3 `Retry` with Keboola's rules, a WARNING per retry, and backoff with jitter.

    Args:
        max_retries: retries after the first attempt (the `N` of `attempt n/N`).
        backoff_base: the first backoff wait in seconds; it doubles per retry.
        backoff_max: the longest backoff wait in seconds.
        retry_after_max: the longest wait a `Retry-After` header may ask for.
    """

    def __init__(
        self,
        max_retries: int = 8,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 900.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("total", max_retries)
        kwargs.setdefault("redirect", 0)
        kwargs.setdefault("allowed_methods", None)
        kwargs.setdefault("raise_on_status", False)
        kwargs.setdefault("respect_retry_after_header", True)
        super().__init__(
            backoff_factor=backoff_base,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
            **kwargs,
        )
        self.max_retries = max_retries

    def new(self, **kw: Any) -> StorageRetry:
        """Carry the extra settings into the copy urllib3 makes per attempt."""
        params = {
            "total": self.total,
            "connect": self.connect,
            "read": self.read,
            "redirect": self.redirect,
            "status": self.status,
            "other": self.other,
            "allowed_methods": self.allowed_methods,
            "raise_on_redirect": self.raise_on_redirect,
            "raise_on_status": self.raise_on_status,
            "history": self.history,
            "respect_retry_after_header": self.respect_retry_after_header,
        }
        params.update(kw)
        return type(self)(
            self.max_retries,
            backoff_base=self.backoff_factor,
            backoff_max=self.backoff_max,
            retry_after_max=self.retry_after_max,
            **params,
        )

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """Retry 429 and 5xx except 501; `increment` then holds back unsafe resends."""
        return bool(self.total) and is_retryable_status(status_code)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> StorageRetry:
        """Refuse to resend a call that is not safe to send twice once it reached the server.

        `is_retry` sees only the method and status, so the path is judged here. For a status,
        `MaxRetryError` with `raise_on_status=False` makes urllib3 return the response as it is,
        and the transport turns it into an `ApiError` carrying that status.
        """
        resend_safe = is_resend_safe(method or "", url or "")
        sent = error is not None and self._is_read_error(error)
        if sent and not resend_safe:
            raise error
        status = getattr(response, "status", None)
        if status is not None and not resend_safe and may_have_done_work(status):
            reason = ResponseError(f"status {status} to a call that is not sent twice")
            raise MaxRetryError(_pool, url or "", reason)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self) -> float:
        """Return base * 2^(n-1), capped, with "equal jitter" (between half and all of it)."""
        failures = len(self.history)
        if failures == 0:
            return 0.0
        capped = min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1))
        return capped / 2 + random.random() * capped / 2

    def sleep(self, response: Any = None) -> None:
        """Wait before the next attempt, logging one WARNING line for it."""
        delay = None
        if response is not None and self.respect_retry_after_header:
            try:
                delay = self.get_retry_after(response)
            except InvalidHeader:
                delay = None  # a malformed Retry-After falls back to backoff
        if delay is None:
            delay = self.get_backoff_time()

        last = self.history[-1] if self.history else None
        method = last.method if last else "?"
        path = (last.url or "").split("?", 1)[0] if last else "?"
        reason = f"status {last.status}" if last and last.status else _reason(last)
        logger.warning(
            "Storage API %s %s: %s; retry attempt %d/%d in %.1f s",
            method,
            mask(path),
            mask(reason),
            len(self.history),
            self.max_retries,
            delay,
        )
        if delay > 0:
            time.sleep(delay)


def _reason(last: Any) -> str:
    if last is None or last.error is None:
        return "no response"
    return type(last.error).__name__
