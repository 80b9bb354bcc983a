"""No secret in any log line: kbc_sync's own lines never carry one, and the masking filter sits on
the loggers of the libraries underneath (urllib3, botocore), so even a handler without it gets
their DEBUG lines clean."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from kbc_sync.storage import MaskingFilter
from kbc_sync.storage.files import open_file_store
from kbc_sync_tests.storage.local import Project


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.getMessage()))


@pytest.fixture(name="handlers")
def handlers_fixture() -> Iterator[tuple[_Lines, _Lines]]:
    root = logging.getLogger()
    raw, masked = _Lines(), _Lines()
    masked.addFilter(MaskingFilter())
    level = root.level
    root.setLevel(logging.DEBUG)
    # `raw` has no filter of its own: whatever reaches it is what any application's handler gets.
    root.addHandler(raw)
    root.addHandler(masked)
    yield raw, masked
    root.removeHandler(raw)
    root.removeHandler(masked)
    root.setLevel(level)


def test_export_upload_import_with_retries_logs_no_secret(
    project: Project, handlers: tuple[_Lines, _Lines]
) -> None:
    raw, masked = handlers
    table_id = project.seed("t", 120)
    project.stack.add_fault(
        {"method": "POST", "path": ".*/files/prepare", "times": 1, "status": 502}
    )

    job = project.client.wait_for_job(project.client.start_export(table_id))
    detail = project.client.get_file(job["results"]["file"]["id"])
    prepared = project.client.prepare_file("copy.csv.gz", sliced=True)
    source, target = open_file_store(detail), open_file_store(prepared)
    names = []
    for number, url in enumerate(source.slice_urls(detail)):
        with source.open_slice(url) as stream:
            names.append(f"part{number:04d}.gz")
            target.upload_slice(prepared, names[-1], io.BytesIO(stream.read()))
    target.write_manifest(prepared, names)

    credentials = prepared["uploadParams"]["credentials"]
    secrets = [
        project.token,
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
        detail["credentials"]["SecretAccessKey"],
        detail["url"].split("?", 1)[1],
    ]
    own = [line for name, line in raw.lines if name.startswith("kbc_sync")]
    assert any("retry attempt 1/3" in line for line in own)
    # botocore logs request headers at DEBUG, the access key id and session token among them.
    assert any(name.startswith("botocore") and "***" in line for name, line in raw.lines)
    for handler in (raw, masked):
        leaked = [secret for secret in secrets for _, line in handler.lines if secret in line]
        # The count only: a failing test must not print the secrets it found.
        assert not leaked, f"{len(leaked)} secret(s) in the log lines"
