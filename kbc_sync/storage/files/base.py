"""What every file store offers, and the pieces they share: manifests, streams, errors.

A Storage file resource lives in the stack's cloud storage (S3, Azure Blob Storage or GCS). A
sliced file is a prefix (`key`) plus slices `key + <slice name>` and a manifest at
`key + "manifest"`: `{"entries": [{"url": "<scheme>://..."}, ...]}`, the slices in order.
"""

from __future__ import annotations

import functools
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO

from kbc_sync.errors import TransferError
from kbc_sync.storage.redact import mask

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
MANIFEST = "manifest"
# `GuardedStream.readall` reads this much per call to the SDK.
READALL_PIECE = 1024 * 1024


class FileStore(ABC):
    """Reads and writes the slices of Storage files in one cloud provider's storage.

    A store is built from a file detail or a prepare answer (`open_file_store`), whose
    federated credentials it uses. The public methods are the same for every provider; a
    provider supplies where a file lives, its URL scheme, and five small object operations.
    """

    provider: str = ""
    label: str = ""
    errors: tuple[type[BaseException], ...] = ()

    def slice_urls(self, file_detail: dict[str, Any]) -> list[str]:
        """Return the URLs of a file's slices in order (the file itself when not sliced)."""
        container, key = self._stored_at(file_detail)
        if not file_detail.get("isSliced"):
            return [self._url(container, key)]

        what = f"file {file_detail.get('id')}"
        with self._guard(f"read the manifest of {what}"):
            body = self._read_object(container, key + MANIFEST)
        return parse_manifest(body, what=what)

    def open_slice(self, url: str) -> GuardedStream:
        """Open one slice as a readable binary stream, fetched as it is consumed.

        The stream's `size` is the slice's length in bytes when the SDK tells it on opening.
        """
        container, key = self._parse_url(url)
        guard = functools.partial(self._guard, f"read slice {key}")
        with guard():
            read, close, size = self._open_object(container, key)
        return GuardedStream(read, close, guard, size=size)

    def upload_slice(self, prepared: dict[str, Any], name: str, stream: BinaryIO) -> str:
        """Upload a stream as slice `name` of a prepared sliced file; return the slice URL.

        The upload goes in chunks (multipart, blocks, resumable), so memory stays bounded by a
        few chunks whatever the stream's length.
        """
        container, prefix = self._upload_to(prepared)
        key = prefix + name
        with self._guard(f"upload slice {name}"):
            self._upload_stream(container, key, stream)
        return self._url(container, key)

    def write_manifest(self, prepared: dict[str, Any], names: Sequence[str]) -> None:
        """Write the manifest that lists the slices `names` of a prepared file, in order."""
        container, prefix = self._upload_to(prepared)
        body = manifest_body([self._url(container, prefix + name) for name in names])
        with self._guard(f"write the manifest of file {prepared.get('id')}"):
            self._write_object(container, prefix + MANIFEST, body)

    def read_file(self, file_detail: dict[str, Any]) -> bytes:
        """Return the whole content of a small file (all slices joined when sliced).

        For manifests, previews and tests; table data goes slice by slice through
        `open_slice` instead, never whole into memory.
        """
        parts = []
        for url in self.slice_urls(file_detail):
            with self.open_slice(url) as stream:
                parts.append(stream.read())
        return b"".join(parts)

    def _guard(self, action: str) -> Any:
        return converting(self.errors, action, self.label)

    @abstractmethod
    def _stored_at(self, file_detail: dict[str, Any]) -> tuple[str, str]:
        """Return (bucket or container, key or blob name) of an existing file."""

    @abstractmethod
    def _upload_to(self, prepared: dict[str, Any]) -> tuple[str, str]:
        """Return (bucket or container, key prefix) of a prepared upload."""

    @abstractmethod
    def _url(self, container: str, key: str) -> str:
        """Return the slice URL of an object, as manifests carry it."""

    @abstractmethod
    def _parse_url(self, url: str) -> tuple[str, str]:
        """Return (bucket or container, key) of a slice URL."""

    @abstractmethod
    def _read_object(self, container: str, key: str) -> bytes:
        """Return a small object's bytes."""

    @abstractmethod
    def _write_object(self, container: str, key: str, data: bytes) -> None:
        """Write a small object."""

    @abstractmethod
    def _open_object(
        self, container: str, key: str
    ) -> tuple[Callable[[int], bytes], Callable[[], None], int | None]:
        """Open an object for streaming: return its read(n), close() and size, if known."""

    @abstractmethod
    def _upload_stream(self, container: str, key: str, stream: BinaryIO) -> None:
        """Upload a stream in bounded chunks."""


def manifest_body(urls: Sequence[str]) -> bytes:
    """Return the manifest document for slice URLs."""
    return json.dumps({"entries": [{"url": url} for url in urls]}).encode()


def parse_manifest(data: bytes, *, what: str) -> list[str]:
    """Return the slice URLs a manifest lists.

    Raises:
        TransferError: the manifest is not the documented JSON.
    """
    try:
        entries = json.loads(data)["entries"]
        urls = [str(entry["url"]) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise TransferError(
            mask(f"The manifest of {what} is not a valid slice list ({exc}). Export again."),
            retryable=False,
        ) from exc
    return urls


def split_url(url: str, scheme: str) -> tuple[str, str]:
    """Split `<scheme>://<first>/<rest>` into `(first, rest)`.

    Raises:
        TransferError: the URL has another scheme or no object path.
    """
    prefix = f"{scheme}://"
    first, _, rest = url[len(prefix) :].partition("/") if url.startswith(prefix) else ("", "", "")
    if not first or not rest:
        raise TransferError(
            mask(f"{url!r} is not a {scheme}:// slice URL of the form {prefix}<bucket>/<key>."),
            retryable=False,
        )
    return first, rest


def require(section: dict[str, Any], key: str, what: str) -> Any:
    """Return `section[key]`, or raise a TransferError naming the missing field."""
    value = section.get(key) if isinstance(section, dict) else None
    if value in (None, ""):
        raise TransferError(
            f"The Storage file resource lacks {what}.{key}; the stack answered with a file "
            "shape kbc_sync does not know. Check the stack URL.",
            retryable=False,
        )
    return value


@contextmanager
def converting(
    errors: tuple[type[BaseException], ...], action: str, provider: str
) -> Iterator[None]:
    """Turn the SDK's errors inside the block into a masked `TransferError`."""
    try:
        yield
    except errors as exc:
        raise TransferError(
            mask(
                f"Could not {action} in {provider} file storage: {type(exc).__name__}: {exc}. "
                "The file's temporary credentials may have expired or the transfer was "
                "interrupted; run the copy again."
            )
        ) from exc


class GuardedStream(io.RawIOBase):
    """A readable stream over an SDK stream whose read errors become `TransferError`.

    `read` hands the SDK's bytes through as they come: `RawIOBase.read` would copy every chunk
    twice (into a buffer, then out of it) and `readall` would go 8 KiB at a time.

    Args:
        read: reads up to n bytes from the SDK stream.
        close: closes the SDK stream.
        guard: the `converting` context to read under.
        size: the object's length in bytes, when the SDK told it.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        close: Callable[[], None],
        guard: Callable[[], Any],
        *,
        size: int | None = None,
    ) -> None:
        super().__init__()
        self._read = read
        self._close = close
        self._guard = guard
        self.size = size

    def readable(self) -> bool:
        """Say yes: this stream is for reading."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Return up to `size` bytes (all that is left when negative); empty at the end."""
        if self.closed:
            raise ValueError("I/O operation on closed slice stream.")
        if size is None or size < 0:
            return self.readall()
        with self._guard():
            return self._read(size)

    def readall(self) -> bytes:
        """Return all that is left of the slice, read in pieces of `READALL_PIECE` bytes."""
        pieces = []
        while piece := self.read(READALL_PIECE):
            pieces.append(piece)
        return b"".join(pieces)

    def readinto(self, buffer: Any) -> int:
        """Read into `buffer`; an empty result means the end of the slice."""
        with self._guard():
            data = self._read(len(buffer))
        count = len(data)
        buffer[:count] = data
        return count

    def close(self) -> None:
        """Close the SDK stream once."""
        if not self.closed:
            try:
                self._close()
            finally:
                super().close()
