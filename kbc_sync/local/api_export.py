"""Unloading data: `export-async` into File Storage and the synchronous `data-preview`."""

from __future__ import annotations

from typing import Any

from kbc_sync.local import views
from kbc_sync.local.api_tables import submit, table_for
from kbc_sync.local.jobs import Job
from kbc_sync.local.protocol import ApiFailure, bad_request, flag, format_date, integer, text_list
from kbc_sync.local.server import Request, Response, Router
from kbc_sync.local.tableerrors import TableError
from kbc_sync.local.tablejobs import ExportSpec, run_export
from kbc_sync.local.timeparse import parse_time

router = Router()

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
PREVIEW_MAX = 1000


def _filters(params: dict[str, Any]) -> list[dict[str, Any]]:
    filters = params.get("whereFilters") or []
    if params.get("whereColumn"):
        # The deprecated single filter the Python client still sends: IN / NOT IN.
        filters = [
            {
                "column": params["whereColumn"],
                "operator": params.get("whereOperator") or "eq",
                "values": text_list(params, "whereValues", comma=False),
            }
        ]
    if not isinstance(filters, list):
        raise bad_request('"whereFilters" must be a list of {column, operator, values}.')

    checked = []
    for item in filters:
        if not isinstance(item, dict) or not item.get("column"):
            raise bad_request('Each of "whereFilters" needs a "column".')
        operator = item.get("operator") or "eq"
        if operator not in OPERATORS:
            raise bad_request(f'Invalid operator "{operator}": use one of {", ".join(OPERATORS)}.')
        values = item.get("values")
        if not isinstance(values, list) or not values:
            raise bad_request(f'Filter on "{item["column"]}" needs a non-empty "values" list.')
        checked.append({**item, "operator": operator, "values": [str(v) for v in values]})
    return checked


def _window(request: Request, name: str) -> Any:
    value = request.params.get(name)
    if value in (None, ""):
        return None
    try:
        return parse_time(value, request.state.clock.now(), field=name)
    except TableError as error:
        raise bad_request(error.message, error.code) from None


def _check_unsupported(params: dict[str, Any]) -> None:
    fmt = params.get("format") or "rfc"
    if fmt != "rfc":
        code = (
            "storage.notSupported" if fmt == "json" else "storage.tables.validation.invalidFormat"
        )
        raise ApiFailure(400, code, f'Format "{fmt}" is not supported: use "rfc".')
    if (params.get("fileType") or "csv") != "csv":
        raise ApiFailure(501, "storage.notSupported", "Only fileType csv is supported.")
    for name in ("orderBy", "timezone", "sourceBranchId", "days"):
        if params.get(name) not in (None, "", []):
            raise ApiFailure(501, "storage.notSupported", f'"{name}" is not supported here.')


@router.route("POST", "/tables/(?P<table_id>[^/]+)/export-async")
def export_table(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "read")
    params = request.params
    _check_unsupported(params)
    spec = ExportSpec(
        columns=tuple(text_list(params, "columns", comma=True)),
        changed_since=_window(request, "changedSince"),
        changed_until=_window(request, "changedUntil"),
        limit=integer(params, "limit"),
        where_filters=tuple(_filters(params)),
        include_timestamp=flag(params, "includeInternalTimestamp"),
        gzip=flag(params, "gzip"),
    )
    operation_params = {
        "export": {
            "tableName": None, "columns": list(spec.columns), "limit": spec.limit,
            "changedSince": format_date(spec.changed_since),
            "changedUntil": format_date(spec.changed_until), "gzipOutput": spec.gzip,
            "format": "rfc", "whereFilters": list(spec.where_filters), "fileType": "csv",
            "timezone": None,
        }
    }  # fmt: skip
    state, project = request.state, request.project

    def work(job: Job) -> dict[str, Any]:
        # Keboola answers a repeated export of unchanged data with the same file, `cacheHit`.
        generation = state.jobs.generation(project.id, table_id)
        key = (project.id, job.token_id, table_id, repr(spec), generation)
        cached = state.export_cache.get(key)
        if cached is not None and state.files.find(cached) is not None:
            return {"file": {"id": cached}, "cacheHit": True}

        record = run_export(state, project, table_id, spec, job)
        state.export_cache[key] = record.id
        return {"file": {"id": record.id}, "cacheHit": False}

    return submit(request, "tableExport", operation_params, table_id, work, serialize=False)


@router.route("GET", "/tables/(?P<table_id>[^/]+)/data-preview")
def data_preview(request: Request, table_id: str) -> Response:
    table_for(request, table_id, "read")
    params = request.params
    _check_unsupported(params)
    limit = integer(params, "limit") or 100
    if not 0 < limit <= PREVIEW_MAX:
        raise bad_request(f"The preview limit must be between 1 and {PREVIEW_MAX}, not {limit}.")
    try:
        text = request.project.store.preview(
            table_id, columns=text_list(params, "columns", comma=True) or None, limit=limit,
            changed_since=_window(request, "changedSince"),
            changed_until=_window(request, "changedUntil"), where_filters=_filters(params),
        )  # fmt: skip
    except TableError as error:
        raise views.as_failure(error) from None
    return Response(200, text, content_type="text/csv")
