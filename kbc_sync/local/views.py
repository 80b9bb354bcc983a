"""The table side of a project as the API shows it, built on the project's TableStore."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from kbc_sync.local.accounts import split_table_id
from kbc_sync.local.protocol import ApiFailure, format_date, php_map
from kbc_sync.local.tableerrors import TableError

if TYPE_CHECKING:
    from kbc_sync.local.accounts import Project


def as_failure(error: TableError) -> ApiFailure:
    """Carry a data-engine error to the wire with its code, status and job results."""
    return ApiFailure(error.status, error.code, error.message, results=error.results or None)


def tables(project: Project, bucket_id: str) -> list[dict[str, Any]]:
    """Every table of a bucket as the store describes it."""
    return project.store.list_tables(bucket_id)


def table_ids(project: Project, bucket_id: str) -> list[str]:
    return [item["id"] for item in tables(project, bucket_id)]


def exists(project: Project, table_id: str) -> bool:
    split_table_id(table_id)
    return project.store.exists(table_id)


def require_table(project: Project, table_id: str) -> None:
    if not exists(project, table_id):
        raise ApiFailure(404, "storage.tables.notFound", f"The table {table_id} was not found.")


def describe(project: Project, table_id: str) -> dict[str, Any]:
    try:
        return project.store.describe(table_id)
    except TableError as error:
        raise as_failure(error) from None


def drop_table(project: Project, table_id: str) -> None:
    try:
        project.store.drop(table_id)
    except TableError as error:
        raise as_failure(error) from None


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        return format_date(value)
    return value


def table_json(
    project: Project,
    table_id: str,
    base_url: str,
    bucket: dict[str, Any] | None,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `tables/{id}` answer with every documented field (`info`: the store's describe)."""
    info = info if info is not None else describe(project, table_id)
    bucket_id, name = split_table_id(table_id)
    body: dict[str, Any] = {
        "uri": f"{base_url}/v2/storage/tables/{table_id}",
        "id": table_id,
        "name": name,
        "displayName": name,
        "transactional": False,
        "primaryKey": list(info.get("primaryKey") or []),
        "created": _date(info.get("created")),
        "lastImportDate": _date(info.get("lastImportDate")),
        "lastChangeDate": _date(info.get("lastChangeDate")),
        "rowsCount": int(info.get("rowsCount") or 0),
        "dataSizeBytes": int(info.get("dataSizeBytes") or 0),
        "isAlias": False,
        "isAliasable": True,
        "isTyped": bool(info.get("isTyped")),
        "timestampType": "MANAGED",
        "tableType": "table",
        "path": f"/{bucket_id}/{name}",
        "columns": list(info.get("columns") or []),
        "columnMetadata": php_map({}),
        "metadata": [],
        "distributionType": None,
        "syntheticPrimaryKeyEnabled": False,
    }
    if bucket is not None:
        body["bucket"] = bucket
    if info.get("definition"):
        body["definition"] = info["definition"]
    return body
