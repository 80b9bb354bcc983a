"""A writing request answered with a gateway's 5xx after Storage did the work loads once.

The local stack's `after_work` fault handles the request (the job starts) and then answers the
status, as a gateway does when it gives up waiting for the Storage app. The client must not
resend such a request; the engine finds the job by its run id and waits for it instead.
"""

from __future__ import annotations

import logging

import pytest

from kbc_sync.engine import CopySpec, copy_table
from kbc_sync_tests.engine.conftest import (
    ONCE_COLUMNS,
    ONCE_ROWS,
    TARGET_BUCKET,
    Projects,
    table_rows,
    target_jobs,
)

COLUMNS, ROWS = ONCE_COLUMNS, ONCE_ROWS
TABLE = f"{TARGET_BUCKET}.t"


def _copy(projects: Projects, mode: str) -> object:
    projects.seed("t", COLUMNS, ROWS)
    spec = CopySpec("in.c-src.t", TARGET_BUCKET, "t", mode)  # type: ignore[arg-type]
    return copy_table(spec, source=projects.source, target=projects.target)


@pytest.mark.parametrize("status", [504, 502, 500])
def test_copy_table_import_5xx_after_work_loads_once_via_run_id(
    projects: Projects, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    projects.stack.add_fault(
        {"method": "POST", "path": "/import-async$", "status": status, "after_work": True,
         "times": 1}
    )  # fmt: skip
    caplog.set_level(logging.WARNING)

    result = _copy(projects, "update")

    assert projects.stack.state.faults.count() == 0, "the fault never fired"
    imports = [job for job in target_jobs(projects) if job["operationName"] == "tableImport"]
    assert len(imports) == 1
    assert imports[0]["status"] == "success"
    assert table_rows(projects.target_admin, TABLE) == sorted(map(tuple, ROWS))
    assert result.rows == len(ROWS)
    assert f"(status {status}), but Storage job {imports[0]['id']} with run id" in caplog.text
    assert projects.target_token not in caplog.text


def test_copy_table_existing_target_import_504_after_work_keeps_old_rows_once(
    projects: Projects,
) -> None:
    projects.seed("t", COLUMNS, [["x", "old"]], project="target")
    projects.stack.add_fault(
        {"method": "POST", "path": "/import-async$", "status": 504, "after_work": True,
         "times": 1}
    )  # fmt: skip

    _copy(projects, "update")

    imports = [job for job in target_jobs(projects) if job["operationName"] == "tableImport"]
    assert len(imports) == 1
    assert table_rows(projects.target_admin, TABLE) == sorted([("x", "old"), *map(tuple, ROWS)])


def test_copy_table_create_504_after_work_creates_the_table_once(projects: Projects) -> None:
    projects.stack.add_fault(
        {"method": "POST", "path": "/tables-definition$", "status": 504, "after_work": True,
         "times": 1}
    )  # fmt: skip

    _copy(projects, "replace")

    operations = [job["operationName"] for job in target_jobs(projects)]
    creates = [op for op in operations if op in ("tableDefinitionCreate", "tableCreate")]
    assert len(creates) == 1
    assert operations.count("tableImport") == 1
    assert table_rows(projects.target_admin, TABLE) == sorted(map(tuple, ROWS))
