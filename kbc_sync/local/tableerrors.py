"""Errors of the local stack's table data engine.

The HTTP layer turns them into Keboola's error bodies: a `TableError` raised by a synchronous
call becomes a response with `status`, and any `TableError` raised inside a job (a `LoadFailed`
most of all) becomes the job's `error {code, message}` and, for loads, its `results`.

    TableError      a call on a table failed (code, message, HTTP status, results)
    └── LoadFailed  a load (import or create from a file) failed; the table is unchanged

These stay inside `kbc_sync.local`: the stack imports nothing from the rest of kbc_sync.
"""

from __future__ import annotations

from typing import Any


class TableError(Exception):
    """A table operation failed with Keboola's error code and message.

    Attributes:
        code: Keboola's error code, e.g. `storage.tables.notFound`.
        message: the message Keboola gives (or the closest documented wording).
        status: the HTTP status a synchronous call answers with.
        results: extra fields Keboola puts into a failed job's `results`.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        results: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.results = results or {}

    def __str__(self) -> str:
        return self.message


class LoadFailed(TableError):
    """A CSV load failed; the table keeps the rows and columns it had before."""

    def __init__(self, code: str, message: str, results: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, 400, results)
