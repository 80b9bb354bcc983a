"""File store for stacks on AWS: S3 through boto3, with the file's temporary credentials.

The endpoint is boto3's own business: it honours `AWS_ENDPOINT_URL_S3`, which is how the local
Storage stack's S3 server is reached, so this module has no special path for it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kbc_sync.errors import TransferError
from kbc_sync.storage.files.base import DEFAULT_CHUNK_SIZE, FileStore, require, split_url

# S3 refuses multipart parts under 5 MiB (except the last one).
_MIN_PART = 5 * 1024 * 1024
# Parts carry this checksum, which S3 verifies. Streamed parts can carry it only in a trailer
# after the data, which botocore sends over TLS only; over plain HTTP (the local Storage stack)
# a header checksum would mean reading each part twice, so parts go without one there.
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
        chunk_size: multipart part size; at least 5 MiB as S3 requires. It costs memory only
            for a stream of unknown length, whose parts are read whole before they are sent.
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
            # Checksums are asked for explicitly (see `_CHECKSUM`), and a body is never read
            # to sign it: both would need a part in memory to read it twice.
            request_checksum_calculation="when_required",
            s3={"payload_signing_enabled": False},
        )
        # The credentials go to this store's clients only; the session holds none. A streamed
        # part cannot be rewound, so botocore must not resend it: its client makes one attempt,
        # and a failed part sends the whole slice again (`kbc_sync.engine.transfer`).
        keys = {
            "region_name": self.region,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "aws_session_token": credentials.get("SessionToken"),
        }
        once = config.merge(Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        with self._guard("open an S3 client"), _SESSION_LOCK:
            self.s3 = _shared_session().client("s3", config=config, **keys)
            self._s3_once = _shared_session().client("s3", config=once, **keys)
        tls = str(self.s3.meta.endpoint_url).startswith("https://")
        self.checksum = _CHECKSUM if tls else None

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

    def _read_object(self, container: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=container, Key=key)["Body"].read()

    def _write_object(self, container: str, key: str, data: bytes) -> None:
        self._put(container, key, data, len(data))

    def _open_object(
        self, container: str, key: str
    ) -> tuple[Callable[[int], bytes], Callable[[], None], int | None]:
        answer = self.s3.get_object(Bucket=container, Key=key)
        body = answer["Body"]
        return body.read, body.close, answer.get("ContentLength")

    def _upload_stream(self, container: str, key: str, stream: BinaryIO) -> None:
        # Parts are sent here, one after the other, instead of through boto3's transfer
        # manager: that one reads every part into memory (and starts threads of its own),
        # while a part of known length goes from the source stream to the socket in pieces.
        size = getattr(stream, "size", None)
        if size is None:
            first = _read_part(stream, self.chunk_size)
            if len(first) < self.chunk_size:
                self._put(container, key, first, len(first))
                return
            parts: Iterator[Any] = itertools.chain(
                [first], iter(functools.partial(_read_part, stream, self.chunk_size), b"")
            )
            del first
        elif size <= self.chunk_size:
            self._put(container, key, _Section(stream, size), size)
            _expect_end(stream, size)
            return
        else:
            parts = (
                _Section(stream, min(self.chunk_size, size - offset))
                for offset in range(0, size, self.chunk_size)
            )

        created = self.s3.create_multipart_upload(Bucket=container, Key=key, **self._put_args())
        upload_id = created["UploadId"]
        try:
            sent = []
            for number, body in enumerate(parts, start=1):
                sent.append(self._upload_part(container, key, upload_id, number, body))
                del body  # a buffered part goes before the next one is read
            if size is not None:
                _expect_end(stream, size)
            self.s3.complete_multipart_upload(
                Bucket=container, Key=key, UploadId=upload_id, MultipartUpload={"Parts": sent}
            )
        except BaseException:
            self._abort(container, key, upload_id)
            raise

    def _client_for(self, body: Any) -> Any:
        return self._s3_once if isinstance(body, _Section) else self.s3

    @contextlib.contextmanager
    def _sending(self, body: Any) -> Iterator[None]:
        # The SDK wraps whatever the body raised into its own error; the section's own
        # message says better what went wrong.
        try:
            yield
        except self.errors:
            if isinstance(body, _Section) and body.failure is not None:
                raise body.failure from None
            raise

    def _put(self, container: str, key: str, body: Any, length: int) -> None:
        with self._sending(body):
            self._client_for(body).put_object(
                Bucket=container, Key=key, Body=body, ContentLength=length, **self._put_args()
            )

    def _put_args(self) -> dict[str, str]:
        args = {"ServerSideEncryption": self.encryption} if self.encryption else {}
        if self.checksum:
            args["ChecksumAlgorithm"] = self.checksum
        return args

    def _upload_part(
        self, container: str, key: str, upload_id: str, number: int, data: Any
    ) -> dict[str, Any]:
        checksum = {"ChecksumAlgorithm": self.checksum} if self.checksum else {}
        length = len(data)
        with self._sending(data):
            answer = self._client_for(data).upload_part(
                Bucket=container,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ContentLength=length,
                **checksum,
            )
        part = {"ETag": answer["ETag"], "PartNumber": number}
        if self.checksum and f"Checksum{self.checksum}" in answer:
            part[f"Checksum{self.checksum}"] = answer[f"Checksum{self.checksum}"]
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


class _Section:
    """The next `length` bytes of a stream, handed to the SDK to read as it sends them.

    The SDK reads it once, in pieces, so a part of any size costs no more memory than a piece.
    It cannot be rewound: when sending fails, the whole slice is sent again from its start.
    """

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self._length = length
        self._left = length
        # What reading the source raised, which the SDK reports only wrapped in its own error.
        self.failure: Exception | None = None

    def __len__(self) -> int:
        return self._length

    def read(self, size: int | None = -1) -> bytes:
        """Return up to `size` bytes of the section (all that is left when negative)."""
        if self._left == 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        try:
            data = self._stream.read(want)
            if not data:
                raise TransferError(
                    f"The source slice ended {self._left} bytes short of the size its storage "
                    "reported; it may have been changed or deleted meanwhile. Run the copy again."
                )
        except Exception as exc:
            self.failure = exc
            raise
        self._left -= len(data)
        return data


def _expect_end(stream: BinaryIO, size: int) -> None:
    """Fail when a stream holds more than the `size` bytes its storage reported."""
    if stream.read(1):
        raise TransferError(
            f"The source slice holds more than the {size} bytes its storage reported; it may "
            "have been changed meanwhile. Run the copy again."
        )
