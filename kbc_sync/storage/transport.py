"""The one place the Storage API client sends requests.

`Transport` owns the session, the headers, the timeout and the retry policy of one stack and
token. It turns a response into plain data or into the typed errors of `kbc_sync.errors`.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError, ContentDecodingError
from urllib3.exceptions import MaxRetryError

from kbc_sync import __version__
from kbc_sync.storage.redact import mask, register_secret
from kbc_sync.storage.responses import api_error, connection_error, normalise, not_json_error
from kbc_sync.storage.retry import StorageRetry, is_resend_safe, may_have_done_work

logger = logging.getLogger(__name__)

USER_AGENT = f"kbc_sync/{__version__} (Keboola table copy; python-requests)"


class Transport:
    """Sends Storage API calls for one stack and token.

    Args:
        url: the stack URL (already resolved).
        token: the Storage API token, sent as `X-StorageApi-Token` and masked everywhere.
        token_env: the environment variable holding the token, for error messages.
        session: the session to send with; the retrying adapter is mounted on it for this
            stack URL only, and headers are set per request, so clients may share a session.
        timeout: connect/read timeout of every call.
        retry: the retry policy.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        token_env: str | None,
        session: requests.Session | None,
        timeout: float | tuple[float, float],
        retry: StorageRetry,
    ) -> None:
        self.url = url
        self.token_env = token_env
        self.timeout = timeout
        self.retry = retry
        self._token = token
        register_secret(token)
        self.session = session or requests.Session()
        self.session.mount(f"{url}/", HTTPAdapter(max_retries=retry))

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        json: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """Send `method /v2/storage/<path>` and return its decoded, normalised JSON or None.

        Args:
            method: HTTP method.
            path: path below `/v2/storage/`.
            what: the object of the call for people, named in error messages.
            params: query parameters (never secrets: they may show in DEBUG lines).
            json: the JSON body.
            run_id: sent as `X-KBC-RunId`, so that the job can be found again.

        Raises:
            ApiError: or a subclass, for an error response, an answer that is not JSON, or no
                response at all. A call that is not safe to send twice and may have started
                its job anyway (no response, or a 5xx other than 501 and 503) is not resent:
                the error names the run id to look the job up by.
        """
        full_path = f"/v2/storage/{path}"
        headers = {
            "X-StorageApi-Token": self._token,
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
        }
        if run_id:
            headers["X-KBC-RunId"] = run_id

        logger.debug("Storage API %s %s", method, mask(full_path))
        try:
            response = self._send(method, full_path, params=params, json=json, headers=headers)
        except requests.RequestException as exc:
            maybe_done = _was_sent(exc) and not is_resend_safe(method, full_path)
            raise connection_error(
                exc,
                method=method,
                path=full_path,
                what=what,
                stack_url=self.url,
                maybe_done=maybe_done,
                run_id=run_id,
            ) from exc

        if response.status_code >= 400:
            status = response.status_code
            raise api_error(
                response,
                method=method,
                path=full_path,
                what=what,
                stack_url=self.url,
                token_env=self.token_env,
                maybe_done=may_have_done_work(status) and not is_resend_safe(method, full_path),
                run_id=run_id,
            )
        if response.status_code == 204 or not response.content:
            return None

        try:
            body = response.json()
        except ValueError as exc:  # requests' JSONDecodeError is a ValueError
            raise not_json_error(
                response, method=method, path=full_path, what=what, stack_url=self.url
            ) from exc
        return normalise(body)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one call; resend it when its body broke off and it is safe to send twice.

        The mounted `StorageRetry` covers everything up to the response headers. requests reads
        the body afterwards, outside urllib3's retry loop, so a connection that drops in the
        middle of a body is retried here, with the same counters, waits and WARNING lines.
        """
        state = self.retry
        while True:
            try:
                return self.session.request(
                    method, f"{self.url}{path}", timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                if not (_body_lost(exc) and is_resend_safe(method, path)):
                    raise
                try:
                    state = state.increment(method, path, error=exc)
                except MaxRetryError:
                    raise exc from None
            state.sleep()


def _body_lost(exc: requests.RequestException) -> bool:
    return isinstance(exc, (ChunkedEncodingError, ContentDecodingError))


def _was_sent(exc: requests.RequestException) -> bool:
    """Tell whether a request may have reached the server before the connection failed."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        name = type(reason).__name__ if reason is not None else ""
        return name not in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError")
    return True
