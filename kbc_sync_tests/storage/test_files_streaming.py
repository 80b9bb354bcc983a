"""Slices of known length stream from one S3 object into another without being held whole."""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import pytest

from kbc_sync.errors import TransferError
from kbc_sync.storage.files import open_file_store
from kbc_sync.storage.files.base import GuardedStream
from kbc_sync_tests.storage.local import Project

MIB = 1024 * 1024


class _ReadSizes:
    """A stream that passes reads through and notes the largest one asked for."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.size = stream.size
        self.largest = 0

    def read(self, size: int = -1) -> bytes:
        self.largest = max(self.largest, size if size >= 0 else 1 << 62)
        return self._stream.read(size)


def _sized(data: bytes, size: int) -> GuardedStream:
    source = io.BytesIO(data)
    return GuardedStream(source.read, source.close, contextlib.nullcontext, size=size)


def _stored(store: Any, prepared: dict, name: str) -> list[str]:
    params = prepared["uploadParams"]
    answer = store.s3.list_objects_v2(Bucket=params["bucket"], Prefix=params["key"] + name)
    return [item["Key"] for item in answer.get("Contents", [])]


def _open_uploads(store: Any, prepared: dict) -> list[dict]:
    return store.s3.list_multipart_uploads(Bucket=prepared["uploadParams"]["bucket"]).get(
        "Uploads", []
    )


def test_open_slice_reports_the_object_size(project: Project) -> None:
    prepared = project.client.prepare_file("sized.bin", sliced=True)
    store = open_file_store(prepared)
    url = store.upload_slice(prepared, "s0", io.BytesIO(b"x" * 1234))

    with store.open_slice(url) as stream:
        assert stream.size == 1234


def test_upload_slice_of_known_size_streams_parts_in_pieces(project: Project) -> None:
    prepared = project.client.prepare_file("stream.bin", sliced=True)
    store = open_file_store(prepared, chunk_size=5 * MIB)
    payload = os.urandom(11 * MIB + 5)
    source_url = store.upload_slice(prepared, "src", io.BytesIO(payload))

    with store.open_slice(source_url) as opened:
        stream = _ReadSizes(opened)
        url = store.upload_slice(prepared, "dst", stream)  # type: ignore[arg-type]

    with store.open_slice(url) as copied:
        assert copied.read() == payload
    bucket, key = url.removeprefix("s3://").split("/", 1)
    assert store.s3.head_object(Bucket=bucket, Key=key)["ETag"].endswith('-3"')  # 5 + 5 + 1 MiB
    # No part was asked for whole: the SDK read each one in pieces as it sent it.
    assert 0 < stream.largest <= MIB


@pytest.mark.parametrize("size", [3 * MIB, 7 * MIB], ids=["single", "multipart"])
def test_upload_slice_shorter_than_its_reported_size_fails_and_stores_nothing(
    project: Project, size: int
) -> None:
    prepared = project.client.prepare_file("short.bin", sliced=True)
    store = open_file_store(prepared, chunk_size=5 * MIB)

    with pytest.raises(TransferError, match=r"bytes short of the size its storage reported"):
        store.upload_slice(prepared, "short0", _sized(os.urandom(size - 100), size))

    assert _stored(store, prepared, "short0") == []
    assert _open_uploads(store, prepared) == []


@pytest.mark.parametrize("size", [3 * MIB, 7 * MIB], ids=["single", "multipart"])
def test_upload_slice_longer_than_its_reported_size_fails(project: Project, size: int) -> None:
    prepared = project.client.prepare_file("long.bin", sliced=True)
    store = open_file_store(prepared, chunk_size=5 * MIB)

    with pytest.raises(TransferError, match=r"holds more than the \d+ bytes"):
        store.upload_slice(prepared, "long0", _sized(os.urandom(size + 1), size))

    # A whole single-request object is already stored by then; the copy fails, so its file is
    # never listed in a manifest nor loaded. A multipart upload is never completed.
    assert _open_uploads(store, prepared) == []
    if size > 5 * MIB:
        assert _stored(store, prepared, "long0") == []
