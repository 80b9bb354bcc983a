"""File Storage records: what `files/prepare` creates and `files/{id}` describes."""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kbc_sync.local.filestore import FileProvider
from kbc_sync.local.protocol import ApiFailure, format_date

if TYPE_CHECKING:
    from kbc_sync.local.accounts import Token

MAX_AGE_DAYS = 15
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class FileRecord:
    id: int
    project_id: int
    name: str
    key: str
    is_sliced: bool
    is_encrypted: bool
    is_permanent: bool
    tags: list[str]
    content_type: str
    size_bytes: int | None
    created: datetime
    creator_token_id: str
    creator: dict[str, Any]
    run_id: str | None
    federation: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_key(self) -> str:
        return self.key + "manifest"


class FileRegistry:
    """Every file of the stack, keyed by id; contents live in the provider."""

    def __init__(self, provider: FileProvider) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._ids = itertools.count(50001)
        self._files: dict[int, FileRecord] = {}

    def create(
        self,
        *,
        project_id: int,
        name: str,
        is_sliced: bool,
        is_encrypted: bool = False,
        is_permanent: bool = False,
        tags: list[str] | None = None,
        content_type: str = "application/octet-stream",
        size_bytes: int | None = None,
        now: datetime,
        token_id: str,
        creator: dict[str, Any],
        run_id: str | None,
        folder: str = "files",
        key_name: str | None = None,
    ) -> FileRecord:
        """Record a file; its key follows Keboola's `exp-15/<project>/files/<date>/<id>.<name>`."""
        with self._lock:
            file_id = next(self._ids)
        safe = _UNSAFE.sub("_", key_name or name) or "file"
        key = f"exp-15/{project_id}/{folder}/{now:%Y/%m/%d}/{file_id}.{safe}"
        record = FileRecord(
            file_id, project_id, name, key, is_sliced, is_encrypted, is_permanent,
            list(tags or []), content_type, size_bytes, now, token_id, creator, run_id,
        )  # fmt: skip
        with self._lock:
            self._files[file_id] = record
        return record

    def find(self, file_id: int) -> FileRecord | None:
        return self._files.get(file_id)

    def get(self, project_id: int, file_id: int, token: Token | None = None) -> FileRecord:
        """The file, if it is in the project and the token may read it.

        Tokens other than master ones see only the files they created (Keboola's
        `canReadAllFileUploads` is false for them).
        """
        record = self._files.get(file_id)
        hidden = (
            token is not None
            and not token.master
            and record is not None
            and (record.creator_token_id != token.id)
        )
        if record is None or record.project_id != project_id or hidden:
            raise ApiFailure(404, "storage.files.notFound", f"File {file_id} not found")
        return record

    def delete(self, record: FileRecord) -> None:
        with self._lock:
            self._files.pop(record.id, None)
        self.provider.delete_prefix(record.key)

    def list(self, project_id: int) -> list[FileRecord]:
        with self._lock:
            records = [r for r in self._files.values() if r.project_id == project_id]
        return sorted(records, key=lambda r: r.id, reverse=True)

    def slice_keys(self, record: FileRecord) -> list[str]:
        """Keys of the file's data: the key itself, or the slices its manifest lists in order.

        Raises:
            ApiFailure: `storage.fileNotUploaded` when the file or its manifest is missing, or
                a manifest entry points outside the stack's file storage.
        """
        provider = self.provider
        if not record.is_sliced:
            if not provider.exists(record.key):
                raise _not_uploaded(record)
            return [record.key]

        if not provider.exists(record.manifest_key):
            raise _not_uploaded(record)
        try:
            entries = json.loads(provider.read_bytes(record.manifest_key))["entries"]
            urls = [entry["url"] for entry in entries]
        except (ValueError, KeyError, TypeError):
            raise ApiFailure(
                400, "storage.files.invalidManifest",
                f'The manifest of file {record.id} is not valid: expected '
                '{"entries": [{"url": "s3://bucket/key"}, ...]}.',
            ) from None  # fmt: skip

        keys = []
        for url in urls:
            key = provider.key_of_slice_url(url)
            if key is None or not key.startswith(record.key) or not provider.exists(key):
                raise ApiFailure(
                    400, "storage.fileNotUploaded",
                    f"Slice {url} of file {record.id} is not uploaded under the file's prefix.",
                )  # fmt: skip
            keys.append(key)
        return keys


def _not_uploaded(record: FileRecord) -> ApiFailure:
    what = "manifest" if record.is_sliced else "content"
    return ApiFailure(
        400,
        "storage.fileNotUploaded",
        f"File {record.id} ({record.name}) was prepared but its {what} was never uploaded.",
    )


def file_json(record: FileRecord, provider: FileProvider, *, federation: bool) -> dict[str, Any]:
    """The `files/{id}` answer: a signed `url` (the manifest's for sliced files)."""
    url_key = record.manifest_key if record.is_sliced else record.key
    body: dict[str, Any] = {
        "id": record.id,
        "created": format_date(record.created),
        "isPublic": False,
        "isSliced": record.is_sliced,
        "isEncrypted": record.is_encrypted,
        "name": record.name,
        "fileType": record.content_type,
        "url": provider.signed_url(url_key),
        "provider": provider.name,
        "region": "us-east-1",
        "sizeBytes": record.size_bytes,
        "tags": record.tags,
        "maxAgeDays": None if record.is_permanent else MAX_AGE_DAYS,
        "runId": record.run_id,
        "runIds": [record.run_id] if record.run_id else [],
        "creatorToken": record.creator,
    }
    body.update(provider.detail_params(record.key, federation=federation))
    return body


def prepare_json(record: FileRecord, provider: FileProvider, *, federation: bool) -> dict[str, Any]:
    """The `files/prepare` answer: the file plus where and how to upload it."""
    body = file_json(record, provider, federation=False)
    body.update(
        provider.prepare_params(record.key, federation=federation, encrypted=record.is_encrypted)
    )
    return body
