"""File Storage and jobs: prepare, detail, list, delete files; job detail and list."""

from __future__ import annotations

from kbc_sync.local.files import file_json, prepare_json
from kbc_sync.local.protocol import ApiFailure, bad_request, flag, integer, text_list
from kbc_sync.local.server import Request, Response, Router

router = Router()

DEFAULT_LIMIT = 100


def _page(request: Request) -> tuple[int, int]:
    limit = integer(request.params, "limit") or DEFAULT_LIMIT
    offset = integer(request.params, "offset") or 0
    if limit < 1 or offset < 0:
        raise bad_request("limit must be positive and offset not negative.")
    return limit, offset


@router.route("POST", "/files/prepare")
def prepare(request: Request) -> Response:
    params, token = request.params, request.token
    name = str(params.get("name") or "")
    if not name:
        raise bad_request('Parameter "name" is required.')
    federation = flag(params, "federationToken")
    sliced = flag(params, "isSliced")
    if sliced and not federation:
        raise bad_request('"isSliced" needs "federationToken": true.')

    record = request.state.files.create(
        project_id=token.project_id, name=name, is_sliced=sliced,
        is_encrypted=flag(params, "isEncrypted"), is_permanent=flag(params, "isPermanent"),
        tags=text_list(params, "tags", comma=False),
        content_type=str(params.get("contentType") or "application/octet-stream"),
        size_bytes=integer(params, "sizeBytes"), now=request.state.clock.now(),
        token_id=token.id, creator=token.summary(), run_id=request.run_id,
    )  # fmt: skip
    record.federation = federation
    return Response(201, prepare_json(record, request.state.files.provider, federation=federation))


@router.route("GET", "/files/(?P<file_id>[0-9]+)")
def file_detail(request: Request, file_id: str) -> Response:
    record = request.state.files.get(request.project.id, int(file_id), request.token)
    federation = flag(request.params, "federationToken")
    return Response(200, file_json(record, request.state.files.provider, federation=federation))


@router.route("GET", "/files")
def list_files(request: Request) -> Response:
    token, files = request.token, request.state.files
    limit, offset = _page(request)
    records = [
        r for r in files.list(token.project_id) if token.master or r.creator_token_id == token.id
    ]
    page = records[offset : offset + limit]
    return Response(200, [file_json(r, files.provider, federation=False) for r in page])


@router.route("DELETE", "/files/(?P<file_id>[0-9]+)")
def delete_file(request: Request, file_id: str) -> Response:
    record = request.state.files.get(request.project.id, int(file_id), request.token)
    request.state.files.delete(record)
    return Response(204)


@router.route("GET", "/jobs/(?P<job_id>[0-9]+)")
def job_detail(request: Request, job_id: str) -> Response:
    token = request.token
    job = request.state.jobs.get(int(job_id))
    if (
        job is None
        or job.project_id != token.project_id
        or not (token.master or job.token_id == token.id)
    ):
        raise ApiFailure(404, "storage.jobs.notFound", f"Job {job_id} not found")
    return Response(200, job.to_json(request.state.base_url))


@router.route("GET", "/jobs")
def list_jobs(request: Request) -> Response:
    token = request.token
    limit, offset = _page(request)
    jobs = request.state.jobs.list(token.project_id, None if token.master else token.id)
    page = jobs[offset : offset + limit]
    return Response(200, [job.to_json(request.state.base_url) for job in page])
