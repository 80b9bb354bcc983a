"""Copy speed and memory: kbc_sync's slice transfer against plain boto3, side by side.

    .venv/bin/python benchmarks/copy.py --rows 1000000 [--json FILE] [--concurrency 4]
        [--slice-rows 500000] [--repeat 2]

One run starts a local Storage stack in its own process, seeds a table of N rows x 10 columns
and a 10-row table, then runs two measuring processes one after the other:

- `raw`: plain boto3 moving the slices of one export of the table into a prepared sliced file
  of the target project (get_object, read, put_object per slice; the same concurrency), then
  writing the manifest;
- `kbc_sync`: `copy_table` of the 10-row table (`small_table_s`, wall time of the call), then
  of the big table in `replace` mode.

Both rates are compressed bytes over the same stretch of work: from reading the source manifest
to writing the target manifest (for kbc_sync, the `elapsed_s` of its last progress report).
Client set-up and `files/prepare` lie outside it on both sides; the copy's whole `transfer`
phase, the export and import jobs (the stack's work) are printed separately.

`peak_rss_mb` is the peak resident memory (`ru_maxrss`) of the kbc_sync process, which runs
nothing but the copies: the stack and the baseline live in other processes.

Each side runs `--repeat` times, alternated, because other work on the machine slows single runs
unevenly: the rates and small-table times are the best run of each side (all runs are listed),
`peak_rss_mb` the highest of all kbc_sync runs.

`small_table_s` is a copy of a 10-row table into the existing target table in a process that has
already copied once (the recurring, scheduled case); `small_table_cold_s` is the first copy in a
fresh process, which also imports the cloud SDK and creates the table.
"""

from __future__ import annotations

import os
import sys

# This file's name shadows the standard library's `copy` module for everything imported while
# it runs as a script; take its folder off the import path before anything else is imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

COLUMNS = ["id", "customer_id", "status", "amount", "quantity", "created", "country",
           "email", "note", "flag"]  # fmt: skip
STATUSES = ["new", "paid", "shipped", "returned", "cancelled"]
COUNTRIES = ["CZ", "DE", "US", "GB", "FR", "ES", "IT", "PL", "SK", "AT"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="rows in the big table")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--concurrency", type=int, default=4, help="slices in flight, both sides")
    parser.add_argument("--slice-rows", type=int, default=500_000, help="rows per export slice")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side, alternated")
    parser.add_argument("--role", choices=["stack", "raw", "kbc"], help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "stack":
        return serve_stack(args.rows, args.slice_rows)
    if args.role == "raw":
        return print(json.dumps(run_raw(json.loads(args.setup), args.concurrency)), flush=True)
    if args.role == "kbc":
        return print(json.dumps(run_kbc(json.loads(args.setup), args.concurrency)), flush=True)

    figures = measure(args.rows, args.concurrency, args.slice_rows, args.repeat)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


# -- the orchestrating process ------------------------------------------------------------------


def measure(rows: int, concurrency: int, slice_rows: int, repeat: int) -> dict[str, Any]:
    started = time.monotonic()
    stack = _spawn("stack", rows, concurrency, slice_rows)
    raws, kbcs = [], []
    try:
        assert stack.stdout is not None
        line = stack.stdout.readline()
        if not line:
            raise SystemExit("the stack process stopped before it was ready; see its errors above")
        setup = json.loads(line)
        seeded = time.monotonic() - started
        for _ in range(repeat):
            raws.append(_run_role("raw", setup, rows, concurrency, slice_rows))
            kbcs.append(_run_role("kbc", setup, rows, concurrency, slice_rows))
    finally:
        _kill_group(stack)

    for kbc in kbcs:
        if kbc["rows_copied"] != rows:
            raise SystemExit(f"kbc_sync copied {kbc['rows_copied']} rows, not {rows}")
    kbc_rates = [kbc["bytes"] / kbc["streaming_s"] for kbc in kbcs]
    raw_rates = [raw["bytes"] / raw["seconds"] for raw in raws]
    best = kbcs[kbc_rates.index(max(kbc_rates))]
    return {
        "rows": rows,
        "bytes": best["bytes"],
        "slices": best["slices"],
        "concurrency": concurrency,
        "repeat": repeat,
        "kbc_sync_mb_s": round(max(kbc_rates) / 1e6, 1),
        "raw_mb_s": round(max(raw_rates) / 1e6, 1),
        "ratio": round(max(kbc_rates) / max(raw_rates), 2),
        "peak_rss_mb": max(kbc["peak_rss_mb"] for kbc in kbcs),
        "raw_peak_rss_mb": max(raw["peak_rss_mb"] for raw in raws),
        "small_table_s": min(kbc["small_table_s"] for kbc in kbcs),
        "small_table_cold_s": min(kbc["small_table_cold_s"] for kbc in kbcs),
        "kbc_mb_s_runs": [round(rate / 1e6, 1) for rate in kbc_rates],
        "raw_mb_s_runs": [round(rate / 1e6, 1) for rate in raw_rates],
        "peak_rss_mb_runs": [kbc["peak_rss_mb"] for kbc in kbcs],
        "kbc_copy_total_s": best["total_s"],
        "kbc_phases_s": best["durations"],
        "seed_s": round(seeded, 1),
    }


def _spawn(role: str, rows: int, concurrency: int, slice_rows: int, setup: Any = None) -> Any:
    command = [sys.executable, __file__, "--role", role, "--rows", str(rows),
               "--concurrency", str(concurrency), "--slice-rows", str(slice_rows)]  # fmt: skip
    if setup is not None:
        command += ["--setup", json.dumps(setup)]
    env = dict(os.environ)
    if setup is not None:
        env["AWS_ENDPOINT_URL_S3"] = setup["s3"]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=_default_signals,
    )


def _run_role(role: str, setup: Any, rows: int, concurrency: int, slice_rows: int) -> Any:
    process = _spawn(role, rows, concurrency, slice_rows, setup)
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the {role} process failed with exit code {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _kill_group(process: Any) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def print_table(figures: dict[str, Any]) -> None:
    shown = {k: v for k, v in figures.items() if k != "kbc_phases_s"}
    shown = {k: str(v) if isinstance(v, list) else v for k, v in shown.items()}
    width = max(len(key) for key in shown)
    for key, value in shown.items():
        print(
            f"{key:<{width}}  {value:,}" if isinstance(value, int) else f"{key:<{width}}  {value}"
        )
    print(f"{'kbc_phases_s':<{width}}  {figures['kbc_phases_s']}")


# -- the stack process -------------------------------------------------------------------------


def serve_stack(rows: int, slice_rows: int) -> None:
    from kbc_sync.local import LocalStack

    stack = LocalStack(slice_rows=slice_rows).start()
    source = stack.add_project("Bench source")
    target = stack.add_project("Bench target")
    stack.create_bucket(target, "in.c-copy")
    stack.seed_table(source, "in.c-bench.big", COLUMNS, _rows(rows), primary_key=["id"])
    stack.seed_table(source, "in.c-bench.small", COLUMNS, _rows(10), primary_key=["id"])
    setup = {
        "url": stack.url,
        "s3": stack.s3_endpoint_url,
        "source_token": stack.add_token(source, master=True),
        "target_token": stack.add_token(target, bucket_permissions={"in.c-copy": "write"}),
    }
    print(json.dumps(setup), flush=True)
    while True:
        time.sleep(3600)


def _rows(count: int) -> Any:
    for i in range(count):
        yield (
            str(i), str(i % 50_000), STATUSES[i % 5], f"{(i * 37) % 100_000 / 100:.2f}",
            str(i % 13), f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            COUNTRIES[i % 10], f"user{i % 200_000}@example.com",
            f'note {i}, "quoted" {i * 7919 % 104_729}', "1" if i % 3 else "0",
        )  # fmt: skip


# -- the measuring processes -------------------------------------------------------------------


def _clients(setup: dict[str, Any]) -> tuple[Any, Any]:
    from kbc_sync.storage import StorageClient

    source = StorageClient(setup["url"], setup["source_token"], token_env="BENCH_SOURCE")
    target = StorageClient(setup["url"], setup["target_token"], token_env="BENCH_TARGET")
    return source, target


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_kbc(setup: dict[str, Any], concurrency: int) -> dict[str, Any]:
    from kbc_sync.engine import CopySpec, TransferProgress, copy_table

    source, target = _clients(setup)
    small = CopySpec("in.c-bench.small", "in.c-copy", "small", "replace")
    started = time.monotonic()
    copy_table(small, source=source, target=target, concurrency=concurrency)
    small_cold_s = time.monotonic() - started
    started = time.monotonic()
    copy_table(small, source=source, target=target, concurrency=concurrency)
    small_s = time.monotonic() - started

    reports: list[TransferProgress] = []
    result = copy_table(
        CopySpec("in.c-bench.big", "in.c-copy", "big", "replace"),
        source=source,
        target=target,
        concurrency=concurrency,
        progress=reports.append,
    )
    return {
        "bytes": result.bytes,
        "slices": result.slices,
        "rows_copied": result.rows,
        "streaming_s": reports[-1].elapsed_s,
        "transfer_s": result.durations["transfer"],
        "total_s": result.durations["total"],
        "durations": result.durations,
        "small_table_s": round(small_s, 3),
        "small_table_cold_s": round(small_cold_s, 3),
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_raw(setup: dict[str, Any], concurrency: int) -> dict[str, Any]:
    import boto3

    source, target = _clients(setup)
    job = source.wait_for_job(source.start_export("in.c-bench.big", gzip=True))
    detail = source.get_file(job["results"]["file"]["id"], federation_token=True)
    prepared = target.prepare_file("raw.csv.gz", sliced=True)
    reader = _s3(boto3, detail["credentials"], concurrency)
    writer = _s3(boto3, prepared["uploadParams"]["credentials"], concurrency)
    bucket, key = detail["s3Path"]["bucket"], detail["s3Path"]["key"]
    out_bucket, out_key = prepared["uploadParams"]["bucket"], prepared["uploadParams"]["key"]

    started = time.monotonic()
    manifest = json.loads(reader.get_object(Bucket=bucket, Key=key + "manifest")["Body"].read())
    urls = [entry["url"] for entry in manifest["entries"]]

    def move(index_url: tuple[int, str]) -> int:
        index, url = index_url
        slice_bucket, _, slice_key = url[len("s3://") :].partition("/")
        data = reader.get_object(Bucket=slice_bucket, Key=slice_key)["Body"].read()
        writer.put_object(Bucket=out_bucket, Key=f"{out_key}part{index:05d}.csv.gz", Body=data)
        return len(data)

    with ThreadPoolExecutor(concurrency) as pool:
        moved = sum(pool.map(move, enumerate(urls)))
    entries = [{"url": f"s3://{out_bucket}/{out_key}part{i:05d}.csv.gz"} for i in range(len(urls))]
    writer.put_object(
        Bucket=out_bucket, Key=out_key + "manifest", Body=json.dumps({"entries": entries})
    )
    return {"bytes": moved, "seconds": time.monotonic() - started, "peak_rss_mb": _peak_rss_mb()}


def _s3(boto3: Any, credentials: dict[str, str], concurrency: int) -> Any:
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        region_name="us-east-1",
    ).client("s3", config=Config(max_pool_connections=max(10, concurrency * 2)))


if __name__ == "__main__":
    main()
