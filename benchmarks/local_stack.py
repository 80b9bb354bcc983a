"""Local Storage stack speed and memory: import and export through the HTTP API and S3.

    .venv/bin/python benchmarks/local_stack.py [--rows 1000000 5000000] [--slice-rows 500000]
        [--data-dir]

The stack runs as `kbc-sync local` in a process of its own (in its own process group), so
its peak RSS (sampled every 50 ms during each phase) covers the API server, DuckDB and moto's
S3 server, and not this client. For each size, a table of N rows x 10 columns goes both ways,
as a client would move it:

- `import`: prepare a sliced file, upload gzipped headerless slices with boto3 (4 in flight),
  write the manifest, `import-async` with `columns[]`, wait for the job;
- `export`: `export-async` with `gzip`, wait for the job, read the manifest, download every
  slice with boto3 (4 in flight).

The slices are generated before the clock starts. The table prints rows/s and the stack's
peak RSS per size side by side, and the ratio of the peak RSS of the largest size to the
smallest: memory should stay flat as the table grows. The target is 1,000,000 rows each way in
10 s or less. Without `--data-dir` the stack keeps tables in memory (its default).
"""

# ruff: noqa: E402 - the path fix below must run before the imports it protects.
from __future__ import annotations

import os
import sys

# `benchmarks/copy.py` would shadow the standard `copy` module for scripts run from this folder.
sys.path[:] = [
    p for p in sys.path if os.path.abspath(p) != os.path.dirname(os.path.abspath(__file__))
]

import argparse
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import duckdb
import psutil
import requests

COLUMNS = ["id", "customer_id", "status", "amount", "quantity", "created", "country", "email",
           "note", "flag"]  # fmt: skip
TARGET_SECONDS_1M = 10.0
UPLOAD_SLICE_ROWS = 500_000


class PeakRss:
    """Samples a process's resident memory in a thread; `peak_mb` after `stop`."""

    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


class StackProcess:
    """`kbc-sync local` in its own process group; `url`, `token`, `s3` once started."""

    def __init__(self, folder: Path, slice_rows: int, data_dir: Path | None) -> None:
        self._env_file = folder / "stack.env"
        command = [
            sys.executable, "-c", "from kbc_sync.local.cli import local_command; local_command()",
            "--port", "0", "--slice-rows", str(slice_rows), "--env-file", str(self._env_file),
        ]  # fmt: skip
        if data_dir is not None:
            command += ["--data-dir", str(data_dir)]
        self._child = subprocess.Popen(
            command, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=(folder / "stack.log").open("wb"), preexec_fn=_default_signals,
        )  # fmt: skip
        self.process = psutil.Process(self._child.pid)
        env = self._wait_for_env()
        self.url, self.token = env["KBC_SOURCE_URL"], env["KBC_SOURCE_TOKEN"]
        self.s3 = env["AWS_ENDPOINT_URL_S3"]

    def _wait_for_env(self) -> dict[str, str]:
        deadline = time.monotonic() + 60
        while not self._env_file.exists() or not self._env_file.read_text().endswith("\n"):
            if self._child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local stack did not start; see stack.log")
            time.sleep(0.1)
        lines = self._env_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def stop(self) -> None:
        # SIGTERM first so the stack removes its scratch files; SIGKILL if it does not stop.
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self._child.pid, sig)
                self._child.wait(wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.session = requests.Session()
        self.session.headers["X-StorageApi-Token"] = token
        self.base = f"{url}/v2/storage/"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base + path, timeout=600, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait(self, job: dict[str, Any]) -> dict[str, Any]:
        while job["status"] not in ("success", "error"):
            time.sleep(0.1)
            job = self.call("GET", f"jobs/{job['id']}")
        if job["status"] != "success":
            raise RuntimeError(f"job {job['id']} failed: {job['error']}")
        return job


def generate_slices(rows: int, folder: Path) -> list[Path]:
    """Gzipped headerless CSV slices of the benchmark table, written by DuckDB."""
    paths = []
    for index, start in enumerate(range(0, rows, UPLOAD_SLICE_ROWS)):
        end = min(rows, start + UPLOAD_SLICE_ROWS)
        path = folder / f"slice{index:04d}.csv.gz"
        duckdb.sql(
            f"""COPY (SELECT i AS id, i % 10007 AS customer_id,
                  ['new','paid','shipped','returned'][i % 4 + 1] AS status,
                  round((i % 99991) / 7.0, 2) AS amount, i % 9 + 1 AS quantity,
                  TIMESTAMP '2024-01-01' + INTERVAL (i % 86400) SECOND AS created,
                  ['CZ','DE','US','GB'][i % 4 + 1] AS country,
                  'user' || i || '@example.com' AS email,
                  CASE WHEN i % 10 = 0 THEN 'note, with "quotes"' ELSE '' END AS note,
                  CASE WHEN i % 2 = 0 THEN 'true' ELSE 'false' END AS flag
                FROM range({start}, {end}) t(i))
               TO '{path}' (FORMAT csv, HEADER false, COMPRESSION gzip)"""
        )
        paths.append(path)
    return paths


def s3_for(credentials: dict[str, str], endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )  # fmt: skip


def run_import(client: Client, endpoint: str, table_id: str, slices: list[Path]) -> int:
    prepared = client.call(
        "POST", "files/prepare", json={"name": "bench.csv.gz", "isSliced": True,
                                       "federationToken": True},
    )  # fmt: skip
    params = prepared["uploadParams"]
    s3 = s3_for(params["credentials"], endpoint)
    keys = [f"{params['key']}{path.name}" for path in slices]

    def put(path: Path, key: str) -> None:
        s3.upload_file(str(path), params["bucket"], key)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, slices, keys))
    manifest = {"entries": [{"url": f"s3://{params['bucket']}/{key}"} for key in keys]}
    s3.put_object(Bucket=params["bucket"], Key=params["key"] + "manifest",
                  Body=json.dumps(manifest).encode())  # fmt: skip

    job = client.call(
        "POST", f"tables/{table_id}/import-async",
        json={"dataFileId": prepared["id"], "incremental": False, "columns": COLUMNS},
    )  # fmt: skip
    client.wait(job)
    return sum(path.stat().st_size for path in slices)


def run_export(client: Client, endpoint: str, table_id: str, folder: Path) -> int:
    job = client.wait(client.call("POST", f"tables/{table_id}/export-async", json={"gzip": True}))
    detail = client.call("GET", f"files/{job['results']['file']['id']}?federationToken=1")
    s3 = s3_for(detail["credentials"], endpoint)
    bucket, key = detail["s3Path"]["bucket"], detail["s3Path"]["key"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key + "manifest")["Body"].read())
    urls = [entry["url"].removeprefix(f"s3://{bucket}/") for entry in manifest["entries"]]

    def get(index_key: tuple[int, str]) -> int:
        index, slice_key = index_key
        path = folder / f"out{index:04d}.gz"
        s3.download_file(bucket, slice_key, str(path))
        size = path.stat().st_size
        path.unlink()
        return size

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(get, enumerate(urls)))


def measure(
    name: str, rows: int, stack: psutil.Process, action: Callable[[], int]
) -> dict[str, Any]:
    with PeakRss(stack) as rss:
        start = time.perf_counter()
        size = action()
        seconds = time.perf_counter() - start
    return {
        "phase": name, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
        "mb": size / 2**20, "peak_rss_mb": rss.peak_mb,
    }  # fmt: skip


def bench_size(stack: StackProcess, client: Client, rows: int, tmp: Path) -> list[dict[str, Any]]:
    folder = tmp / f"rows{rows}"
    folder.mkdir()
    slices = generate_slices(rows, folder)
    name = f"t{rows}"
    body = {"name": name, "columns": [{"name": column} for column in COLUMNS]}
    client.wait(client.call("POST", "buckets/in.c-bench/tables-definition", json=body))
    table_id = f"in.c-bench.{name}"

    results = [
        measure("import", rows, stack.process,
                partial(run_import, client, stack.s3, table_id, slices)),
        measure("export", rows, stack.process,
                partial(run_export, client, stack.s3, table_id, folder)),
    ]  # fmt: skip
    client.call("DELETE", f"tables/{table_id}")
    shutil.rmtree(folder)
    return results


def print_table(results: list[dict[str, Any]], sizes: list[int]) -> None:
    """One line per phase: each size's seconds, rows/s and peak RSS, then the RSS ratio."""
    first, last = sizes[0], sizes[-1]
    header = f"{'phase':<8}"
    for rows in sizes:
        label = f"{rows / 1e6:g}M"
        header += f"{label + ' s':>10}{label + ' rows/s':>14}{label + ' RSS MB':>13}"
    header += f"{f'RSS {last / 1e6:g}M/{first / 1e6:g}M':>15}"
    print(header)
    for phase in ("import", "export"):
        by_rows = {r["rows"]: r for r in results if r["phase"] == phase}
        line = f"{phase:<8}"
        for rows in sizes:
            r = by_rows[rows]
            line += f"{r['seconds']:>10.2f}{r['rows_per_s']:>14,.0f}{r['peak_rss_mb']:>13.0f}"
        ratio = by_rows[last]["peak_rss_mb"] / by_rows[first]["peak_rss_mb"]
        print(f"{line}{ratio:>15.2f}")
    if 1_000_000 in sizes:
        worst = max(r["seconds"] for r in results if r["rows"] == 1_000_000)
        print(f"slowest 1M phase: {worst:.2f} s (target {TARGET_SECONDS_1M:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--slice-rows", type=int, default=500_000)
    parser.add_argument(
        "--data-dir", action="store_true", help="keep the tables in files (default: memory)"
    )
    args = parser.parse_args()

    results = []
    tmp = Path(tempfile.mkdtemp(prefix="kbc-bench-"))
    stack = None
    try:
        data_dir = tmp / "data" if args.data_dir else None
        stack = StackProcess(tmp, args.slice_rows, data_dir)
        client = Client(stack.url, stack.token)
        client.call("POST", "buckets", json={"name": "bench", "stage": "in"})
        for rows in args.rows:
            results.extend(bench_size(stack, client, rows, tmp))
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"stack tables: {'files' if args.data_dir else 'memory'}")
    print_table(results, args.rows)


if __name__ == "__main__":
    main()
