"""The one error hierarchy of kbc_sync.

Every error a user can meet is a `KbcSyncError`. Each message says what failed, on which
table, file or job, and what to do next. Constructor arguments are kept as attributes so that
callers (the CLI, the Dagster layer) can build metadata without parsing messages.

    KbcSyncError
    ├── ConfigError          the YAML file or an environment variable is wrong
    ├── ApiError             Storage API answered with an error (status, code, method, path)
    │   ├── TokenInvalidError    401: the token is unknown, expired or was refreshed
    │   ├── AccessDeniedError    403: the token may not touch that bucket or table
    │   └── NotFoundError        404: no such bucket, table, file or job
    ├── JobFailedError       a Storage job ended in `error`, or did not end in time
    ├── TransferError        a file store (S3, Azure Blob, GCS) failed to read or write a slice
    └── CopyError            a copy stopped before or while writing (token, keys, columns)

`retryable` marks what is worth trying again as it is (a connection lost, a 5xx); everything
else needs a change by the user first.
"""

from __future__ import annotations


class KbcSyncError(Exception):
    """Root of every error kbc_sync raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(KbcSyncError):
    """The configuration file or the environment it names is not valid."""


class ApiError(KbcSyncError):
    """The Storage API answered a call with an error status.

    Attributes:
        status: HTTP status, or None when no response came back at all.
        method: HTTP method of the call.
        path: path of the call below the stack URL, without query string or token.
        code: Keboola's error code (`storage.tables.notFound`), when the body had one.
        exception_id: Keboola's exception id, to quote to Keboola support.
        detail: Keboola's own message.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        code: str | None = None,
        exception_id: str | None = None,
        detail: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.code = code
        self.exception_id = exception_id
        self.detail = detail
        self.retryable = retryable


class TokenInvalidError(ApiError):
    """401: the token is not valid on this stack."""


class AccessDeniedError(ApiError):
    """403: the token has no permission for the bucket or table."""


class NotFoundError(ApiError):
    """404: the bucket, table, file or job does not exist."""


class JobFailedError(KbcSyncError):
    """A Storage job ended in `error` or did not finish before the deadline.

    Attributes:
        job_id: the Storage job id.
        code: Keboola's error code from the job's `error` object.
        detail: Keboola's message from the job's `error` object.
        url: a link to the job (API URL or Keboola UI), never carrying a token.
        results: the job's `results` (for example `missingColumns`), as Keboola sent them.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | int | None = None,
        code: str | None = None,
        detail: str | None = None,
        url: str | None = None,
        results: object = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.code = code
        self.detail = detail
        self.url = url
        self.results = results
        self.retryable = retryable


class TransferError(KbcSyncError):
    """Reading or writing a slice in a cloud file store failed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class CopyError(KbcSyncError):
    """A table copy cannot go on: the target token, keys or columns do not allow it.

    Attributes:
        table: the target table id the copy was writing to.
        restored: True when a failed `recreate` put the previous data back.
    """

    def __init__(self, message: str, *, table: str | None = None, restored: bool = False) -> None:
        super().__init__(message)
        self.table = table
        self.restored = restored
