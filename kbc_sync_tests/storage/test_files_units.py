"""File store code paths without a cloud: manifests, URLs, credential handling, errors.

No Azure or GCS emulator runs in this project yet (the local stack serves S3 only), so the
Azure and GCS stores are checked here without one: parsing and URL building need no server,
and the error boundary is driven through the real SDKs against the scripted loopback server
answering 403, which is the one answer of those services it can give faithfully.
"""

from __future__ import annotations

import functools
import io
import os
import threading

import pytest

from kbc_sync.errors import TransferError
from kbc_sync.storage.files import open_file_store
from kbc_sync.storage.files.aws import _read_part
from kbc_sync.storage.files.azure import AzureFileStore, parse_azure_url
from kbc_sync.storage.files.base import GuardedStream, converting, manifest_body, parse_manifest
from kbc_sync.storage.files.gcp import GcsFileStore
from kbc_sync_tests.storage.stub import Reply, StubServer

SAS = "sv=2021-08-06&ss=b&srt=o&sp=rwl&se=2030-01-01T00:00:00Z&sig=SeCrEtSiG%2B123%3D"
AZURE_PREPARE = {
    "id": 851783,
    "provider": "azure",
    "isSliced": True,
    "absUploadParams": {
        "blobName": "851783.copy.csv.gz",
        "accountName": "kbcfsabc",
        "container": "exp-15-files-4516",
        "absCredentials": {
            "SASConnectionString": (
                f"BlobEndpoint=https://kbcfsabc.blob.core.windows.net;SharedAccessSignature={SAS}"
            ),
            "expiration": "2030-01-01T00:00:00+0100",
        },
    },
}
GCS_PREPARE = {
    "id": 851784,
    "provider": "gcp",
    "isSliced": True,
    "gcsUploadParams": {
        "projectId": "kbc-prod-files",
        "bucket": "kbc-files-storage",
        "key": "exp-15/23058/files/2030/01/01/851784.copy.csv.gz",
        "access_token": "ya29.a0-secret-access-token",
        "expires_in": 3599,
        "token_type": "Bearer",
    },
}


def test_manifest_body_round_trips_through_parse_manifest() -> None:
    urls = ["s3://b/k0", "s3://b/k1"]

    assert parse_manifest(manifest_body(urls), what="file 1") == urls


def test_parse_manifest_without_entries_raises_transfer_error() -> None:
    with pytest.raises(TransferError, match=r"manifest of file 9 is not a valid slice list"):
        parse_manifest(b'{"files": []}', what="file 9")


def test_open_file_store_unknown_provider_names_it() -> None:
    with pytest.raises(TransferError, match=r"provider 'ibm'; kbc_sync can transfer .*aws"):
        open_file_store({"id": 3, "provider": "ibm"})


def test_open_file_store_aws_without_credentials_names_missing_field() -> None:
    with pytest.raises(TransferError, match=r"lacks credentials\.AccessKeyId"):
        open_file_store({"id": 3, "provider": "aws", "uploadParams": {"key": "k"}})


def test_parse_azure_url_splits_account_container_blob() -> None:
    url = "azure://kbcfsabc.blob.core.windows.net/exp-15-files/dir/851783.csv0000_part_00"

    assert parse_azure_url(url) == ("kbcfsabc", "exp-15-files", "dir/851783.csv0000_part_00")


def test_parse_azure_url_without_blob_rejected() -> None:
    with pytest.raises(TransferError, match="is not an azure://"):
        parse_azure_url("azure://kbcfsabc.blob.core.windows.net/container-only")


def test_azure_store_from_prepare_uses_sas_connection_string() -> None:
    store = open_file_store(AZURE_PREPARE)

    assert isinstance(store, AzureFileStore)
    assert store.account == "kbcfsabc"
    assert store.service.url.startswith("https://kbcfsabc.blob.core.windows.net")
    assert "sig=SeCrEtSiG" in store.service.url  # the SAS is what authorises every call


def test_azure_store_slice_url_shape_of_documented_scheme() -> None:
    store = open_file_store(AZURE_PREPARE)
    container, prefix = store._upload_to(AZURE_PREPARE)

    url = store._url(container, prefix + "part0000.gz")

    assert url == (
        "azure://kbcfsabc.blob.core.windows.net/exp-15-files-4516/851783.copy.csv.gzpart0000.gz"
    )
    assert store._parse_url(url) == (container, prefix + "part0000.gz")


def test_azure_store_non_sliced_detail_is_its_own_slice() -> None:
    store = open_file_store(AZURE_PREPARE)
    detail = {"id": 1, "isSliced": False, "absPath": {"container": "c", "name": "f.csv"}}

    assert store.slice_urls(detail) == ["azure://kbcfsabc.blob.core.windows.net/c/f.csv"]


def test_azure_read_denied_becomes_masked_transfer_error() -> None:
    with StubServer() as stub:
        stub.add(
            "GET",
            ".*",
            Reply(
                403,
                b"<Error><Code>AuthenticationFailed</Code></Error>",
                {"x-ms-error-code": "AuthenticationFailed"},
            ),
        )
        connection = f"BlobEndpoint={stub.url}/kbcfsabc;SharedAccessSignature={SAS}"
        store = open_file_store(
            {"provider": "azure", "absCredentials": {"SASConnectionString": connection}}
        )

        with pytest.raises(TransferError, match="Could not read slice blob0 in Azure Blob") as info:
            store.open_slice("azure://kbcfsabc.blob.core.windows.net/c/blob0").read()

        assert "sig=SeCrEtSiG" in stub.seen[0].path  # the SAS went with the request
    assert "SeCrEtSiG" not in str(info.value)


def test_gcs_store_from_prepare_uses_access_token_and_project() -> None:
    store = open_file_store(GCS_PREPARE, chunk_size=1_000_000)

    assert isinstance(store, GcsFileStore)
    assert store.client.project == "kbc-prod-files"
    assert store.client._credentials.token == "ya29.a0-secret-access-token"
    assert store.chunk_size == 786_432  # rounded down to a multiple of 256 KiB


def test_gcs_store_slice_urls_and_manifest_shape() -> None:
    store = open_file_store(GCS_PREPARE)
    bucket, prefix = store._upload_to(GCS_PREPARE)
    detail = {"id": 2, "isSliced": False, "gcsPath": {"bucket": "b", "key": "k/f.csv"}}

    assert store.slice_urls(detail) == ["gs://b/k/f.csv"]
    assert store._url(bucket, prefix + "p0") == (
        "gs://kbc-files-storage/exp-15/23058/files/2030/01/01/851784.copy.csv.gzp0"
    )


def test_gcs_read_denied_becomes_masked_transfer_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with StubServer() as stub:
        stub.add("GET", ".*", Reply(403, {"error": {"code": 403, "message": "ya29.a0-secret-x"}}))
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", stub.url)
        store = open_file_store(GCS_PREPARE)

        with pytest.raises(TransferError, match="Could not read slice k/x0 in GCS") as info:
            store.open_slice("gs://b/k/x0").read()

    assert "ya29" not in str(info.value)
    assert info.value.__cause__ is not None
    # Only the read went out: no bucket metadata request (the SDK's tracing labels), which
    # the file's token may not make and which a background thread would retry for minutes.
    assert [request.path.split("?")[0] for request in stub.seen] == [
        "/download/storage/v1/b/b/o/k%2Fx0"
    ]
    assert not [t for t in threading.enumerate() if "fetch_background" in t.name]


def test_guarded_stream_read_error_converted() -> None:
    def broken(size: int) -> bytes:
        raise ConnectionResetError("peer reset")

    guard = functools.partial(converting, (OSError,), "read slice s0", "S3")
    stream = GuardedStream(broken, lambda: None, guard)

    with pytest.raises(TransferError, match=r"Could not read slice s0 in S3 .*peer reset"):
        stream.read(10)


def test_guarded_stream_reads_in_pieces_until_end() -> None:
    source = io.BytesIO(b"abcdefghij")
    stream = GuardedStream(source.read, source.close, lambda: converting((OSError,), "r", "S3"))

    pieces = [stream.read(4), stream.read(4), stream.read(4), stream.read(4)]

    assert pieces == [b"abcd", b"efgh", b"ij", b""]


def test_guarded_stream_read_all_returns_rest_in_one() -> None:
    data = bytes(range(256)) * 10_000
    source = io.BytesIO(data)
    stream = GuardedStream(source.read, source.close, lambda: converting((OSError,), "r", "S3"))

    head, rest, end = stream.read(100), stream.read(), stream.read()

    assert (head + rest, end) == (data, b"")


@pytest.mark.parametrize("total", [0, 10, 2**20 - 1, 2**20 + 1, 5 * 2**20, 12 * 2**20 + 7])
def test_s3_read_part_with_short_reads_gives_full_parts_then_rest(total: int) -> None:
    class _Short(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(min(size, 300_000) if size and size > 0 else size)

    data = os.urandom(total)
    stream = _Short(data)

    parts = []
    while part := _read_part(stream, 5 * 2**20):
        parts.append(bytes(part))

    assert b"".join(parts) == data
    assert all(len(part) == 5 * 2**20 for part in parts[:-1])


def test_s3_stores_share_a_session_but_sign_with_their_own_credentials() -> None:
    def resource(key: str) -> dict[str, object]:
        credentials = {"AccessKeyId": key, "SecretAccessKey": f"secret-{key}"}
        return {"provider": "aws", "region": "us-east-1", "credentials": credentials}

    first, second = open_file_store(resource("AKIAFIRST")), open_file_store(resource("AKIASECOND"))

    # botocore offers no public getter for a client's credentials.
    signed = [store.s3._request_signer._credentials for store in (first, second)]
    assert [(c.access_key, c.secret_key) for c in signed] == [
        ("AKIAFIRST", "secret-AKIAFIRST"),
        ("AKIASECOND", "secret-AKIASECOND"),
    ]
