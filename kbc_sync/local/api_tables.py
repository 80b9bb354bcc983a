"""Tables: list, detail, create (from a file, a definition or a snapshot), load, unload, drop."""

from __future__ import annotations

from typing import Any

from kbc_sync.local import views
from kbc_sync.local.accounts import require_bucket, split_table_id
from kbc_sync.local.api_core import bucket_json
from kbc_sync.local.csvio import Dialect
from kbc_sync.local.jobs import Job
from kbc_sync.local.names import validate_table_name
from kbc_sync.local.protocol import ApiFailure, bad_request, flag, integer, text_list
from kbc_sync.local.server import Request, Response, Router
from kbc_sync.local.tableerrors import TableError
from kbc_sync.local.tablejobs import LoadSpec, run_load

router = Router()


def submit(
    request: Request,
    operation: str,
    params: dict[str, Any],
    table_id: str | None,
    work: Any,
    *,
    serialize: bool,
) -> Response:
    """Queue a job for the caller and answer 202 with it in `waiting`."""
    token = request.token
    _, initial = request.state.jobs.submit(
        project_id=token.project_id, token_id=token.id, creator=token.summary(),
        operation_name=operation, operation_params=params, table_id=table_id,
        run_id=request.run_id, work=work, forced_error=request.forced_job_error(),
        serialize_on=table_id if serialize else None, base_url=request.state.base_url,
    )  # fmt: skip
    return Response(202, initial)


def table_for(request: Request, table_id: str, level: str) -> None:
    """Check the caller may `level` the table's bucket and that the table exists."""
    bucket_id, _ = split_table_id(table_id)
    require_bucket(request.project, request.token, bucket_id, level)
    views.require_table(request.project, table_id)


def _bucket(request: Request, bucket_id: str) -> dict[str, Any]:
    bucket = request.project.buckets[bucket_id]
    return bucket_json(request, request.project, bucket)


@router.route("GET", "/tables/(?P<table_id>[^/]+)")
def table_detail(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "read")
    bucket_id, _ = split_table_id(table_id)
    body = views.table_json(
        request.project, table_id, request.state.base_url, _bucket(request, bucket_id)
    )
    return Response(200, body)


@router.route("GET", "/buckets/(?P<bucket_id>[^/]+)/tables")
def bucket_tables(request: Request, bucket_id: str) -> Response:
    require_bucket(request.project, request.token, bucket_id, "read")
    return Response(200, _tables(request, [bucket_id]))


@router.route("GET", "/tables")
def all_tables(request: Request) -> Response:
    project, token = request.project, request.token
    readable = []
    for bucket_id in project.buckets:
        try:
            require_bucket(project, token, bucket_id, "read")
        except ApiFailure:
            continue
        readable.append(bucket_id)
    return Response(200, _tables(request, readable))


def _tables(request: Request, bucket_ids: list[str]) -> list[dict[str, Any]]:
    include = str(request.query.get("include", "")).split(",")
    bodies = []
    for bucket_id in bucket_ids:
        bucket = _bucket(request, bucket_id)
        for info in views.tables(request.project, bucket_id):
            body = views.table_json(
                request.project, info["id"], request.state.base_url, bucket, info
            )
            if "columns" not in include:
                body.pop("columns")
            bodies.append(body)
    return bodies


def _dialect(params: dict[str, Any]) -> Dialect:
    enclosure = params.get("enclosure")
    dialect = Dialect(
        delimiter=str(params.get("delimiter") or ","),
        enclosure='"' if enclosure is None else str(enclosure),
        escaped_by=str(params.get("escapedBy") or ""),
    )
    try:
        dialect.check()
    except TableError as error:
        raise bad_request(error.message, error.code) from None
    return dialect


def _dialect_params(dialect: Dialect) -> dict[str, str]:
    return {
        "enclosure": dialect.enclosure,
        "delimiter": dialect.delimiter,
        "escapedBy": dialect.escaped_by,
    }


def _new_table_id(request: Request, bucket_id: str) -> tuple[str, str]:
    require_bucket(request.project, request.token, bucket_id, "write")
    name = str(request.params.get("name") or "")
    if not name:
        raise bad_request('Parameter "name" is required.')
    try:
        validate_table_name(name)
    except TableError as error:
        raise bad_request(error.message, error.code) from None
    table_id = f"{bucket_id}.{name}"
    if views.exists(request.project, table_id):
        raise ApiFailure(
            400, "storage.tables.alreadyExists", f"The table {name} already exists in {bucket_id}."
        )
    return table_id, name


@router.route("POST", "/buckets/(?P<bucket_id>[^/]+)/tables-async")
def create_table(request: Request, bucket_id: str) -> Response:
    params = request.params
    table_id, name = _new_table_id(request, bucket_id)
    if params.get("snapshotId") not in (None, ""):
        from kbc_sync.local.api_snapshots import create_from_snapshot

        return create_from_snapshot(request, table_id, name)
    if params.get("sourceTableId"):
        raise ApiFailure(
            501, "storage.notSupported", "Creating a table from time travel is not supported."
        )

    file_id = integer(params, "dataFileId", required=True)
    record = request.state.files.get(request.project.id, file_id, request.token)
    dialect = _dialect(params)
    primary_key = tuple(text_list(params, "primaryKey", comma=True))
    spec = LoadSpec(file_id=record.id, dialect=dialect, create_primary_key=primary_key)
    operation_params = {
        "name": name,
        "primaryKey": ",".join(primary_key),
        "params": _dialect_params(dialect),
        "source": {"fileId": str(record.id), "type": "file"},
    }
    project, state = request.project, request.state

    def work(job: Job) -> dict[str, Any]:
        return run_load(state, project, table_id, spec, job)

    return submit(request, "tableCreate", operation_params, table_id, work, serialize=True)


@router.route("POST", "/buckets/(?P<bucket_id>[^/]+)/tables-definition")
def create_table_definition(request: Request, bucket_id: str) -> Response:
    params = request.params
    table_id, name = _new_table_id(request, bucket_id)
    columns = params.get("columns")
    if not isinstance(columns, list) or not columns:
        raise bad_request('Parameter "columns" is required: a list of {name, definition}.')
    if not all(isinstance(c, dict) and c.get("name") for c in columns):
        raise bad_request('Each item of "columns" needs a "name".')
    primary_key = text_list(params, "primaryKeysNames", comma=False)
    project, state = request.project, request.state

    def work(job: Job) -> dict[str, Any]:
        try:
            project.store.create_table(
                table_id, [c["name"] for c in columns], primary_key=tuple(primary_key),
                definition=columns, now=state.clock.now(),
            )  # fmt: skip
        except TableError as error:
            raise views.as_failure(error) from None
        return views.table_json(project, table_id, state.base_url, None)

    operation_params = {"name": name, "primaryKeysNames": primary_key, "columns": columns}
    return submit(
        request, "tableDefinitionCreate", operation_params, table_id, work, serialize=True
    )


@router.route("DELETE", "/tables/(?P<table_id>[^/]+)")
def delete_table(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "write")
    project = request.project
    if not flag(request.params, "async"):
        views.drop_table(project, table_id)
        request.state.jobs.bump(project.id, table_id)
        return Response(204)

    def work(job: Job) -> None:
        views.drop_table(project, table_id)

    return submit(request, "tableDrop", {"force": flag(request.params, "force")}, table_id, work,
                  serialize=True)  # fmt: skip


@router.route("POST", "/tables/(?P<table_id>[^/]+)/import-async")
def import_table(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "write")
    params = request.params
    for unsupported in ("ignoredLinesCount", "useTimestampFromDataFile"):
        if params.get(unsupported) not in (None, "", "0", 0, False, "false"):
            raise bad_request(f'"{unsupported}" is not supported by the local stack.')
    file_id = integer(params, "dataFileId", required=True)
    record = request.state.files.get(request.project.id, file_id, request.token)
    dialect = _dialect(params)
    spec = LoadSpec(
        file_id=record.id, incremental=flag(params, "incremental"),
        columns=tuple(text_list(params, "columns", comma=False)),
        without_headers=flag(params, "withoutHeaders"), dialect=dialect,
    )  # fmt: skip
    operation_params = {
        "params": {
            "incremental": spec.incremental, "source": [], "withoutHeaders": spec.without_headers,
            "columns": list(spec.columns), **_dialect_params(dialect),
        },
        "source": {"fileId": record.id, "type": "file"},
        "queue": "main_fast",
    }  # fmt: skip
    project, state = request.project, request.state

    def work(job: Job) -> dict[str, Any]:
        return run_load(state, project, table_id, spec, job)

    return submit(request, "tableImport", operation_params, table_id, work, serialize=True)


@router.route("POST", "/tables/(?P<table_id>[^/]+)/columns")
def add_column(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "write")
    params = request.params
    name = str(params.get("name") or "")
    if not name:
        raise bad_request('Parameter "name" is required.')
    definition = params.get("definition") if isinstance(params.get("definition"), dict) else None
    basetype = str(params["basetype"]) if params.get("basetype") else None
    project, state = request.project, request.state

    def work(job: Job) -> dict[str, Any]:
        try:
            project.store.add_column(
                table_id, name, definition=definition, basetype=basetype, now=state.clock.now()
            )
        except TableError as error:
            raise views.as_failure(error) from None
        return views.table_json(project, table_id, state.base_url, None)

    operation_params = {"name": name, "definition": definition, "basetype": basetype}
    return submit(request, "tableColumnAdd", operation_params, table_id, work, serialize=True)


@router.route("DELETE", "/tables/(?P<table_id>[^/]+)/columns/(?P<name>[^/]+)")
def delete_column(request: Request, table_id: str, name: str) -> Response:
    table_for(request, table_id, "write")
    project, state = request.project, request.state

    def work(job: Job) -> dict[str, Any]:
        try:
            project.store.drop_column(table_id, name)
        except TableError as error:
            raise views.as_failure(error) from None
        return views.table_json(project, table_id, state.base_url, None)

    params = {"name": name, "force": flag(request.params, "force")}
    return submit(request, "tableColumnDelete", params, table_id, work, serialize=True)
