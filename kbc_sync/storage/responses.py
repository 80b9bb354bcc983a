"""Storage API responses: quirk normalisation and conversion of error responses.

Keboola's API is served by PHP, which shows in the JSON it sends: an empty map comes back as
`[]`, and ids are ints in some places and strings in others (a token's `owner.id` is `"58"`
in the API blueprint and `8625` in the official clients' fixtures). Callers of kbc_sync get one
shape: maps are dicts, ids are strings.
"""

from __future__ import annotations

from typing import Any

import requests

from kbc_sync.errors import AccessDeniedError, ApiError, NotFoundError, TokenInvalidError
from kbc_sync.storage.redact import mask

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
        return None, (mask(text[:300]) if text else None), None

    if isinstance(body, list):
        return None, mask("; ".join(str(item) for item in body)[:500]), None
    if not isinstance(body, dict):
        return None, mask(str(body)[:300]), None

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
) -> ApiError:
    """Build the typed error for an error response of a call about `what`.

    Args:
        response: the error response.
        method: HTTP method of the call.
        path: path below the stack URL, without query string.
        what: the object of the call for people, such as `table "in.c-crm.orders"`.
        stack_url: the stack the call went to.
        token_env: the environment variable that holds the token, when known.
    """
    status = response.status_code
    code, detail, exception_id = error_fields(response)
    said = f" Keboola said: {detail}" if detail else ""
    said += f" (code {code})" if code else ""
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
    advice = (
        "Keboola kept failing after retries; try again later."
        if retryable
        else "Fix the request as Keboola describes, then run again."
    )
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
) -> ApiError:
    """Build the error for a call that got no response at all.

    Args:
        exc: the error from requests.
        method: HTTP method.
        path: path below the stack URL, without query string.
        what: the object of the call for people.
        stack_url: the stack the call went to.
        maybe_done: the request may have reached Keboola and started a job.
    """
    reason = type(exc).__name__
    if maybe_done:
        message = (
            f"The connection to {stack_url} was lost after {method} {path} for {what} was "
            f"sent ({reason}), so Keboola may have started the job anyway. Look for the job "
            f"by its run id before sending the request again."
        )
    else:
        message = (
            f"Could not reach the Storage API at {stack_url} for {what} ({method} {path}, "
            f"{reason}) even after retries. Check the stack URL and the network, then run "
            f"again."
        )
    return ApiError(mask(message), method=method, path=path, retryable=True)


def _env(token_env: str | None) -> str:
    return f" held by environment variable {token_env}" if token_env else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
