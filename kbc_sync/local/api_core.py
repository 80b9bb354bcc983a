"""API index, token verification and buckets."""

from __future__ import annotations

from typing import Any

from kbc_sync.local import views
from kbc_sync.local.accounts import (
    Bucket,
    Project,
    require_bucket,
    verify_json,
)
from kbc_sync.local.protocol import ApiFailure, bad_request, flag, format_date
from kbc_sync.local.server import Request, Response, Router

router = Router()

SERVICES = ("import", "oauth", "queue", "billing", "encryption", "scheduler", "sync-actions")


@router.route("GET", "")
def index(request: Request) -> Response:
    request.token  # noqa: B018 - the index, too, answers only to a valid token
    body: dict[str, Any] = {
        "api": "storage",
        "version": "v2",
        "services": [{"id": s, "url": f"https://{s}.keboola.com"} for s in SERVICES],
        "features": [],
        "urlTemplates": {
            "orchestrationJob": "/admin/projects/{projectId}/orchestrations/{orchestrationId}"
        },
    }
    excluded = str(request.query.get("exclude", "")).split(",")
    if "components" not in excluded:
        body["components"] = []
    return Response(200, body)


@router.route("GET", "/tokens/verify")
def verify(request: Request) -> Response:
    return Response(200, verify_json(request.project, request.token, request.state.base_url))


@router.route("GET", "/buckets")
def list_buckets(request: Request) -> Response:
    project, token = request.project, request.token
    visible = [
        bucket for bucket in project.buckets.values() if require_optional(project, token, bucket.id)
    ]
    return Response(200, [bucket_json(request, project, b) for b in visible])


@router.route("GET", "/buckets/(?P<bucket_id>[^/]+)")
def bucket_detail(request: Request, bucket_id: str) -> Response:
    bucket = require_bucket(request.project, request.token, bucket_id, "read")
    return Response(200, bucket_json(request, request.project, bucket))


@router.route("POST", "/buckets")
def create_bucket(request: Request) -> Response:
    token, params = request.token, request.params
    if not (token.master or token.can_manage_buckets):
        raise ApiFailure(
            403, "accessDenied", "The token may not create buckets (canManageBuckets)."
        )

    name = str(params.get("name") or "")
    if not name:
        raise bad_request('Parameter "name" is required.')
    stage = str(params.get("stage") or "in")
    now = request.state.clock.now()
    bucket = request.state.accounts.create_bucket(
        token.project_id, stage, name.removeprefix("c-"), str(params.get("description") or ""), now
    )
    return Response(201, bucket_json(request, request.project, bucket))


@router.route("DELETE", "/buckets/(?P<bucket_id>[^/]+)")
def delete_bucket(request: Request, bucket_id: str) -> Response:
    project, token = request.project, request.token
    require_bucket(project, token, bucket_id, "manage")
    if not (token.master or token.can_manage_buckets):
        raise ApiFailure(
            403, "accessDenied", "The token may not delete buckets (canManageBuckets)."
        )

    tables = views.table_ids(project, bucket_id)
    if tables and not flag(request.params, "force"):
        raise ApiFailure(
            400,
            "buckets.deleteNotEmpty",
            f"Only empty buckets can be deleted. There are {len(tables)} tables in the bucket "
            f"{bucket_id}; delete them first or pass force=1.",
        )
    for table_id in tables:
        views.drop_table(project, table_id)
        request.state.jobs.bump(project.id, table_id)
    request.state.accounts.drop_bucket(project.id, bucket_id)
    return Response(204)


def require_optional(project: Project, token: Any, bucket_id: str) -> bool:
    try:
        require_bucket(project, token, bucket_id, "read")
    except ApiFailure:
        return False
    return True


def bucket_json(request: Request, project: Project, bucket: Bucket) -> dict[str, Any]:
    """The bucket detail with the create answer's fields; sizes and dates from its tables."""
    base = request.state.base_url
    tables = views.tables(project, bucket.id)
    changes = [t["lastChangeDate"] for t in tables if t.get("lastChangeDate")]
    body: dict[str, Any] = {
        "uri": f"{base}/v2/storage/buckets/{bucket.id}",
        "id": bucket.id,
        "name": bucket.name,
        "displayName": bucket.name.removeprefix("c-"),
        "stage": bucket.stage,
        "description": bucket.description,
        "tables": f"{base}/v2/storage/buckets/{bucket.id}/tables",
        "created": format_date(bucket.created),
        "lastChangeDate": max(changes) if changes else None,
        "updated": None,
        "isReadOnly": False,
        "dataSizeBytes": sum(t.get("dataSizeBytes") or 0 for t in tables),
        "rowsCount": sum(t.get("rowsCount") or 0 for t in tables),
        "isMaintenance": False,
        "backend": "snowflake",
        "sharing": None,
        "path": bucket.id.replace(".", "_").upper(),
        "isLinkedBucket": False,
        "linkedBy": [],
        "owner": None,
        "backendPath": [],
        "metadata": [],
    }
    return body
