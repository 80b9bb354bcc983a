"""What a copy logs: the promised lines, and never a token or a credential."""

from __future__ import annotations

import logging

import pytest

from kbc_sync.engine import CopySpec, copy_table
from kbc_sync.errors import CopyError
from kbc_sync.local import filestore
from kbc_sync_tests.engine.conftest import SLICE_ROWS, TARGET_BUCKET, Projects


def test_copy_table_logs_no_token_or_credential_even_through_faults(
    projects: Projects, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [[str(i), f"n{i}"] for i in range(SLICE_ROWS * 2)]
    source_id = projects.seed("t", ["id", "name"], rows)
    issued = _record_issued_credentials(monkeypatch)
    for fault in (
        {"method": "POST", "path": "/import-async$", "drop_connection": True, "times": 1},
        {"method": "GET", "path": "/files/\\d+$", "status": 503, "retry_after": 0, "times": 1},
        {"target": "s3", "method": "GET", "path": "part_00", "status": 500, "times": 1},
    ):
        projects.stack.add_fault(fault)
    # Every logger at DEBUG, the SDKs' included: botocore then prints request headers.
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

    secrets = [projects.source_token, projects.target_token, projects.target_admin_token]
    secrets += [value for credentials in issued for value in _secret_values(credentials)]
    text = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert len(issued) >= 2, "the copy was handed no file credentials"
    assert any(record.name.startswith("botocore") for record in caplog.records)
    leaked = [secret for secret in secrets if secret in text]
    # The count only: a failing test must not print the secrets it found.
    assert not leaked, f"{len(leaked)} of {len(secrets)} secrets appear in the log"


def _record_issued_credentials(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Note every set of temporary file credentials the stack hands out from now on.

    The stack issues new credentials with every file detail and prepare answer, so the ones a
    copy uses can only be known by watching them being made; the real function still makes them.
    """
    issued: list[dict[str, str]] = []
    make = filestore.temporary_credentials

    def noting(**kwargs: int) -> dict[str, str]:
        credentials = make(**kwargs)
        issued.append(credentials)
        return credentials

    monkeypatch.setattr(filestore, "temporary_credentials", noting)
    return issued


def _secret_values(credentials: dict[str, str]) -> list[str]:
    return [credentials[key] for key in ("AccessKeyId", "SecretAccessKey", "SessionToken")]


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
