"""The S3 store over TLS, as it runs against every real stack.

Over plain HTTP (the local Storage stack) botocore sends no checksum with a streamed part; over
TLS it sends a CRC32 in a trailer after the data (aws-chunked encoding). These tests serve
moto's S3 over TLS on loopback with a certificate made for the test, so that path is run for
real: the bytes that arrive, and the headers that carried them.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import ipaddress
import os
import secrets
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from kbc_sync.storage.files import open_file_store
from kbc_sync.storage.files.base import GuardedStream

MIB = 1024 * 1024


class TlsS3:
    """moto's S3 app behind TLS on a free loopback port, recording each request's headers."""

    def __init__(self, cert_dir: Path) -> None:
        self.cert_file, key_file = _self_signed_cert(cert_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, key_file)
        self.requests: list[dict[str, str]] = []
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1", 0, self._recording(app), threaded=True, ssl_context=context
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"

    def _recording(self, app: Callable) -> Callable:
        def middleware(environ: dict, start_response: Callable) -> Iterable[bytes]:
            headers = {k[5:].lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            self.requests.append({"method": environ["REQUEST_METHOD"], **headers})
            return app(environ, start_response)

        return middleware

    def __enter__(self) -> TlsS3:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _self_signed_cert(folder: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture(name="tls_s3")
def tls_s3_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TlsS3]:
    with TlsS3(tmp_path) as server:
        # boto3 finds the endpoint and the certificate to trust in the environment, as the
        # store's client does everywhere else.
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
        monkeypatch.setenv("AWS_CA_BUNDLE", server.cert_file)
        yield server


def _prepared(bucket: str) -> dict[str, Any]:
    credentials = {"AccessKeyId": "tls", "SecretAccessKey": "tls", "SessionToken": "tls"}
    return {
        "id": "1",
        "provider": "aws",
        "region": "us-east-1",
        "uploadParams": {"bucket": bucket, "key": "exp/1.csv.gz", "credentials": credentials},
    }


def _sized_stream(data: bytes) -> GuardedStream:
    source = io.BytesIO(data)
    return GuardedStream(source.read, source.close, contextlib.nullcontext, size=len(data))


def _bucket() -> str:
    bucket = "kbc-tls-" + secrets.token_hex(4)
    boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="tls", aws_secret_access_key="tls"
    ).create_bucket(Bucket=bucket)
    return bucket


@pytest.mark.parametrize("size", [3 * MIB + 7, 11 * MIB + 3], ids=["single", "multipart"])
def test_upload_slice_over_tls_streams_with_crc32_trailer_and_arrives_whole(
    tls_s3: TlsS3, size: int
) -> None:
    bucket = _bucket()
    store = open_file_store(_prepared(bucket), chunk_size=5 * MIB)
    data = os.urandom(size)

    store.upload_slice(_prepared(bucket), "part00000.csv.gz", _sized_stream(data))

    uploads = [r for r in tls_s3.requests if r["method"] == "PUT" and "x_amz_trailer" in r]
    assert len(uploads) == (1 if size <= 5 * MIB else 3)
    for request in uploads:
        assert request["x_amz_content_sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert request["x_amz_trailer"] == "x-amz-checksum-crc32"
    sent = sum(int(request["x_amz_decoded_content_length"]) for request in uploads)
    assert sent == size
    key = "exp/1.csv.gzpart00000.csv.gz"
    assert store.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_upload_slice_over_tls_of_unknown_size_goes_in_buffered_parts(tls_s3: TlsS3) -> None:
    bucket = _bucket()
    store = open_file_store(_prepared(bucket), chunk_size=5 * MIB)
    data = os.urandom(6 * MIB)

    store.upload_slice(_prepared(bucket), "part00000.csv.gz", io.BytesIO(data))

    key = "exp/1.csv.gzpart00000.csv.gz"
    assert store.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
