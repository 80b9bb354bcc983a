"""End to end: the real `dagster dev` on a free port, driven over GraphQL, against the local stack.

The webserver, daemon and code server run as one process group of their own and are stopped as
a group (SIGKILL when SIGTERM is not enough), so a failing test leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from dagster_graphql import DagsterGraphQLClient

from kbc_sync.demo import write_increment
from kbc_sync_tests.defs.helpers import config_dict, write_config

REPO_ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ["2026-01-01-00:00", "2026-01-01-00:15"]

pytestmark = pytest.mark.e2e

BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
SENSOR_TICKS = """
{
  sensorOrError(sensorSelector: {repositoryLocationName: "kbc_sync",
      repositoryName: "__repository__", sensorName: "kbc_sync_source_sensor"}) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 20) { status error { message } } } }
  }
}
"""
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status runs(limit: 10) { runId status } }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reset_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def dagster_dev(projects, tmp_path) -> Iterator[tuple[DagsterGraphQLClient, str]]:
    """`dagster dev` on the e2e configuration; yields the GraphQL client and the base URL."""
    rows = [
        {"source": "in.c-crm.events", "mode": "replace"},
        {
            "source": "in.c-crm.customers",
            "mode": "update",
            "changed_in_last": "15 minutes",
            "start": "2026-01-01",
        },
    ]
    # The sensor runs too, so the daemon's way of calling it is exercised.
    raw = config_dict(
        projects.stack.url,
        rows,
        bucket="in.c-copy",
        automation={"sensor": "running", "sensor_interval_seconds": 10},
    )
    config = write_config(tmp_path / "kbc_sync.yaml", raw)
    home = tmp_path / "dagster_home"
    home.mkdir()
    port = _free_port()
    env = {**os.environ, "KBC_SYNC_CONFIG": str(config), "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    log = (tmp_path / "dagster_dev.log").open("wb")
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_reset_signals,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, tmp_path / "dagster_dev.log")
        yield DagsterGraphQLClient("127.0.0.1", port_number=port), base
    finally:
        _stop(process)
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster dev exited:\n{log.read_text()[-3000:]}"
        try:
            if requests.get(f"{base}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"dagster dev did not answer within {timeout_s} s:\n{log.read_text()[-3000:]}")


def _wait_for_run(client: DagsterGraphQLClient, run_id: str, timeout_s: float = 240) -> str:
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(2)
    return f"still {status}"


def _graphql(base: str, query: str, variables: dict) -> dict:
    response = requests.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, timeout=60
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _wait_for_backfill(base: str, backfill_id: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        backfill = _graphql(base, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        runs = backfill.get("runs") or []
        done = runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
        if backfill["status"] != "REQUESTED" and done:
            return backfill
        time.sleep(2)
    pytest.fail(f"backfill {backfill_id} did not finish: {backfill}")


def _wait_for_sensor_ticks(base: str, timeout_s: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    ticks: list[dict] = []
    while time.monotonic() < deadline:
        sensor = _graphql(base, SENSOR_TICKS, {})["sensorOrError"]
        ticks = sensor["sensorState"]["ticks"]
        if any(tick["status"] != "STARTED" for tick in ticks):
            return ticks
        time.sleep(2)
    pytest.fail(f"the sensor did not tick within {timeout_s} s: {ticks}")


def test_dagster_dev_materializes_and_backfills_into_target(projects, dagster_dev):
    projects.stack.clock.set(datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    projects.seed("in.c-crm.events", [[str(n), "e", "1"] for n in range(30)], primary_key=())
    projects.seed("in.c-crm.customers", [[f"c{n}", "c", "1"] for n in range(3)])
    projects.stack.clock.set(datetime(2026, 1, 1, 0, 20, tzinfo=UTC))
    write_increment(projects.source(), "in.c-crm.customers", tag="late", rows=5)
    client, base = dagster_dev

    run_id = client.submit_job_execution(
        "kbc_sync_whole_tables",
        repository_location_name="kbc_sync",
        asset_selection=[["keboola", "copy", "events"]],
    )
    run_status = _wait_for_run(client, run_id)
    launched = _graphql(
        base,
        BACKFILL,
        {
            "params": {
                "partitionNames": WINDOWS,
                "assetSelection": [{"path": ["keboola", "copy", "customers"]}],
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    backfill = _wait_for_backfill(base, launched["backfillId"])
    ticks = _wait_for_sensor_ticks(base)

    assert run_status == "SUCCESS"
    assert launched["__typename"] == "LaunchBackfillSuccess"
    assert [r["status"] for r in backfill["runs"]] == ["SUCCESS"]  # single-run policy
    assert [t["error"] for t in ticks if t["status"] == "FAILURE"] == []
    target = projects.target()
    assert target.get_table("in.c-copy.events")["rowsCount"] == 30
    assert target.get_table("in.c-copy.customers")["rowsCount"] == 8
