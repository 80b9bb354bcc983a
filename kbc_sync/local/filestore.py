"""Where file contents live: a provider seam and the AWS provider (moto's S3 server, in-process).

Azure and GCS emulators can be added as further `FileProvider`s; the API layer only speaks to
this interface, and the provider decides how `files/prepare` and `files/{id}` describe a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import string
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

logger = logging.getLogger(__name__)

REGION = "us-east-1"
_TRANSFER = TransferConfig(multipart_threshold=64 * 2**20, multipart_chunksize=64 * 2**20)

# moto keeps each object in a SpooledTemporaryFile of this many bytes, read from the
# environment whenever an object is stored. Its default (about 5 MB) is larger than a slice of
# the stack's default 25,000-row exports, so every slice stayed in RAM and memory grew with
# each table exported; above this size objects live in temporary files on disk.
_MOTO_BUFFER_ENV = "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"
_MOTO_BUFFER_BYTES = 256 * 1024

# Called for every S3 request with (method, path); returns a WSGI app that answers instead.
S3Interceptor = Callable[[str, str], Callable | None]


class FileProvider(Protocol):
    """What the API needs from a file storage backend (one per provider: aws, azure, gcp)."""

    name: str
    endpoint_url: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def prepare_params(self, key: str, *, federation: bool, encrypted: bool) -> dict[str, Any]: ...
    def detail_params(self, key: str, *, federation: bool) -> dict[str, Any]: ...
    def signed_url(self, key: str) -> str: ...
    def slice_url(self, key: str) -> str: ...
    def key_of_slice_url(self, url: str) -> str | None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def download(self, key: str, path: Path) -> None: ...
    def upload(self, path: Path, key: str) -> None: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...


class S3Provider:
    """AWS-shaped file storage served by moto's S3 server on a free loopback port."""

    name = "aws"

    def __init__(self, host: str = "127.0.0.1", interceptor: S3Interceptor | None = None) -> None:
        self._host = host
        self._interceptor = interceptor
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.bucket = "kbc-local-files-" + secrets.token_hex(4)
        self.endpoint_url = ""
        self._client: Any = None

    def start(self) -> None:
        os.environ.setdefault(_MOTO_BUFFER_ENV, str(_MOTO_BUFFER_BYTES))
        app = DomainDispatcherApplication(create_backend_app)
        wrapped = self._wrap(app)
        self._server = make_server(
            self._host, 0, wrapped, threaded=True, request_handler=_QuietHandler
        )
        self._server.handle_error = _quiet_errors(self._server.handle_error)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kbc-local-s3", daemon=True
        )
        self._thread.start()

        port = self._server.server_address[1]
        self.endpoint_url = f"http://{self._host}:{port}"
        self._client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(max_pool_connections=32, retries={"max_attempts": 2}),
        )
        self._client.create_bucket(Bucket=self.bucket)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _wrap(self, app: Callable) -> Callable:
        def middleware(environ: dict, start_response: Callable) -> Iterable[bytes]:
            if self._interceptor is not None:
                answer = self._interceptor(environ["REQUEST_METHOD"], environ["PATH_INFO"])
                if answer is not None:
                    return answer(environ, start_response)
            return app(environ, start_response)

        return middleware

    def prepare_params(self, key: str, *, federation: bool, encrypted: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"key": key, "bucket": self.bucket, "acl": "private"}
        if federation:
            params["credentials"] = temporary_credentials(hours=36)
        if encrypted:
            params["x-amz-server-side-encryption"] = "AES256"
        return {"uploadParams": params}

    def detail_params(self, key: str, *, federation: bool) -> dict[str, Any]:
        if not federation:
            return {}
        return {
            "s3Path": {"bucket": self.bucket, "key": key},
            "credentials": temporary_credentials(hours=12),
        }

    def signed_url(self, key: str) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=3600
        )

    def slice_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def key_of_slice_url(self, url: str) -> str | None:
        prefix = f"s3://{self.bucket}/"
        return url[len(prefix) :] if url.startswith(prefix) else None

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def download(self, key: str, path: Path) -> None:
        self._client.download_file(self.bucket, key, str(path), Config=_TRANSFER)

    def upload(self, path: Path, key: str) -> None:
        self._client.upload_file(str(path), self.bucket, key, Config=_TRANSFER)

    def read_bytes(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete_prefix(self, prefix: str) -> None:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


class _QuietHandler(MotoRequestHandler):
    """Moto's handler without a stderr line per request (they would swamp test output)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path only: a presigned URL's query string carries its signature.
        logger.debug("S3 %s %s %s", self.command, self.path.split("?", 1)[0], code)


def _quiet_errors(default: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Let connections cut on purpose (the `drop_connection` fault) end without a traceback."""

    def handle_error(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        default(request, client_address)

    return handle_error


def temporary_credentials(*, hours: int) -> dict[str, str]:
    """STS-shaped credentials; moto accepts any, so they are random but well formed."""
    alphabet = string.ascii_uppercase + string.digits
    expiration = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)
    return {
        "AccessKeyId": "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
        "SecretAccessKey": secrets.token_urlsafe(30)[:40],
        "SessionToken": secrets.token_urlsafe(96),
        "Expiration": expiration.isoformat(),
    }


def close_socket(environ: dict) -> None:
    """Cut the client's connection under a WSGI request, so it sees a broken transfer."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
