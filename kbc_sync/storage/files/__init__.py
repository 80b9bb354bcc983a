"""File stores: read and write Storage file slices in the stack's cloud storage.

`open_file_store` picks the store by the file resource's `provider`: `aws` (boto3), `azure`
(azure-storage-blob) or `gcp` (google-cloud-storage). The SDK of a provider is imported only
when a file of that provider is met.
"""

from __future__ import annotations

from typing import Any

from kbc_sync.errors import TransferError
from kbc_sync.storage.files.base import (
    DEFAULT_CHUNK_SIZE,
    FileStore,
    manifest_body,
    parse_manifest,
)
from kbc_sync.storage.redact import protect_loggers

PROVIDERS = ("aws", "azure", "gcp")


def open_file_store(
    detail_or_prepare: dict[str, Any],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int = 2,
) -> FileStore:
    """Return the file store for a file detail (`get_file`) or prepare answer (`prepare_file`).

    Args:
        detail_or_prepare: the file resource, with its federated credentials.
        chunk_size: bytes per upload part / download chunk; memory stays within a few of them.
        concurrency: parts in flight per slice upload.

    Raises:
        TransferError: the provider is not one of `PROVIDERS`.
    """
    provider = detail_or_prepare.get("provider")
    store: FileStore | None = None
    if provider == "aws":
        from kbc_sync.storage.files.aws import AwsFileStore

        store = AwsFileStore(detail_or_prepare, chunk_size=chunk_size, concurrency=concurrency)
    elif provider == "azure":
        from kbc_sync.storage.files.azure import AzureFileStore

        store = AzureFileStore(detail_or_prepare, chunk_size=chunk_size, concurrency=concurrency)
    elif provider == "gcp":
        from kbc_sync.storage.files.gcp import GcsFileStore

        store = GcsFileStore(detail_or_prepare, chunk_size=chunk_size, concurrency=concurrency)
    if store is not None:
        # The SDK's loggers exist now; their DEBUG lines carry the file's credentials.
        protect_loggers()
        return store
    raise TransferError(
        f"File {detail_or_prepare.get('id')} is stored with provider {provider!r}; kbc_sync "
        f"can transfer files of {', '.join(PROVIDERS)} only.",
        retryable=False,
    )


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "PROVIDERS",
    "FileStore",
    "manifest_body",
    "open_file_store",
    "parse_manifest",
]
