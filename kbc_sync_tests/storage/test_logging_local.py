"""No secret in any log line: kbc_sync's own lines never carry one, and MaskingFilter cleans the
DEBUG lines of the libraries underneath (urllib3, botocore) for applications that show them."""

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
    root.addHandler(raw)  # first, so it sees each record before the filter rewrites it
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
    # botocore's DEBUG lines do carry a credential, so the filter has real work to do.
    assert any(secret in line for _, line in raw.lines for secret in secrets)
    for secret in secrets:
        assert not [line for line in own if secret in line]
        assert not [line for _, line in masked.lines if secret in line]
