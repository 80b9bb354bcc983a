"""Quirks and error bodies: built from the shapes the API documentation lists."""

from __future__ import annotations

import pytest

from kbc_sync.errors import AccessDeniedError, ApiError, NotFoundError, TokenInvalidError
from kbc_sync.storage import StorageClient
from kbc_sync.storage.responses import normalise
from kbc_sync_tests.storage.conftest import TOKEN
from kbc_sync_tests.storage.stub import Reply, StubServer

TABLE = "/v2/storage/tables/in.c-crm.orders"


def test_normalise_empty_maps_become_dicts() -> None:
    data = {"bucketPermissions": [], "columnMetadata": [], "results": [], "columns": []}

    result = normalise(data)

    assert result == {"bucketPermissions": {}, "columnMetadata": {}, "results": {}, "columns": []}


def test_normalise_int_ids_become_strings_at_any_depth() -> None:
    data = {"id": 44, "owner": {"id": 58}, "results": {"file": {"id": 234}}, "dataFileId": 9}

    result = normalise(data)

    assert result == {
        "id": "44",
        "owner": {"id": "58"},
        "results": {"file": {"id": "234"}},
        "dataFileId": "9",
    }


def test_normalise_non_id_numbers_and_booleans_kept() -> None:
    data = [{"rowsCount": 3, "isSliced": True, "id": "x", "sourceBranchId": None}]

    assert normalise(data) == data


def test_call_401_names_token_env_and_says_replace(stub: StubServer, client: StorageClient) -> None:
    stub.add(
        "GET", TABLE, Reply(401, {"error": "Invalid access token", "code": "storage.tokenInvalid"})
    )

    with pytest.raises(
        TokenInvalidError,
        match=r"token held by environment variable KBC_TEST_TOKEN .*invalid, expired, or was "
        r"refreshed \(refreshing a token deactivates the old one\).*put the new value in "
        r"KBC_TEST_TOKEN",
    ) as info:
        client.get_table("in.c-crm.orders")

    assert info.value.code == "storage.tokenInvalid"
    assert TOKEN not in str(info.value)


def test_call_403_access_denied_names_table(stub: StubServer, client: StorageClient) -> None:
    stub.add("GET", TABLE, Reply(403, {"error": "You don't have access", "code": "accessDenied"}))

    with pytest.raises(AccessDeniedError, match=r'may not access table "in\.c-crm\.orders"'):
        client.get_table("in.c-crm.orders")


def test_call_404_not_found_names_table_and_code(stub: StubServer, client: StorageClient) -> None:
    body = {
        "error": "The table was not found",
        "code": "storage.tables.notFound",
        "status": "error",
    }
    stub.add("GET", TABLE, Reply(404, body))

    with pytest.raises(NotFoundError, match=r'Table "in\.c-crm\.orders" was not found') as info:
        client.get_table("in.c-crm.orders")

    assert info.value.code == "storage.tables.notFound"
    assert info.value.path == TABLE


def test_find_table_missing_returns_none(stub: StubServer, client: StorageClient) -> None:
    stub.add("GET", TABLE, Reply(404, {"error": "nope", "code": 404, "context": {}}))

    assert client.find_table("in.c-crm.orders") is None


def test_call_error_without_json_body_still_typed(stub: StubServer, client: StorageClient) -> None:
    stub.add("GET", TABLE, Reply(400, b"<html>bad gateway config</html>"))

    with pytest.raises(ApiError, match=r"answered 400.*bad gateway config") as info:
        client.get_table("in.c-crm.orders")

    assert info.value.code is None


def test_call_422_list_body_joined(stub: StubServer, client: StorageClient) -> None:
    stub.add("GET", TABLE, Reply(422, ['"a b" contains not allowed characters.']))

    with pytest.raises(ApiError, match="contains not allowed characters"):
        client.get_table("in.c-crm.orders")


def test_call_error_message_secret_masked(stub: StubServer, client: StorageClient) -> None:
    secret = "https://s3.example.com/f.csv?X-Amz-Signature=deadbeef&X-Amz-Credential=ASIAX"
    stub.add("GET", TABLE, Reply(400, {"error": f"cannot read {secret}", "code": "x"}))

    with pytest.raises(ApiError) as info:
        client.get_table("in.c-crm.orders")

    assert "deadbeef" not in str(info.value)
    assert "https://s3.example.com/f.csv?***" in str(info.value)


def test_call_sends_token_user_agent_gzip_and_run_id(
    stub: StubServer, client: StorageClient
) -> None:
    path = "/v2/storage/buckets/in.c-b/tables-async"
    stub.add("POST", path, Reply(202, {"id": 5, "status": "waiting"}))

    client.start_create_table("in.c-b", "t", 42, primary_key=["id", "day"], run_id="run-9")

    sent = stub.requests_to("POST", path)[0]
    assert sent.headers["X-StorageApi-Token"] == TOKEN
    assert sent.headers["X-KBC-RunId"] == "run-9"
    assert sent.headers["Accept-Encoding"] == "gzip"
    assert sent.headers["User-Agent"].startswith("kbc_sync/")
    assert sent.body == b'{"name": "t", "dataFileId": "42", "primaryKey": "id,day"}'


def test_find_job_by_run_id_matches_run_and_operation(
    stub: StubServer, client: StorageClient
) -> None:
    jobs = [
        {"id": 3, "runId": "run-1", "operationName": "tableExport"},
        {"id": 2, "runId": "run-1", "operationName": "tableImport"},
        {"id": 1, "runId": "run-0", "operationName": "tableImport"},
    ]
    stub.add("GET", "/v2/storage/jobs", Reply(200, jobs))

    found = client.find_job_by_run_id("run-1", "tableImport")
    missing = client.find_job_by_run_id("run-2", "tableImport")

    assert found is not None and found["id"] == "2"
    assert missing is None


VERIFY = "/v2/storage/tokens/verify"
WEB_PAGE = (
    b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head>"
    b"<body><h1>It works</h1></body></html>"
)


def test_call_200_web_page_raises_api_error_naming_call_and_stack_url(
    stub: StubServer, client: StorageClient
) -> None:
    # A URL that points at another web server answers 200 with HTML; the stack cannot do that.
    stub.add("GET", VERIFY, Reply(200, WEB_PAGE, content_type="text/html; charset=utf-8"))

    with pytest.raises(ApiError) as info:
        client.verify_token()

    message = str(info.value)
    assert message.startswith(f"{stub.url} answered 200 to GET {VERIFY} for the token")
    assert "not JSON (text/html; charset=utf-8, starting 'Welcome to nginx!')" in message
    assert "Check the `url` (or `region`) of this project in the config" in message
    assert (info.value.status, info.value.method, info.value.path) == (200, "GET", VERIFY)
    assert isinstance(info.value.__cause__, ValueError)


def test_call_200_not_json_excerpt_short_and_masked_before_cut(
    stub: StubServer, client: StorageClient
) -> None:
    # The token straddles the excerpt's end: cutting before masking would leave half of it.
    body = f"proxy error page for the session of {TOKEN} " + "x" * 500
    stub.add("GET", TABLE, Reply(200, body.encode(), content_type="text/plain"))

    with pytest.raises(ApiError) as info:
        client.get_table("in.c-crm.orders")

    message = str(info.value)
    assert "not JSON (text/plain, starting 'proxy error page for the session of ***" in message
    assert TOKEN[:12] not in message
    assert "x" * 80 not in message
    assert info.value.detail is not None and len(info.value.detail) <= 80


def test_call_404_web_page_hints_at_stack_url(stub: StubServer, client: StorageClient) -> None:
    stub.add("GET", TABLE, Reply(404, WEB_PAGE, content_type="text/html"))

    with pytest.raises(
        NotFoundError, match=r"answer was not JSON \(text/html\).*`url` or `region`"
    ):
        client.get_table("in.c-crm.orders")


def test_call_502_web_page_from_gateway_no_stack_url_hint(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("GET", TABLE, Reply(502, b"<html>Bad Gateway</html>", content_type="text/html"))

    with pytest.raises(ApiError, match="kept failing after retries") as info:
        client.get_table("in.c-crm.orders")

    assert "not JSON" not in str(info.value)
