"""Tokens, permissions and buckets over raw HTTP."""

from __future__ import annotations

import requests

from kbc_sync_tests.local.conftest import StackProject
from kbc_sync_tests.local.helpers import Api


def test_verify_master_token_reports_project_and_admin(project: StackProject) -> None:
    body = project.master.ok("GET", "tokens/verify", 200)

    assert body["isMasterToken"] is True
    assert body["canManageBuckets"] is True
    assert isinstance(body["id"], str)
    assert body["owner"]["id"] == project.project_id
    assert isinstance(body["owner"]["id"], int)
    assert body["owner"]["fileStorageProvider"] == "aws"
    assert body["bucketPermissions"] == {"in.c-main": "manage"}
    assert body["admin"]["role"] == "admin"


def test_verify_bucket_token_lists_only_its_bucket(project: StackProject) -> None:
    writer = project.token(bucket_permissions={"in.c-main": "write"}, description="writer")

    body = writer.ok("GET", "tokens/verify", 200)

    assert body["isMasterToken"] is False
    assert body["canManageBuckets"] is False
    assert body["bucketPermissions"] == {"in.c-main": "write"}
    assert body["description"] == "writer"
    assert "admin" not in body


def test_verify_token_without_buckets_reports_empty_map_as_list(project: StackProject) -> None:
    nobody = project.token()

    body = nobody.ok("GET", "tokens/verify", 200)

    assert body["bucketPermissions"] == []


def test_unknown_token_is_401_token_invalid(local_stack) -> None:
    response = Api(local_stack.url, "1-1-nonsense").get("tokens/verify")

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "storage.tokenInvalid"
    assert body["error"] == "Invalid access token"
    assert body["status"] == "error"
    assert body["exceptionId"].startswith("exception-")


def test_missing_token_is_401_with_empty_code(local_stack) -> None:
    response = requests.get(f"{local_stack.url}/v2/storage/tokens/verify", timeout=10)

    assert response.status_code == 401
    assert response.json()["error"] == "Access token must be set"
    assert response.json()["code"] == ""


def test_refreshed_token_old_string_stops_working(project: StackProject) -> None:
    old = project.stack.add_token(project.project_id, master=True)

    new = project.stack.refresh_token(old)

    assert Api(project.stack.url, old).get("tokens/verify").status_code == 401
    assert Api(project.stack.url, new).get("tokens/verify").status_code == 200


def test_index_lists_services_and_honours_exclude(project: StackProject) -> None:
    full = project.master.ok("GET", "", 200)
    short = project.master.ok("GET", "", 200, params={"exclude": "components"})

    assert full["api"] == "storage"
    assert {"id": "queue", "url": "https://queue.keboola.com"} in full["services"]
    assert "components" in full
    assert "components" not in short


def test_bucket_create_form_body_returns_201_and_detail(project: StackProject) -> None:
    body = project.master.ok("POST", "buckets", 201, data={"name": "my-new-bucket", "stage": "in"})

    assert body["id"] == "in.c-my-new-bucket"
    assert body["name"] == "c-my-new-bucket"
    assert body["stage"] == "in"
    assert project.master.ok("GET", "buckets/in.c-my-new-bucket", 200)["id"] == body["id"]


def test_bucket_create_twice_is_400(project: StackProject) -> None:
    project.master.ok("POST", "buckets", 201, json={"name": "twice", "stage": "out"})

    response = project.master.post("buckets", json={"name": "twice", "stage": "out"})

    assert response.status_code == 400
    assert response.json()["code"] == "storage.buckets.alreadyExists"


def test_bucket_token_cannot_create_buckets(project: StackProject) -> None:
    writer = project.token(bucket_permissions={"in.c-main": "write"})

    response = writer.post("buckets", json={"name": "nope", "stage": "in"})

    assert response.status_code == 403


def test_bucket_list_shows_only_permitted_buckets(project: StackProject) -> None:
    project.stack.create_bucket(project.project_id, "in.c-other")
    reader = project.token(bucket_permissions={"in.c-other": "read"})

    ids = [bucket["id"] for bucket in reader.ok("GET", "buckets", 200)]

    assert ids == ["in.c-other"]
    assert {b["id"] for b in project.master.ok("GET", "buckets", 200)} == {
        "in.c-main",
        "in.c-other",
    }


def test_bucket_without_permission_is_403_and_unknown_is_404(project: StackProject) -> None:
    project.stack.create_bucket(project.project_id, "in.c-secret")
    reader = project.token(bucket_permissions={"in.c-main": "read"})

    forbidden = reader.get("buckets/in.c-secret")
    missing = reader.get("buckets/in.c-nothing")

    assert forbidden.status_code == 403
    assert missing.status_code == 404
    assert missing.json()["code"] == "storage.buckets.notFound"


def test_bucket_delete_refuses_tables_unless_forced(project: StackProject) -> None:
    project.stack.seed_table(project.project_id, "in.c-gone.t", ["a"], [["1"]])

    refused = project.master.delete("buckets/in.c-gone")
    forced = project.master.delete("buckets/in.c-gone", params={"force": "1"})

    assert refused.status_code == 400
    assert forced.status_code == 204
    assert project.master.get("buckets/in.c-gone").status_code == 404
    assert project.master.get("tables/in.c-gone.t").status_code == 404


def test_other_project_bucket_is_invisible(project: StackProject, local_stack) -> None:
    other = local_stack.add_project("Elsewhere")
    local_stack.create_bucket(other, "in.c-theirs")

    response = project.master.get("buckets/in.c-theirs")

    assert response.status_code == 404


def test_unknown_route_is_404_json(project: StackProject) -> None:
    response = project.master.get("no/such/route")

    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_malformed_bodies_are_400(project: StackProject) -> None:
    not_json = project.master.post(
        "buckets", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    not_utf8 = project.master.post("buckets", data=b"name=\xff\xfe")
    not_object = project.master.post("buckets", json=["a"])

    assert [r.status_code for r in (not_json, not_utf8, not_object)] == [400, 400, 400]
    assert not_json.json()["error"] == "The request body is not valid JSON."
