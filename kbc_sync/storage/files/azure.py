"""File store for stacks on Azure: Blob Storage through azure-storage-blob.

The client comes from the file's `SASConnectionString`, whose `BlobEndpoint` decides where
requests go (an emulator's endpoint works the same way). Slice URLs are
`azure://{account}.blob.core.windows.net/{container}/{blob}`; only container and blob are taken
from them, the endpoint always comes from the connection string.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, BinaryIO

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient, BlobType

from kbc_sync.errors import TransferError
from kbc_sync.storage.files.base import (
    DEFAULT_CHUNK_SIZE,
    MANIFEST,
    FileStore,
    GuardedStream,
    converting,
    manifest_body,
    parse_manifest,
    require,
    split_url,
)
from kbc_sync.storage.redact import mask

_ERRORS = (AzureError, ValueError)


def parse_azure_url(url: str) -> tuple[str, str, str]:
    """Split an `azure://` slice URL into `(account, container, blob)`."""
    host, path = split_url(url, "azure")
    container, _, blob = path.partition("/")
    if not blob:
        raise TransferError(
            mask(
                f"{url!r} is not an azure://<account>.blob.core.windows.net/<container>/<blob> URL."
            ),
            retryable=False,
        )
    return host.split(".", 1)[0], container, blob


class AzureFileStore(FileStore):
    """Slices in Azure Blob Storage, read and written with the file's SAS connection string.

    Args:
        resource: a file detail (`absCredentials`) or a prepare answer (`absUploadParams`).
        chunk_size: block size for uploads and chunk size for downloads.
        concurrency: blocks in flight per slice.
    """

    provider = "azure"

    def __init__(
        self,
        resource: dict[str, Any],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = 2,
    ) -> None:
        params = resource.get("absUploadParams") or {}
        credentials = resource.get("absCredentials") or params.get("absCredentials") or {}
        connection_string = require(credentials, "SASConnectionString", "absCredentials")
        self.concurrency = concurrency
        with self._guard("open a Blob Storage client"):
            # Bounded chunks both ways, so memory does not grow with a slice's size.
            self.service = BlobServiceClient.from_connection_string(
                connection_string,
                max_block_size=chunk_size,
                max_single_put_size=chunk_size,
                max_single_get_size=chunk_size,
                max_chunk_get_size=chunk_size,
            )

    def _guard(self, action: str) -> Any:
        return converting(_ERRORS, action, "Azure Blob")

    def slice_urls(self, file_detail: dict[str, Any]) -> list[str]:
        """Return the slice URLs, reading the manifest at `absPath.name + "manifest"`."""
        path = file_detail.get("absPath") or {}
        container = require(path, "container", "absPath")
        name = require(path, "name", "absPath")
        if not file_detail.get("isSliced"):
            return [f"azure://{self.service.account_name}.blob.core.windows.net/{container}/{name}"]

        with self._guard(f"read the manifest of file {file_detail.get('id')}"):
            blob = self.service.get_blob_client(container, name + MANIFEST)
            body = blob.download_blob().readall()
        return parse_manifest(body, what=f"file {file_detail.get('id')}")

    def open_slice(self, url: str) -> BinaryIO:
        """Open an `azure://` slice as a stream, fetched chunk by chunk."""
        _, container, blob = parse_azure_url(url)
        guard = functools.partial(self._guard, f"read slice {blob}")
        with guard():
            downloader = self.service.get_blob_client(container, blob).download_blob(
                max_concurrency=1
            )
        return GuardedStream(downloader.read, lambda: None, guard)  # type: ignore[return-value]

    def upload_slice(self, prepared: dict[str, Any], name: str, stream: BinaryIO) -> str:
        """Upload a stream as block blob `absUploadParams.blobName + name`."""
        params = prepared.get("absUploadParams") or {}
        container = require(params, "container", "absUploadParams")
        blob = require(params, "blobName", "absUploadParams") + name
        account = params.get("accountName") or self.service.account_name

        with self._guard(f"upload slice {name}"):
            self.service.get_blob_client(container, blob).upload_blob(
                stream,
                blob_type=BlobType.BLOCKBLOB,
                overwrite=True,
                max_concurrency=self.concurrency,
            )
        return f"azure://{account}.blob.core.windows.net/{container}/{blob}"

    def write_manifest(self, prepared: dict[str, Any], names: Sequence[str]) -> None:
        """Write `absUploadParams.blobName + "manifest"` listing the slices."""
        params = prepared.get("absUploadParams") or {}
        container = require(params, "container", "absUploadParams")
        blob = require(params, "blobName", "absUploadParams")
        account = params.get("accountName") or self.service.account_name
        base = f"azure://{account}.blob.core.windows.net/{container}/{blob}"
        body = manifest_body([f"{base}{name}" for name in names])

        with self._guard(f"write the manifest of file {prepared.get('id')}"):
            self.service.get_blob_client(container, blob + MANIFEST).upload_blob(
                body, blob_type=BlobType.BLOCKBLOB, overwrite=True
            )
