"""File store for stacks on Google Cloud: GCS through google-cloud-storage.

The file resource carries an OAuth access token (valid one hour) and the GCP project. The
library honours `STORAGE_EMULATOR_HOST` by itself, so an emulator needs no special path here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

import requests
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage
from google.oauth2.credentials import Credentials
from google.resumable_media.common import DataCorruption, InvalidResponse

from kbc_sync.storage.files.base import DEFAULT_CHUNK_SIZE, FileStore, require, split_url

# GCS resumable uploads need chunks in multiples of 256 KiB.
_CHUNK_UNIT = 256 * 1024


class GcsFileStore(FileStore):
    """Slices in GCS, read and written with the file resource's access token.

    Args:
        resource: a file detail (`gcsCredentials`) or a prepare answer (`gcsUploadParams`).
        chunk_size: resumable upload chunk and download chunk, rounded to 256 KiB.
        concurrency: unused; a GCS resumable upload sends one chunk after the other.
    """

    provider = "gcp"
    label = "GCS"
    errors = (
        GoogleAPIError,
        GoogleAuthError,
        InvalidResponse,
        DataCorruption,
        requests.RequestException,
    )

    def __init__(
        self,
        resource: dict[str, Any],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = 2,
    ) -> None:
        params = resource.get("gcsUploadParams") or {}
        credentials = resource.get("gcsCredentials") or params
        token = require(credentials, "access_token", "gcsCredentials")
        self.project = credentials.get("projectId") or params.get("projectId")
        self.chunk_size = max(_CHUNK_UNIT, chunk_size // _CHUNK_UNIT * _CHUNK_UNIT)
        with self._guard("open a GCS client"):
            self.client = storage.Client(project=self.project, credentials=Credentials(token))
        # The client would fetch each bucket's metadata in a background thread, only to label
        # its traces: a request the file's narrow token may not make, retried for minutes.
        self.client._bucket_metadata_cache = None

    def _stored_at(self, file_detail: dict[str, Any]) -> tuple[str, str]:
        path = file_detail.get("gcsPath") or {}
        return require(path, "bucket", "gcsPath"), require(path, "key", "gcsPath")

    def _upload_to(self, prepared: dict[str, Any]) -> tuple[str, str]:
        params = prepared.get("gcsUploadParams") or {}
        bucket = require(params, "bucket", "gcsUploadParams")
        return bucket, require(params, "key", "gcsUploadParams")

    def _url(self, container: str, key: str) -> str:
        return f"gs://{container}/{key}"

    def _parse_url(self, url: str) -> tuple[str, str]:
        return split_url(url, "gs")

    def _read_object(self, container: str, key: str) -> bytes:
        return self.client.bucket(container).blob(key).download_as_bytes()

    def _write_object(self, container: str, key: str, data: bytes) -> None:
        blob = self.client.bucket(container).blob(key)
        blob.upload_from_string(data, content_type="application/json")

    def _open_object(
        self, container: str, key: str
    ) -> tuple[Callable[[int], bytes], Callable[[], None], int | None]:
        # The reader learns the size with its first ranged read; none has happened yet.
        reader = self.client.bucket(container).blob(key).open("rb", chunk_size=self.chunk_size)
        return reader.read, reader.close, None

    def _upload_stream(self, container: str, key: str, stream: BinaryIO) -> None:
        blob = self.client.bucket(container).blob(key, chunk_size=self.chunk_size)
        blob.upload_from_file(stream)
