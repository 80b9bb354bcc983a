"""Storage API responses: quirk normalisation and conversion of error responses.

Keboola's API is served by PHP, which shows in the JSON it sends: an empty map comes back as
`[]`, and ids are ints in some places and strings in others (a token's `owner.id` is `"58"`
in the API blueprint and `8625` in the official clients' fixtures). Callers of kbc_sync get one
shape: maps are dicts, ids are strings.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from kbc_sync.errors import AccessDeniedError, ApiError, NotFoundError, TokenInvalidError
from kbc_sync.storage.redact import mask

# The Storage job each call that is not sent twice starts, to tell people what to look for.
_OPERATIONS = (
    ("POST", re.compile(r"/import-async$"), "tableImport"),
    ("POST", re.compile(r"/tables-async$"), "tableCreate"),
    ("POST", re.compile(r"/tables-definition$"), "tableDefinitionCreate"),
    ("POST", re.compile(r"/snapshots$"), "tableSnapshotCreate"),
    ("POST", re.compile(r"/columns$"), "tableColumnAdd"),
    ("DELETE", re.compile(r"/columns/[^/]+$"), "tableColumnDelete"),
    ("DELETE", re.compile(r"/tables/[^/]+$"), "tableDrop"),
)
EXCERPT_CHARS = 80

# Keys whose value is a map; PHP serialises an empty one as `[]`.
MAP_KEYS = frozenset(
    {
        "bucketPermissions",
        "columnMetadata",
        "results",
        "limits",
        "metrics",
        "operationParams",
    }
)


def normalise(value: Any) -> Any:
    """Return `value` with empty maps as `{}` and every id (`id`, `*Id`) as a string.

    Args:
        value: decoded JSON.
    """
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if not isinstance(value, dict):
        return value

    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in MAP_KEYS and item == []:
            result[key] = {}
        elif _is_id_key(key) and isinstance(item, int) and not isinstance(item, bool):
            result[key] = str(item)
        else:
            result[key] = normalise(item)
    return result


def _is_id_key(key: str) -> bool:
    return key == "id" or (key.endswith("Id") and len(key) > 2)


def error_fields(response: requests.Response) -> tuple[str | None, str | None, str | None]:
    """Return Keboola's `(code, message, exceptionId)` from an error response.

    Tolerates every documented body: `{"error", "code", "exceptionId"}` with or without
    `status`/`context`, a numeric `code`, the maintenance body `{"status": "maintenance",
    "reason", "estimatedEndTime"}`, a plain list of messages (422), and no JSON at all.
    """
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return None, (mask(text)[:300] if text else None), None

    if isinstance(body, list):
        return None, mask("; ".join(str(item) for item in body))[:500], None
    if not isinstance(body, dict):
        return None, mask(str(body))[:300], None

    code = body.get("code")
    code_text = str(code) if code not in (None, "") else None
    message = body.get("error") or body.get("message") or body.get("reason")
    if body.get("status") == "maintenance":
        code_text = code_text or "maintenance"
        end = body.get("estimatedEndTime")
        reason = body.get("reason") or "the project is in maintenance"
        message = f"{reason} (estimated end {end})" if end else reason
    exception_id = body.get("exceptionId")
    return (
        code_text,
        mask(message) if message else None,
        str(exception_id) if exception_id else None,
    )


def api_error(
    response: requests.Response,
    *,
    method: str,
    path: str,
    what: str,
    stack_url: str,
    token_env: str | None,
    maybe_done: bool = False,
    run_id: str | None = None,
) -> ApiError:
    """Build the typed error for an error response of a call about `what`.

    Args:
        response: the error response.
        method: HTTP method of the call.
        path: path below the stack URL, without query string.
        what: the object of the call for people, such as `table "in.c-crm.orders"`.
        stack_url: the stack the call went to.
        token_env: the environment variable that holds the token, when known.
        maybe_done: the status leaves open that Keboola started the job, so the call was not
            sent again.
        run_id: the run id the call carried, to find its job by.
    """
    status = response.status_code
    code, detail, exception_id = error_fields(response)
    said = f" Keboola said: {detail}" if detail else ""
    said += f" (code {code})" if code else ""
    said += _not_json_hint(response, stack_url)
    ref = (
        f" Quote exception id {exception_id} to Keboola support if it persists."
        if (exception_id and status >= 500)
        else ""
    )
    kwargs: dict[str, Any] = {
        "status": status,
        "method": method,
        "path": path,
        "code": code,
        "exception_id": exception_id,
        "detail": detail,
    }

    if status == 401:
        holder = f"held by environment variable {token_env}" if token_env else "in use"
        message = (
            f"The Storage API token {holder} is invalid, expired, or was refreshed (refreshing "
            f"a token deactivates the old one), or it belongs to another stack than "
            f"{stack_url}; Keboola rejected a call about {what}. Replace it: create or refresh "
            f"the token in the project's Users & Settings > API Tokens and put the new value "
            f"in {token_env or 'the environment variable that holds it'}.{said}"
        )
        return TokenInvalidError(mask(message), **kwargs)
    if status == 403:
        message = (
            f"The token{_env(token_env)} may not access {what} on {stack_url} ({method} {path})."
            f" Give the token the permission this needs on the bucket, or use a token that "
            f"has it.{said}"
        )
        return AccessDeniedError(mask(message), **kwargs)
    if status == 404:
        message = (
            f"{_capital(what)} was not found on {stack_url} ({method} {path}). Check the id, "
            f"and that the token{_env(token_env)} belongs to the project that holds it.{said}"
        )
        return NotFoundError(mask(message), **kwargs)

    retryable = status == 429 or (status >= 500 and status != 501)
    if maybe_done:
        advice = (
            f"A gateway may answer {status} after Keboola has started the job, so the request "
            f"was not sent again: a second one could change the table twice. "
            f"{_find_job_advice(method, path, what, run_id)}"
        )
    elif retryable:
        advice = "Keboola kept failing after retries; try again later."
    else:
        advice = "Fix the request as Keboola describes, then run again."
    message = (
        f"The Storage API at {stack_url} answered {status} to {method} {path} for {what}. "
        f"{advice}{said}{ref}"
    )
    return ApiError(mask(message), retryable=retryable, **kwargs)


def connection_error(
    exc: requests.RequestException,
    *,
    method: str,
    path: str,
    what: str,
    stack_url: str,
    maybe_done: bool,
    run_id: str | None = None,
) -> ApiError:
    """Build the error for a call that got no response at all.

    Args:
        exc: the error from requests.
        method: HTTP method.
        path: path below the stack URL, without query string.
        what: the object of the call for people.
        stack_url: the stack the call went to.
        maybe_done: the request may have reached Keboola and started a job.
        run_id: the run id the call carried, to find its job by.
    """
    reason = type(exc).__name__
    if maybe_done:
        message = (
            f"The connection to {stack_url} was lost after {method} {path} for {what} was "
            f"sent ({reason}), so Keboola may have started the job anyway; the request was "
            f"not sent again. {_find_job_advice(method, path, what, run_id)}"
        )
    else:
        message = (
            f"Could not reach the Storage API at {stack_url} for {what} ({method} {path}, "
            f"{reason}) even after retries. Check the stack URL and the network, then run "
            f"again."
        )
    return ApiError(mask(message), method=method, path=path, retryable=True)


def not_json_error(
    response: requests.Response, *, method: str, path: str, what: str, stack_url: str
) -> ApiError:
    """Build the error for a success status whose body is not the JSON the API always sends.

    Most often the URL points at another web server (a company site, a proxy's login page),
    which answers 200 with HTML.

    Args:
        response: the response whose body did not decode.
        method: HTTP method.
        path: path below the stack URL, without query string.
        what: the object of the call for people.
        stack_url: the stack the call went to.
    """
    content_type = response.headers.get("Content-Type") or "no Content-Type"
    excerpt = _excerpt(response)
    shown = f", starting {excerpt!r}" if excerpt else ""
    message = (
        f"{stack_url} answered {response.status_code} to {method} {path} for {what}, but the "
        f"answer is not JSON ({content_type}{shown}), so it is probably not a Keboola Storage "
        f"API stack. Check the `url` (or `region`) of this project in the config: it must be "
        f"the stack's connection URL, such as https://connection.keboola.com or "
        f"https://connection.eu-central-1.keboola.com."
    )
    return ApiError(
        mask(message),
        status=response.status_code,
        method=method,
        path=path,
        detail=excerpt or None,
    )


def _not_json_hint(response: requests.Response, stack_url: str) -> str:
    """Point at the stack URL when a 4xx answer is not JSON, as no Keboola error is.

    A 5xx page in HTML is usual from a gateway in front of the right stack, so it gets no hint.
    """
    content_type = response.headers.get("Content-Type") or ""
    if response.status_code >= 500 or not response.content or "json" in content_type.lower():
        return ""
    return (
        f" The answer was not JSON ({content_type or 'no Content-Type'}): if this keeps "
        f"happening, check that {stack_url} is the stack's connection URL (`url` or `region` "
        f"in the config)."
    )


def _excerpt(response: requests.Response) -> str:
    """Return the page title, or the first characters of the body, on one line."""
    text = response.content[:4096].decode("utf-8", errors="replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    # Masked before it is cut, so that a secret cut in half cannot escape the patterns.
    text = mask(" ".join("".join(c if c.isprintable() else " " for c in text).split()))
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 3] + "..."
    return text


def _find_job_advice(method: str, path: str, what: str, run_id: str | None) -> str:
    """Say how to find the job a call may have started, and when to send it again."""
    operation = next(
        (name for verb, pattern, name in _OPERATIONS if verb == method and pattern.search(path)),
        "Storage",
    )
    if run_id:
        return (
            f"Look in the project's Storage jobs (GET /v2/storage/jobs) for a {operation} job "
            f"with runId {run_id}: if there is one, wait for it; send the request again only "
            f"if there is none."
        )
    return (
        f"The request carried no run id: look in the project's Storage jobs (GET "
        f"/v2/storage/jobs) for a {operation} job of {what} started just now, and send the "
        f"request again only if there is none."
    )


def _env(token_env: str | None) -> str:
    return f" held by environment variable {token_env}" if token_env else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
