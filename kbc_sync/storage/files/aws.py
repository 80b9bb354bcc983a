"""File store for stacks on AWS: S3 through boto3, with the file's temporary credentials.

The endpoint is boto3's own business: it honours `AWS_ENDPOINT_URL_S3`, which is how the local
Storage stack's S3 server is reached, so this module has no special path for it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kbc_sync.storage.files.base import DEFAULT_CHUNK_SIZE, FileStore, require, split_url

# S3 refuses multipart parts under 5 MiB (except the last one).
_MIN_PART = 5 * 1024 * 1024
# The checksum botocore adds to uploads by default; a multipart upload names it when it starts
# and lists each part's value when it completes.
_CHECKSUM = "CRC32"
# A part is read from the source stream in pieces of at most this size.
_PIECE = 1024 * 1024


# Every store's client comes from one boto3 session: a new session reads botocore's endpoint
# and S3 model files again (about 0.1 s per store, two stores per copy), a shared one has them
# cached. Sessions are not thread-safe, so clients are made one at a time.
_SESSION_LOCK = threading.Lock()


@functools.cache
def _shared_session() -> boto3.session.Session:
    return boto3.session.Session()


class AwsFileStore(FileStore):
    """Slices in S3, read and written with the file resource's STS credentials.

    Args:
        resource: a file detail (`credentials`) or a prepare answer (`uploadParams`).
        chunk_size: multipart part size; at least 5 MiB as S3 requires.
        concurrency: sizes the connection pool; the parts of one slice go one after the
            other, so parallelism comes from the slices in flight.
    """

    provider = "aws"
    label = "S3"
    errors = (BotoCoreError, ClientError, Boto3Error)

    def __init__(
        self,
        resource: dict[str, Any],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = 2,
    ) -> None:
        params = resource.get("uploadParams") or {}
        credentials = resource.get("credentials") or params.get("credentials") or {}
        self.region = resource.get("region") or None
        self.chunk_size = max(chunk_size, _MIN_PART)
        self.encryption = params.get("x-amz-server-side-encryption")

        access_key = require(credentials, "AccessKeyId", "credentials")
        secret_key = require(credentials, "SecretAccessKey", "credentials")
        config = Config(
            retries={"max_attempts": 10, "mode": "standard"},
            max_pool_connections=max(10, concurrency * 4),
        )
        # The credentials go to this store's client only; the session holds none.
        with self._guard("open an S3 client"), _SESSION_LOCK:
            self.s3 = _shared_session().client(
                "s3",
                region_name=self.region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=credentials.get("SessionToken"),
                config=config,
            )

    def _stored_at(self, file_detail: dict[str, Any]) -> tuple[str, str]:
        path = file_detail.get("s3Path") or {}
        return require(path, "bucket", "s3Path"), require(path, "key", "s3Path")

    def _upload_to(self, prepared: dict[str, Any]) -> tuple[str, str]:
        params = prepared.get("uploadParams") or {}
        return require(params, "bucket", "uploadParams"), require(params, "key", "uploadParams")

    def _url(self, container: str, key: str) -> str:
        return f"s3://{container}/{key}"

    def _parse_url(self, url: str) -> tuple[str, str]:
        return split_url(url, "s3")

    def _extra(self) -> dict[str, str]:
        return {"ServerSideEncryption": self.encryption} if self.encryption else {}

    def _read_object(self, container: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=container, Key=key)["Body"].read()

    def _write_object(self, container: str, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=container, Key=key, Body=data, **self._extra())

    def _open_object(
        self, container: str, key: str
    ) -> tuple[Callable[[int], bytes], Callable[[], None]]:
        body = self.s3.get_object(Bucket=container, Key=key)["Body"]
        return body.read, body.close

    def _upload_stream(self, container: str, key: str, stream: BinaryIO) -> None:
        # Parts are read and sent here, one at a time, instead of through boto3's transfer
        # manager: that one starts its own threads for every upload and copies each part
        # again, while this holds one part per slice in memory and adds no threads.
        part = _read_part(stream, self.chunk_size)
        if len(part) < self.chunk_size:
            self.s3.put_object(Bucket=container, Key=key, Body=part, **self._extra())
            return

        upload_id = self.s3.create_multipart_upload(
            Bucket=container, Key=key, ChecksumAlgorithm=_CHECKSUM, **self._extra()
        )["UploadId"]
        try:
            parts = []
            while part:
                parts.append(self._upload_part(container, key, upload_id, len(parts) + 1, part))
                part = b""  # let the sent part go before the next one is read
                part = _read_part(stream, self.chunk_size)
            self.s3.complete_multipart_upload(
                Bucket=container,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(container, key, upload_id)
            raise

    def _upload_part(
        self, container: str, key: str, upload_id: str, number: int, data: bytes
    ) -> dict[str, Any]:
        answer = self.s3.upload_part(
            Bucket=container,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm=_CHECKSUM,
        )
        part = {"ETag": answer["ETag"], "PartNumber": number}
        if f"Checksum{_CHECKSUM}" in answer:
            part[f"Checksum{_CHECKSUM}"] = answer[f"Checksum{_CHECKSUM}"]
        return part

    def _abort(self, container: str, key: str, upload_id: str) -> None:
        # Best effort: the parts of an unfinished upload would otherwise stay stored (and
        # billed) until a lifecycle rule removes them; the original error is what matters.
        with contextlib.suppress(*self.errors):
            self.s3.abort_multipart_upload(Bucket=container, Key=key, UploadId=upload_id)


def _read_part(stream: BinaryIO, size: int) -> bytes | bytearray:
    """Read `size` bytes from `stream`, fewer only at its end (SDK streams may read short).

    The pieces go straight into one buffer of the part's size: joining them instead would hold
    the part twice for a moment, and that for every slice in flight.
    """
    piece = stream.read(min(size, _PIECE))
    if len(piece) < _PIECE:
        # A small slice: most likely all there is, so no part-sized buffer for it.
        rest = stream.read(min(size - len(piece), _PIECE)) if piece else b""
        if not rest:
            return piece
        piece += rest

    part = bytearray(size)
    with memoryview(part) as view:
        filled = 0
        while piece:
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            piece = stream.read(min(size - filled, _PIECE)) if filled < size else b""
    del part[filled:]
    return part
