"""File store for stacks on AWS: S3 through boto3, with the file's temporary credentials.

The endpoint is boto3's own business: it honours `AWS_ENDPOINT_URL_S3`, which is how the local
Storage stack's S3 server is reached, so this module has no special path for it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, BinaryIO

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

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

_ERRORS = (BotoCoreError, ClientError, Boto3Error)
# S3 refuses multipart parts under 5 MiB (except the last one).
_MIN_PART = 5 * 1024 * 1024


class AwsFileStore(FileStore):
    """Slices in S3, read and written with the file resource's STS credentials.

    Args:
        resource: a file detail (`credentials`) or a prepare answer (`uploadParams`).
        chunk_size: multipart part size; at least 5 MiB as S3 requires.
        concurrency: parts uploaded in parallel per slice.
    """

    provider = "aws"

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
        self.transfer = TransferConfig(
            multipart_threshold=self.chunk_size,
            multipart_chunksize=self.chunk_size,
            max_concurrency=concurrency,
            max_io_queue=concurrency * 2,
        )
        session = boto3.session.Session(
            aws_access_key_id=require(credentials, "AccessKeyId", "credentials"),
            aws_secret_access_key=require(credentials, "SecretAccessKey", "credentials"),
            aws_session_token=credentials.get("SessionToken"),
            region_name=self.region,
        )
        with self._guard("open an S3 client"):
            self.s3 = session.client(
                "s3",
                config=Config(
                    retries={"max_attempts": 10, "mode": "standard"},
                    max_pool_connections=max(10, concurrency * 4),
                ),
            )

    def _guard(self, action: str) -> Any:
        return converting(_ERRORS, action, "S3")

    def slice_urls(self, file_detail: dict[str, Any]) -> list[str]:
        """Return the slice URLs, reading the manifest at `s3Path.key + "manifest"`."""
        path = file_detail.get("s3Path") or {}
        bucket = require(path, "bucket", "s3Path")
        key = require(path, "key", "s3Path")
        if not file_detail.get("isSliced"):
            return [f"s3://{bucket}/{key}"]

        with self._guard(f"read the manifest of file {file_detail.get('id')}"):
            body = self.s3.get_object(Bucket=bucket, Key=key + MANIFEST)["Body"].read()
        return parse_manifest(body, what=f"file {file_detail.get('id')}")

    def open_slice(self, url: str) -> BinaryIO:
        """Open an `s3://bucket/key` slice as a stream."""
        bucket, key = split_url(url, "s3")
        guard = functools.partial(self._guard, f"read slice {key}")
        with guard():
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        return GuardedStream(body.read, body.close, guard)  # type: ignore[return-value]

    def upload_slice(self, prepared: dict[str, Any], name: str, stream: BinaryIO) -> str:
        """Upload a stream to `uploadParams.key + name`, in parts of `chunk_size`."""
        params = prepared.get("uploadParams") or {}
        bucket = require(params, "bucket", "uploadParams")
        key = require(params, "key", "uploadParams") + name
        extra = {}
        if params.get("x-amz-server-side-encryption"):
            extra["ServerSideEncryption"] = params["x-amz-server-side-encryption"]

        with self._guard(f"upload slice {name}"):
            self.s3.upload_fileobj(stream, bucket, key, ExtraArgs=extra, Config=self.transfer)
        return f"s3://{bucket}/{key}"

    def write_manifest(self, prepared: dict[str, Any], names: Sequence[str]) -> None:
        """Write `uploadParams.key + "manifest"` listing the slices."""
        params = prepared.get("uploadParams") or {}
        bucket = require(params, "bucket", "uploadParams")
        key = require(params, "key", "uploadParams")
        body = manifest_body([f"s3://{bucket}/{key}{name}" for name in names])
        extra = {}
        if params.get("x-amz-server-side-encryption"):
            extra["ServerSideEncryption"] = params["x-amz-server-side-encryption"]

        with self._guard(f"write the manifest of file {prepared.get('id')}"):
            self.s3.put_object(Bucket=bucket, Key=key + MANIFEST, Body=body, **extra)
