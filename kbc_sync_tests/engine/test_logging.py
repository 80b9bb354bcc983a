"""What a copy logs: the promised lines, and never a token or a credential."""

from __future__ import annotations

import logging

import pytest

from kbc_sync.engine import CopySpec, copy_table
from kbc_sync.errors import CopyError
from kbc_sync_tests.engine.conftest import SLICE_ROWS, TARGET_BUCKET, Projects


def _secrets(projects: Projects, source_id: str) -> list[str]:
    """Tokens of both projects and the temporary file credentials a copy is handed."""
    job = projects.source.wait_for_job(projects.source.start_export(source_id))
    detail = projects.source.get_file(job["results"]["file"]["id"], federation_token=True)
    prepared = projects.target.prepare_file("probe.csv.gz", sliced=True)
    credentials = [
        *detail["credentials"].values(),
        *prepared["uploadParams"]["credentials"].values(),
    ]
    found = [projects.source_token, projects.target_token, projects.target_admin_token]
    found += [value for value in credentials if isinstance(value, str) and len(value) > 8]
    return found


def test_copy_table_logs_no_token_or_credential_even_through_faults(
    projects: Projects, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [[str(i), f"n{i}"] for i in range(SLICE_ROWS * 2)]
    source_id = projects.seed("t", ["id", "name"], rows)
    secrets = _secrets(projects, source_id)
    for fault in (
        {"method": "POST", "path": "/import-async$", "drop_connection": True, "times": 1},
        {"method": "GET", "path": "/files/\\d+$", "status": 503, "retry_after": 0, "times": 1},
        {"target": "s3", "method": "GET", "path": "part_00", "status": 500, "times": 1},
    ):
        projects.stack.add_fault(fault)
    caplog.set_level(logging.DEBUG)

    copy_table(
        CopySpec(source_id, TARGET_BUCKET, "t", "update"),
        source=projects.source,
        target=projects.target,
    )
    with pytest.raises(CopyError):
        copy_table(
            CopySpec(source_id, TARGET_BUCKET, "t", "update"),
            source=projects.source,
            target=projects.target_admin,
        )

    text = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert len(caplog.records) > 10
    assert [secret for secret in secrets if secret in text] == []


def test_copy_table_logs_one_start_and_one_result_line(
    projects: Projects, caplog: pytest.LogCaptureFixture
) -> None:
    source_id = projects.seed("t", ["id"], [["1"]], primary_key=["id"])
    caplog.set_level(logging.INFO, logger="kbc_sync.engine")

    copy_table(
        CopySpec(source_id, TARGET_BUCKET, "t", "replace"),
        source=projects.source,
        target=projects.target,
    )

    engine = [r.getMessage() for r in caplog.records if r.name.startswith("kbc_sync.engine")]
    assert len([line for line in engine if "started (mode replace" in line]) == 1
    assert len([line for line in engine if line.startswith("Copied in.c-src.t ->")]) == 1
