"""Faults during `recreate`: the old table stays or comes back, and the error says which.

A recreate takes a snapshot, drops the table, creates it again and loads it. A failure at any
of these steps must leave the target holding its old data (or, when even the restore fails,
name the snapshot that keeps it), and a lost response must not make a step run twice.
"""

from __future__ import annotations

import pytest

from kbc_sync.engine import CopySpec, copy_table
from kbc_sync.errors import CopyError
from kbc_sync_tests.engine.conftest import TARGET_BUCKET, Projects, table_rows, target_jobs

COLUMNS = ["id", "name"]
ROWS = [["1", "ann"], ["2", "bob"], ["3", "cyd"]]
TABLE_ID = f"{TARGET_BUCKET}.t"


def _recreate(projects: Projects) -> object:
    """Recreate `t`, whose target holds one old row under other columns than the source's."""
    source_id = projects.seed("t", COLUMNS, ROWS, primary_key=["id"])
    spec = CopySpec(source_id, TARGET_BUCKET, "t", "recreate")
    return copy_table(spec, source=projects.source, target=projects.target)


def _seed_old_target(projects: Projects) -> None:
    projects.seed("t", ["id", "old"], [["x", "kept"]], primary_key=["id"], project="target")


def _assert_old_table(projects: Projects) -> None:
    table = projects.target_admin.get_table(TABLE_ID)
    assert (table["columns"], table["primaryKey"]) == (["id", "old"], ["id"])
    assert table_rows(projects.target_admin, TABLE_ID) == [("x", "kept")]


def _snapshots(projects: Projects) -> list[dict]:
    return projects.target_admin._call("GET", f"tables/{TABLE_ID}/snapshots", what="snapshots")


def _operations(projects: Projects) -> list[str]:
    names = [job["operationName"] for job in target_jobs(projects)]
    return [name for name in names if name != "tableExport"]


@pytest.mark.parametrize(
    "path",
    ["/tables-definition$", "/import-async$", "/tables/[^/]+$"],
    ids=["create", "import", "drop"],
)
def test_recreate_failure_restores_the_old_table(projects: Projects, path: str) -> None:
    _seed_old_target(projects)
    method = "DELETE" if path.endswith("[^/]+$") else "POST"
    # The fault fires once, on the recreate's own call; the restore that follows must work.
    projects.stack.add_fault({"method": method, "path": path, "job_error": True, "times": 1})

    with pytest.raises(CopyError) as info:
        _recreate(projects)

    _assert_old_table(projects)
    if method == "POST":
        assert info.value.restored is True
        assert "restored from a snapshot" in str(info.value)
    else:
        assert info.value.restored is False
        assert "unchanged" in str(info.value)
    assert _snapshots(projects) == []


def test_recreate_snapshot_failure_leaves_the_target_unchanged_and_says_so(
    projects: Projects,
) -> None:
    _seed_old_target(projects)
    projects.stack.add_fault(
        {"method": "POST", "path": "/snapshots$", "job_error": True, "message": "disk full"}
    )

    with pytest.raises(CopyError, match=r"snapshot .* failed.*unchanged.*disk full") as info:
        _recreate(projects)

    assert info.value.restored is False
    _assert_old_table(projects)
    assert "tableDrop" not in _operations(projects)


def test_recreate_failed_restore_names_the_snapshot_that_keeps_the_old_data(
    projects: Projects,
) -> None:
    _seed_old_target(projects)
    projects.stack.add_fault({"method": "POST", "path": "/tables-definition$", "job_error": True})
    projects.stack.add_fault({"method": "POST", "path": "/tables-async$", "job_error": True})

    with pytest.raises(CopyError) as info:
        _recreate(projects)

    snapshots = _snapshots_of_project(projects)
    assert len(snapshots) == 1
    snapshot_id = snapshots[0]["id"]
    message = str(info.value)
    assert info.value.restored is False
    assert f"old data is kept in snapshot {snapshot_id}" in message
    assert f'"snapshotId": "{snapshot_id}"' in message and "tables-async" in message
    assert projects.target_admin.find_table(TABLE_ID) is None

    # The way back the error describes works: the old table comes back from that snapshot.
    projects.stack.clear_faults()
    job = projects.target_admin.start_create_table_from_snapshot(TARGET_BUCKET, "t", snapshot_id)
    projects.target_admin.wait_for_job(job)
    _assert_old_table(projects)


def _snapshots_of_project(projects: Projects) -> list[dict]:
    # The table is gone, so its snapshot list cannot be read; the snapshot job names the id.
    jobs = [job for job in target_jobs(projects) if job["operationName"] == "tableSnapshotCreate"]
    return [projects.target_admin._call("GET", f"snapshots/{job['results']['id']}", what="s")
            for job in jobs]  # fmt: skip


def test_recreate_dropped_restore_request_restores_the_old_data_once(projects: Projects) -> None:
    # The restore's `tables-async` is handled but its answer is lost. Sent again, it would fail
    # with "table already exists" although the table is back: the job must be found instead.
    _seed_old_target(projects)
    projects.stack.add_fault(
        {"method": "POST", "path": "/tables-definition$", "job_error": True, "times": 1}
    )
    projects.stack.add_fault(
        {"method": "POST", "path": "/tables-async$", "drop_connection": True, "times": 1}
    )

    with pytest.raises(CopyError) as info:
        _recreate(projects)

    assert projects.stack.state.faults.count() == 0, "a fault never fired"
    assert info.value.restored is True
    _assert_old_table(projects)
    assert _operations(projects).count("tableCreate") == 1
    assert _snapshots(projects) == []


def test_recreate_dropped_snapshot_request_takes_one_snapshot_and_goes_on(
    projects: Projects,
) -> None:
    _seed_old_target(projects)
    projects.stack.add_fault(
        {"method": "POST", "path": "/snapshots$", "drop_connection": True, "times": 1}
    )

    result = _recreate(projects)

    assert projects.stack.state.faults.count() == 0, "the fault never fired"
    assert result.rows == len(ROWS)
    assert table_rows(projects.target_admin, TABLE_ID) == sorted(map(tuple, ROWS))
    # A snapshot sent twice would leave the second one behind, never deleted.
    assert _operations(projects).count("tableSnapshotCreate") == 1
    assert _snapshots(projects) == []
