"""The work behind table jobs: moving data between File Storage and a project's TableStore."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbc_sync.local import views
from kbc_sync.local.csvio import Dialect
from kbc_sync.local.files import FileRecord
from kbc_sync.local.tableerrors import TableError

if TYPE_CHECKING:
    from datetime import datetime

    from kbc_sync.local.accounts import Project
    from kbc_sync.local.jobs import Job
    from kbc_sync.local.state import StackState

logger = logging.getLogger(__name__)

TRANSFER_THREADS = 4


@dataclass(frozen=True)
class LoadSpec:
    """What an import or a create-from-file asks for."""

    file_id: int
    incremental: bool = False
    columns: tuple[str, ...] = ()
    without_headers: bool = False
    dialect: Dialect = field(default_factory=Dialect)
    create_primary_key: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ExportSpec:
    columns: tuple[str, ...] = ()
    changed_since: datetime | None = None
    changed_until: datetime | None = None
    limit: int | None = None
    where_filters: tuple[dict[str, Any], ...] = ()
    include_timestamp: bool = False
    gzip: bool = False


@contextmanager
def job_dir(state: StackState, job: Job) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=state.work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fetch(state: StackState, record: FileRecord, folder: Path) -> list[Path]:
    """Download a file (or every slice of a sliced file, in manifest order) into `folder`."""
    keys = state.files.slice_keys(record)
    gz = ".gz" if record.name.endswith(".gz") else ""
    paths = [folder / f"in{index:05d}.csv{gz}" for index in range(len(keys))]
    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        list(pool.map(state.files.provider.download, keys, paths))
    return paths


def run_load(
    state: StackState, project: Project, table_id: str, spec: LoadSpec, job: Job
) -> dict[str, Any]:
    """Load a data file into a table (creating it first for `tables-async`)."""
    record = state.files.get(project.id, spec.file_id)
    now = state.clock.now()
    with job_dir(state, job) as folder:
        paths = fetch(state, record, folder)
        job.metrics.update(inCompressed=record.name.endswith(".gz"))
        job.metrics["inBytes"] = sum(path.stat().st_size for path in paths)
        try:
            results = _load(project, table_id, spec, paths, now, record.is_sliced)
        except TableError as error:
            raise views.as_failure(error) from None
    if spec.create_primary_key is not None:
        return views.table_json(project, table_id, state.base_url, None)
    return results


def _load(
    project: Project, table_id: str, spec: LoadSpec, paths: list[Path], now: datetime, sliced: bool
) -> dict[str, Any]:
    columns = list(spec.columns) or None
    options = {
        "has_header": not (columns or spec.without_headers),
        "columns": columns,
        "delimiter": spec.dialect.delimiter,
        "enclosure": spec.dialect.enclosure,
        "escaped_by": spec.dialect.escaped_by,
        "now": now,
    }
    if spec.create_primary_key is not None:
        result = project.store.create_from_files(
            table_id, paths, primary_key=spec.create_primary_key, **options
        )
    else:
        result = project.store.load(
            table_id, paths, incremental=spec.incremental, sliced=sliced, **options
        )
    return {
        "importedColumns": list(result.imported_columns),
        "warnings": list(result.warnings),
        "transaction": None,
        "totalDataSizeBytes": result.total_data_size_bytes,
    }


def run_export(
    state: StackState, project: Project, table_id: str, spec: ExportSpec, job: Job
) -> FileRecord:
    """Export a table as a sliced file: headerless slices plus a manifest."""
    suffix = ".csv.gz" if spec.gzip else ".csv"
    record = state.files.create(
        project_id=project.id, name=table_id + suffix, is_sliced=True, now=state.clock.now(),
        token_id=job.token_id, creator=job.creator, run_id=job.run_id, folder="table-exports",
        tags=["storage-merged-export"], key_name="csv",
    )  # fmt: skip
    try:
        with job_dir(state, job) as folder:
            slices = _export_slices(project, table_id, spec, folder, state.slice_rows)
            record.size_bytes = _upload_slices(state, record, slices, gzip=spec.gzip)
    except BaseException:
        state.files.delete(record)
        raise
    job.metrics.update(outCompressed=spec.gzip, outBytes=record.size_bytes)
    return record


def _export_slices(
    project: Project, table_id: str, spec: ExportSpec, folder: Path, slice_rows: int
) -> list[Path]:
    try:
        return project.store.export(
            table_id, folder, columns=list(spec.columns) or None,
            changed_since=spec.changed_since, changed_until=spec.changed_until,
            limit=spec.limit, where_filters=list(spec.where_filters),
            include_timestamp=spec.include_timestamp, gzip=spec.gzip, slice_rows=slice_rows,
        )  # fmt: skip
    except TableError as error:
        raise views.as_failure(error) from None


def _upload_slices(state: StackState, record: FileRecord, slices: list[Path], *, gzip: bool) -> int:
    """Upload slices as `<key>0000_part_00[.gz]`... and the manifest; return the bytes sent."""
    provider = state.files.provider
    ending = ".gz" if gzip else ""
    keys = [f"{record.key}{index:04d}_part_00{ending}" for index in range(len(slices))]
    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        list(pool.map(provider.upload, slices, keys))

    manifest = {"entries": [{"url": provider.slice_url(key)} for key in keys]}
    provider.write_bytes(record.manifest_key, json.dumps(manifest).encode())
    return sum(path.stat().st_size for path in slices)
