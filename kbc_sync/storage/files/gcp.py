"""File store for stacks on Google Cloud: GCS through google-cloud-storage.

The file resource carries an OAuth access token (valid one hour) and the GCP project. The
library honours `STORAGE_EMULATOR_HOST` by itself, so an emulator needs no special path here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, BinaryIO

import requests
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage
from google.oauth2.credentials import Credentials
from google.resumable_media.common import DataCorruption, InvalidResponse

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

_ERRORS = (
    GoogleAPIError,
    GoogleAuthError,
    InvalidResponse,
    DataCorruption,
    requests.RequestException,
)
# GCS resumable uploads need chunks in multiples of 256 KiB.
_CHUNK_UNIT = 256 * 1024


class GcsFileStore(FileStore):
    """Slices in GCS, read and written with the file resource's access token.

    Args:
        resource: a file detail (`gcsCredentials`) or a prepare answer (`gcsUploadParams`).
        chunk_size: resumable upload chunk and download chunk, rounded to 256 KiB.
        concurrency: unused (GCS resumable uploads send one chunk at a time).
    """

    provider = "gcp"

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

    def _guard(self, action: str) -> Any:
        return converting(_ERRORS, action, "GCS")

    def slice_urls(self, file_detail: dict[str, Any]) -> list[str]:
        """Return the slice URLs, reading the manifest at `gcsPath.key + "manifest"`."""
        path = file_detail.get("gcsPath") or {}
        bucket = require(path, "bucket", "gcsPath")
        key = require(path, "key", "gcsPath")
        if not file_detail.get("isSliced"):
            return [f"gs://{bucket}/{key}"]

        with self._guard(f"read the manifest of file {file_detail.get('id')}"):
            body = self.client.bucket(bucket).blob(key + MANIFEST).download_as_bytes()
        return parse_manifest(body, what=f"file {file_detail.get('id')}")

    def open_slice(self, url: str) -> BinaryIO:
        """Open a `gs://bucket/key` slice as a stream, fetched chunk by chunk."""
        bucket, key = split_url(url, "gs")
        guard = functools.partial(self._guard, f"read slice {key}")
        with guard():
            reader = self.client.bucket(bucket).blob(key).open("rb", chunk_size=self.chunk_size)
        return GuardedStream(reader.read, reader.close, guard)  # type: ignore[return-value]

    def upload_slice(self, prepared: dict[str, Any], name: str, stream: BinaryIO) -> str:
        """Upload a stream to `gcsUploadParams.key + name` as a resumable upload."""
        params = prepared.get("gcsUploadParams") or {}
        bucket = require(params, "bucket", "gcsUploadParams")
        key = require(params, "key", "gcsUploadParams") + name

        with self._guard(f"upload slice {name}"):
            blob = self.client.bucket(bucket).blob(key, chunk_size=self.chunk_size)
            blob.upload_from_file(stream)
        return f"gs://{bucket}/{key}"

    def write_manifest(self, prepared: dict[str, Any], names: Sequence[str]) -> None:
        """Write `gcsUploadParams.key + "manifest"` listing the slices."""
        params = prepared.get("gcsUploadParams") or {}
        bucket = require(params, "bucket", "gcsUploadParams")
        key = require(params, "key", "gcsUploadParams")
        body = manifest_body([f"gs://{bucket}/{key}{name}" for name in names])

        with self._guard(f"write the manifest of file {prepared.get('id')}"):
            blob = self.client.bucket(bucket).blob(key + MANIFEST)
            blob.upload_from_string(body, content_type="application/json")
