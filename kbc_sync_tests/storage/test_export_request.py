"""The body of an export request, as it leaves the client.

The local stack parses the window ends and keeps them only as dates, so the form they were sent
in is seen here, at the stub server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from kbc_sync.storage import StorageClient
from kbc_sync_tests.storage.stub import Reply, StubServer

EXPORT = r"/v2/storage/tables/in\.c-a\.t/export-async"


def test_start_export_sends_window_datetimes_as_unix_timestamps(
    stub: StubServer, client: StorageClient
) -> None:
    stub.add("POST", EXPORT, Reply(202, {"id": 1, "status": "waiting"}))
    prague = timezone(timedelta(hours=1))

    client.start_export(
        "in.c-a.t",
        changed_since=datetime(2026, 3, 1, 11, tzinfo=prague),
        changed_until=datetime(2026, 3, 1, 11, tzinfo=UTC),
    )

    (request,) = stub.requests_to("POST", EXPORT)
    body = json.loads(request.body)
    # The API blueprint documents unix timestamps for export-async; 10:00 and 11:00 UTC.
    assert (body["changedSince"], body["changedUntil"]) == ("1772359200", "1772362800")
    assert body["gzip"] is True
