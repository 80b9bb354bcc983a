"""Every fault kind of the local stack at every step of a copy.

Transient faults must be ridden out with the target loaded exactly once; lasting faults must stop
the copy with the target as it was.
"""

from __future__ import annotations

import pytest

from kbc_sync.engine import CopySpec, copy_table
from kbc_sync.errors import ApiError, JobFailedError, TransferError
from kbc_sync_tests.engine.conftest import (
    ONCE_COLUMNS,
    ONCE_ROWS,
    TARGET_BUCKET,
    Projects,
    table_rows,
    target_jobs,
)

# More than one slice, so slice faults hit one slice among several; no key, so a second load
# would show.
COLUMNS, ROWS = ONCE_COLUMNS, ONCE_ROWS


def _copy(projects: Projects, mode: str = "update", destination: str = "t") -> object:
    # No primary key in the source: a second load would double the rows, so the row count
    # proves "loaded exactly once".
    source_id = f"in.c-src.{destination}"
    if projects.source.find_table(source_id) is None:
        projects.seed(destination, COLUMNS, ROWS)
    spec = CopySpec(source_id, TARGET_BUCKET, destination, mode)  # type: ignore[arg-type]
    return copy_table(spec, source=projects.source, target=projects.target)


def _assert_loaded_once(projects: Projects) -> None:
    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == sorted(map(tuple, ROWS))
    operations = [job["operationName"] for job in target_jobs(projects)]
    assert operations.count("tableImport") == 1


TRANSIENT = {
    "export 500": {"method": "POST", "path": "/export-async$", "status": 500, "times": 2},
    "export dropped": {"method": "POST", "path": "/export-async$", "drop_connection": True,
                       "times": 1},
    "export job poll 502": {"method": "GET", "path": "/jobs/\\d+$", "status": 502, "times": 2},
    "source manifest 500": {"target": "s3", "method": "GET", "path": "manifest$", "status": 500,
                            "times": 2},
    "source manifest dropped": {"target": "s3", "method": "GET", "path": "manifest$",
                                "drop_connection": True, "times": 1},
    "file detail 500": {"method": "GET", "path": "/files/\\d+$", "status": 500, "times": 2},
    "file detail maintenance": {"method": "GET", "path": "/files/\\d+$", "status": 503,
                                "retry_after": 1, "times": 1},
    "prepare 500": {"method": "POST", "path": "/files/prepare$", "status": 500, "times": 1},
    "slice read 500": {"target": "s3", "method": "GET", "path": "part_00", "status": 500,
                       "times": 2},
    "slice read dropped": {"target": "s3", "method": "GET", "path": "part_00",
                           "drop_connection": True, "times": 2},
    "upload 500": {"target": "s3", "method": "PUT", "path": "part\\d+\\.csv\\.gz",
                   "status": 500, "times": 2},
    "upload dropped": {"target": "s3", "method": "PUT", "path": "part\\d+\\.csv\\.gz",
                       "drop_connection": True, "times": 1},
    "manifest 503": {"target": "s3", "method": "PUT", "path": "manifest$", "status": 503,
                     "times": 1},
    "import 500": {"method": "POST", "path": "/import-async$", "status": 500, "times": 2},
    "import maintenance": {"method": "POST", "path": "/import-async$", "status": 503,
                           "retry_after": 1, "times": 1},
    "import dropped after sending": {"method": "POST", "path": "/import-async$",
                                     "drop_connection": True, "times": 1},
    "create dropped after sending": {"method": "POST", "path": "/tables-definition$",
                                     "drop_connection": True, "times": 1},
    "import slow": {"method": "POST", "path": "/import-async$", "delay": 1, "times": 1},
}  # fmt: skip


@pytest.mark.parametrize("fault", list(TRANSIENT.values()), ids=list(TRANSIENT))
def test_copy_table_transient_fault_is_ridden_out_loading_once(
    projects: Projects, fault: dict
) -> None:
    projects.stack.add_fault(fault)

    result = _copy(projects)

    assert projects.stack.state.faults.count() == 0, "the fault never fired"
    _assert_loaded_once(projects)
    assert result.created is True


def test_copy_table_dropped_import_into_existing_table_loads_once(projects: Projects) -> None:
    projects.seed("t", COLUMNS, [["x", "old"]], project="target")
    projects.stack.add_fault(
        {"method": "POST", "path": "/import-async$", "drop_connection": True, "times": 1}
    )

    result = _copy(projects)

    assert projects.stack.state.faults.count() == 0
    assert result.rows == len(ROWS)
    rows = table_rows(projects.target_admin, f"{TARGET_BUCKET}.t")
    assert rows == sorted([("x", "old"), *map(tuple, ROWS)])


def test_copy_table_export_job_error_stops_before_writing(projects: Projects) -> None:
    projects.stack.add_fault({"method": "POST", "path": "/export-async$", "job_error": True})

    with pytest.raises(JobFailedError, match="tableExport"):
        _copy(projects)

    assert target_jobs(projects) == []


def test_copy_table_import_job_error_leaves_existing_target_as_it_was(projects: Projects) -> None:
    projects.seed("t", COLUMNS, [["x", "old"]], project="target")
    projects.stack.add_fault({"method": "POST", "path": "/import-async$", "job_error": True})

    with pytest.raises(JobFailedError, match="tableImport"):
        _copy(projects, mode="replace")

    assert table_rows(projects.target_admin, f"{TARGET_BUCKET}.t") == [("x", "old")]


def test_copy_table_import_job_error_into_new_table_leaves_no_table(projects: Projects) -> None:
    projects.stack.add_fault({"method": "POST", "path": "/import-async$", "job_error": True})

    with pytest.raises(JobFailedError, match="tableImport"):
        _copy(projects, mode="update")

    # The table this copy created is gone again: the target bucket is as it was.
    assert projects.target_admin.find_table(f"{TARGET_BUCKET}.t") is None
    operations = [job["operationName"] for job in target_jobs(projects)]
    assert operations[-1] == "tableDrop"


def test_copy_table_slice_refused_by_the_store_is_sent_again_from_its_start(
    projects: Projects, caplog: pytest.LogCaptureFixture
) -> None:
    # A 403 is not retried by the SDK, so the engine's own slice retry has to handle it.
    projects.stack.add_fault(
        {"target": "s3", "method": "GET", "path": "part_00", "status": 403, "times": 2}
    )

    _copy(projects)

    assert projects.stack.state.faults.count() == 0
    _assert_loaded_once(projects)
    assert "failed (attempt 1/3), sending it again" in caplog.text


def test_copy_table_lasting_slice_read_failure_raises_transfer_error(projects: Projects) -> None:
    projects.stack.add_fault({"target": "s3", "method": "GET", "path": "part_00", "status": 403})

    with pytest.raises(TransferError, match=r"^Copy in\.c-\w+\.t -> .*run the copy again"):
        _copy(projects)

    assert projects.target_admin.find_table(f"{TARGET_BUCKET}.t") is None


def test_copy_table_lasting_upload_failure_raises_transfer_error(projects: Projects) -> None:
    projects.stack.add_fault(
        {"target": "s3", "method": "PUT", "path": "part\\d+\\.csv\\.gz", "status": 403}
    )

    with pytest.raises(TransferError):
        _copy(projects)

    assert projects.target_admin.find_table(f"{TARGET_BUCKET}.t") is None


def test_copy_table_lasting_maintenance_raises_api_error(projects: Projects) -> None:
    projects.stack.add_fault(
        {"method": "POST", "path": "/export-async$", "status": 503, "retry_after": 0}
    )

    with pytest.raises(ApiError) as info:
        _copy(projects)

    assert info.value.status == 503
    assert target_jobs(projects) == []


def test_copy_table_backend_without_tables_definition_creates_from_a_header_file(
    projects: Projects,
) -> None:
    # Stands for a backend that has no `tables-definition` (Keboola offers it on Snowflake and
    # BigQuery only); the stack itself supports it, so a 501 is injected.
    projects.stack.add_fault({"method": "POST", "path": "/tables-definition$", "status": 501})

    result = _copy(projects)

    _assert_loaded_once(projects)
    operations = [job["operationName"] for job in target_jobs(projects)]
    assert "tableCreate" in operations and "tableDefinitionCreate" not in operations
    assert result.created is True


def test_copy_table_dropped_create_from_a_header_file_loads_once(projects: Projects) -> None:
    # The header-file path (a backend without `tables-definition`, stood in for by a 501) sends
    # `tables-async`; its answer is lost, so the create job must be found by its run id.
    projects.stack.add_fault({"method": "POST", "path": "/tables-definition$", "status": 501})
    projects.stack.add_fault(
        {"method": "POST", "path": "/tables-async$", "drop_connection": True, "times": 1}
    )

    result = _copy(projects)

    # Only the lasting 501 is left: the dropped answer did happen.
    assert projects.stack.state.faults.count() == 1
    _assert_loaded_once(projects)
    operations = [job["operationName"] for job in target_jobs(projects)]
    assert operations.count("tableCreate") == 1
    assert result.created is True


def test_copy_table_create_job_error_leaves_nothing_behind(projects: Projects) -> None:
    projects.stack.add_fault(
        {"method": "POST", "path": "/tables-definition$", "job_error": True, "message": "no room"}
    )

    with pytest.raises(JobFailedError, match=r"tableDefinitionCreate.*no room"):
        _copy(projects, mode="replace")

    assert projects.target_admin.find_table(f"{TARGET_BUCKET}.t") is None
    operations = [job["operationName"] for job in target_jobs(projects)]
    assert operations == ["tableDefinitionCreate"]


def test_copy_table_lasting_source_manifest_failure_stops_before_writing(
    projects: Projects,
) -> None:
    projects.stack.add_fault({"target": "s3", "method": "GET", "path": "manifest$", "status": 403})

    with pytest.raises(TransferError, match="manifest"):
        _copy(projects)

    assert target_jobs(projects) == []
    assert projects.target_admin.find_table(f"{TARGET_BUCKET}.t") is None
