"""Wire conventions of the Storage API: error bodies, dates, PHP-style forms and flags."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

_BRACKETS = re.compile(r"\[([^\]]*)\]")


class ApiFailure(Exception):
    """An error answer: HTTP status plus Keboola's `error`/`code` body.

    Storage API errors carry `error` (message), `code` (a string such as
    `storage.tables.notFound`) and `exceptionId`; Keboola's shared error library adds
    `"status": "error"`, so the body carries all four.
    """

    def __init__(self, status: int, code: str, message: str, *, results: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.results = results

    def body(self) -> dict[str, Any]:
        return {
            "error": self.message,
            "code": self.code,
            "exceptionId": new_exception_id(),
            "status": "error",
        }


def new_exception_id() -> str:
    return "exception-" + secrets.token_hex(16)


def bad_request(message: str, code: str = "storage.validation") -> ApiFailure:
    return ApiFailure(400, code, message)


def format_date(dt: datetime | None) -> str | None:
    """Format as Keboola does: ISO 8601 with a `+0000`-style offset, no fraction."""
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S%z")


def php_map(value: dict) -> dict | list:
    """Return `[]` for an empty map, as the PHP serializer behind the Storage API does."""
    return value if value else []


def parse_form(raw: str) -> dict[str, Any]:
    """Parse an urlencoded body or query string the way PHP does.

    `a[]=1&a[]=2` and `a[0]=1&a[1]=2` both give a list, `f[0][column]=x` nests a dict in a list.
    """
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head] + (_BRACKETS.findall("[" + rest) if rest else [])
        _assign(root, parts, value)
    return _listify(root)


def _assign(node: dict[str, Any], parts: list[str], value: str) -> None:
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "":
            part = str(sum(1 for k in node if k.isdigit()))
        if last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


def _listify(node: Any) -> Any:
    """Turn dicts whose keys are 0..n-1 into lists, recursively."""
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    keys = list(converted)
    if keys and all(k.isdigit() for k in keys):
        ordered = sorted(keys, key=int)
        if [int(k) for k in ordered] == list(range(len(ordered))):
            return [converted[k] for k in ordered]
    return converted


def flag(params: dict[str, Any], name: str, default: bool = False) -> bool:
    """Read a boolean sent as JSON `true`/`false` or as form `1`/`0`/`true`/`false`."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true"):
        return True
    if text in ("0", "false"):
        return False
    raise bad_request(f'Invalid value "{value}" for "{name}": use true, false, 1 or 0.')


def text_list(params: dict[str, Any], name: str, *, comma: bool) -> list[str]:
    """Read a list sent as an array (JSON or `x[]`), or as a comma string where allowed."""
    value = params.get(name)
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        raise bad_request(f'Invalid value for "{name}": expected a list.')
    if comma:
        return [part.strip() for part in str(value).split(",") if part.strip()]
    return [str(value)]


def integer(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f'Parameter "{name}" is required.')
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f'Invalid value "{value}" for "{name}": expected an integer.') from None
