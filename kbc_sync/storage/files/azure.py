"""File store for stacks on Azure: Blob Storage through azure-storage-blob.

The client comes from the file's `SASConnectionString`, whose `BlobEndpoint` decides where
requests go (an emulator's endpoint works the same way). Slice URLs are
`azure://{account}.blob.core.windows.net/{container}/{blob}`; only container and blob are taken
from them, the endpoint always comes from the connection string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient, BlobType

from kbc_sync.errors import TransferError
from kbc_sync.storage.files.base import DEFAULT_CHUNK_SIZE, FileStore, require, split_url
from kbc_sync.storage.redact import mask


def parse_azure_url(url: str) -> tuple[str, str, str]:
    """Split an `azure://` slice URL into `(account, container, blob)`."""
    host, path = split_url(url, "azure")
    container, _, blob = path.partition("/")
    if not blob:
        raise TransferError(
            mask(f"{url!r} is not an azure://<account>.blob.core.windows.net/<container>/<blob>"),
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
    label = "Azure Blob"
    errors = (AzureError, ValueError)

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
        self.account = params.get("accountName") or self.service.account_name

    def _stored_at(self, file_detail: dict[str, Any]) -> tuple[str, str]:
        path = file_detail.get("absPath") or {}
        return require(path, "container", "absPath"), require(path, "name", "absPath")

    def _upload_to(self, prepared: dict[str, Any]) -> tuple[str, str]:
        params = prepared.get("absUploadParams") or {}
        container = require(params, "container", "absUploadParams")
        return container, require(params, "blobName", "absUploadParams")

    def _url(self, container: str, key: str) -> str:
        return f"azure://{self.account}.blob.core.windows.net/{container}/{key}"

    def _parse_url(self, url: str) -> tuple[str, str]:
        _, container, blob = parse_azure_url(url)
        return container, blob

    def _read_object(self, container: str, key: str) -> bytes:
        return self.service.get_blob_client(container, key).download_blob().readall()

    def _write_object(self, container: str, key: str, data: bytes) -> None:
        blob = self.service.get_blob_client(container, key)
        blob.upload_blob(data, blob_type=BlobType.BLOCKBLOB, overwrite=True)

    def _open_object(
        self, container: str, key: str
    ) -> tuple[Callable[[int], bytes], Callable[[], None], int | None]:
        downloader = self.service.get_blob_client(container, key).download_blob(max_concurrency=1)
        return downloader.read, lambda: None, downloader.size

    def _upload_stream(self, container: str, key: str, stream: BinaryIO) -> None:
        self.service.get_blob_client(container, key).upload_blob(
            stream,
            blob_type=BlobType.BLOCKBLOB,
            overwrite=True,
            max_concurrency=self.concurrency,
        )
