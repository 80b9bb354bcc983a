"""Table snapshots, and restoring a table by creating it from one."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kbc_sync.local import views
from kbc_sync.local.accounts import require_bucket, split_table_id
from kbc_sync.local.api_tables import submit, table_for
from kbc_sync.local.jobs import Job
from kbc_sync.local.protocol import ApiFailure, format_date, integer
from kbc_sync.local.server import Request, Response, Router
from kbc_sync.local.tableerrors import TableError
from kbc_sync.local.tablejobs import ExportSpec, run_export

router = Router()
_ids = itertools.count(82001)


@dataclass
class Snapshot:
    id: int
    project_id: int
    table_id: str
    description: str
    created: datetime
    creator: dict[str, Any]
    data_file_id: int
    primary_key: list[str]
    columns: list[str]

    def to_json(self, base_url: str, *, detail: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "description": self.description,
            "createdTime": format_date(self.created),
            "type": "table",
            "creatorToken": self.creator,
            "uri": f"{base_url}/v2/storage/snapshots/{self.id}",
            "dataFileId": str(self.data_file_id),
        }
        if detail:
            body["table"] = {
                "id": self.table_id,
                "primaryKey": self.primary_key,
                "columns": self.columns,
            }
        return body


def _snapshot(request: Request, snapshot_id: int, level: str) -> Snapshot:
    snapshot = request.state.snapshots.get(snapshot_id)
    if snapshot is None or snapshot.project_id != request.token.project_id:
        raise ApiFailure(404, "storage.snapshots.notFound", f"Snapshot {snapshot_id} not found")
    bucket_id, _ = split_table_id(snapshot.table_id)
    require_bucket(request.project, request.token, bucket_id, level)
    return snapshot


@router.route("POST", "/tables/(?P<table_id>[^/]+)/snapshots")
def create_snapshot(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "write")
    description = str(request.params.get("description") or "")
    state, project = request.state, request.project

    def work(job: Job) -> dict[str, Any]:
        snapshot_id = next(_ids)
        info = views.describe(project, table_id)
        try:
            project.store.snapshot(table_id, str(snapshot_id), now=state.clock.now())
        except TableError as error:
            raise views.as_failure(error) from None
        # Keboola keeps a snapshot's data as a file in File Storage (`dataFileId`).
        record = run_export(state, project, table_id, ExportSpec(gzip=True), job)
        snapshot = Snapshot(
            snapshot_id, project.id, table_id, description, state.clock.now(), job.creator,
            record.id, list(info.get("primaryKey") or []), list(info.get("columns") or []),
        )  # fmt: skip
        state.snapshots[snapshot_id] = snapshot
        return snapshot.to_json(state.base_url, detail=True)

    params = {"description": description}
    return submit(request, "tableSnapshotCreate", params, table_id, work, serialize=True)


@router.route("GET", "/tables/(?P<table_id>[^/]+)/snapshots")
def list_snapshots(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "read")
    limit = integer(request.params, "limit") or 20
    offset = integer(request.params, "offset") or 0
    snapshots = sorted(
        (
            s
            for s in request.state.snapshots.values()
            if s.project_id == request.token.project_id and s.table_id == table_id
        ),
        key=lambda s: s.id,
        reverse=True,
    )
    page = snapshots[offset : offset + limit]
    return Response(200, [s.to_json(request.state.base_url, detail=False) for s in page])


@router.route("GET", "/snapshots/(?P<snapshot_id>[0-9]+)")
def snapshot_detail(request: Request, snapshot_id: str) -> Response:
    snapshot = _snapshot(request, int(snapshot_id), "read")
    return Response(200, snapshot.to_json(request.state.base_url, detail=True))


@router.route("DELETE", "/snapshots/(?P<snapshot_id>[0-9]+)")
def delete_snapshot(request: Request, snapshot_id: str) -> Response:
    snapshot = _snapshot(request, int(snapshot_id), "write")
    state = request.state

    project = request.project

    def work(job: Job) -> None:
        state.snapshots.pop(snapshot.id, None)
        try:
            project.store.drop_snapshot(str(snapshot.id))
        except TableError as error:
            raise views.as_failure(error) from None
        record = state.files.find(snapshot.data_file_id)
        if record is not None:
            state.files.delete(record)

    params = {"snapshotId": str(snapshot.id)}
    return submit(request, "tableSnapshotDelete", params, None, work, serialize=False)


def create_from_snapshot(request: Request, table_id: str, name: str) -> Response:
    """`tables-async` with `snapshotId`: a new table with the snapshot's data and structure."""
    snapshot_id = integer(request.params, "snapshotId", required=True)
    snapshot = _snapshot(request, snapshot_id, "read")
    state, project = request.state, request.project

    def work(job: Job) -> dict[str, Any]:
        if snapshot.id not in state.snapshots:
            raise ApiFailure(404, "storage.snapshots.notFound", f"Snapshot {snapshot.id} not found")
        try:
            project.store.create_from_snapshot(str(snapshot.id), table_id, now=state.clock.now())
        except TableError as error:
            raise views.as_failure(error) from None
        return views.table_json(project, table_id, state.base_url, None)

    params = {"name": name, "source": {"snapshotId": snapshot.id, "type": "snapshot"}}
    return submit(request, "tableCreate", params, table_id, work, serialize=True)
