"""Dagster layer at scale: definitions load time and one sensor tick over 1,000 rows.

    .venv/bin/python benchmarks/dagster_scale.py [--rows 1000] [--buckets 10]

One run:

- writes a configuration of N rows spread over B source buckets (a third windowed by
  15 minutes, a third adaptive, a third whole tables) and times `load_config` +
  `build_kbc_sync_defs` + building the repository (every asset, job, schedule and the sensor),
  as `Definitions.validate_loadable` does (best and median of 3 loads); then, in addition,
  the snapshot of that repository the code server sends to the UI (Dagster's private
  `RepositorySnap`, the closest measure of what `dagster dev` does when it loads the code
  location);
- starts the local Storage stack in-process with those N tables, then runs two sensor ticks on
  a real Dagster instance in a temporary DAGSTER_HOME: the first (no cursor: every table is new)
  and the second (cursor from the first, nothing changed). For each it prints the Storage calls
  the tick made, counted by a `requests` response hook on the sensor's own client, and the wall
  time of the tick.

Targets: load <= 3 s; per tick <= 10 Storage calls and <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path, where `copy.py` would stand in for the
# standard library's `copy` module that pydantic and Dagster import.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import dagster as dg
import yaml
from dagster._core.remote_representation.external_data import RepositorySnap

from kbc_sync.config import load_config
from kbc_sync.defs import KeboolaSourceResource, build_kbc_sync_defs
from kbc_sync.defs.sensor import SENSOR_NAME

CALLS: list[str] = []

# Other work shares the machine; the best of a few loads is the figure least disturbed by it.
LOAD_REPEATS = 3


class CountingSource(KeboolaSourceResource):
    """The source resource; every response its clients receive is recorded in CALLS."""

    def get_client(self, **overrides: Any) -> Any:
        client = super().get_client(**overrides)
        client.session.hooks["response"].append(
            lambda response, *args, **kwargs: CALLS.append(response.request.path_url)
        )
        return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--buckets", type=int, default=10)
    args = parser.parse_args()
    from kbc_sync.local import LocalStack

    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0) as stack:
        figures = run(stack, Path(tmp), args.rows, args.buckets)
    _print(figures, args.rows, args.buckets)


def run(stack: Any, tmp: Path, rows: int, buckets: int) -> dict[str, float]:
    """Measure everything; return figure name -> value."""
    tables = [(f"in.c-b{n % buckets}", f"t{n}") for n in range(rows)]
    token = _seed(stack, tables, buckets)
    path = tmp / "kbc_sync.yaml"
    path.write_text(yaml.safe_dump(_config(stack.url, tables)))

    loads, snapshots = [], []
    for _ in range(LOAD_REPEATS):
        started = time.perf_counter()
        defs = build_kbc_sync_defs(load_config(path, require_env=False))
        repo = defs.get_repository_def()
        repo.load_all_definitions()
        loads.append(time.perf_counter() - started)
        RepositorySnap.from_def(repo)
        snapshots.append(time.perf_counter() - started)
    figures = {
        "load_s": min(loads),
        "load_median_s": statistics.median(loads),
        "snapshot_s": min(snapshots),
        "snapshot_median_s": statistics.median(snapshots),
    }
    os.environ["KBC_SOURCE_TOKEN"] = token
    with dg.instance_for_test() as instance:
        resource = CountingSource(url=stack.url, token=token)
        sensor = repo.get_sensor_def(SENSOR_NAME)
        cursor = None
        for name in ("first", "steady"):
            CALLS.clear()
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"keboola_source": resource},
                definitions=defs,
            )
            started = time.perf_counter()
            result = sensor.evaluate_tick(context)
            figures[f"{name}_tick_s"] = time.perf_counter() - started
            figures[f"{name}_calls"] = len(CALLS)
            figures[f"{name}_requests"] = len(result.run_requests or [])
            cursor = result.cursor
    return figures


def _seed(stack: Any, tables: list[tuple[str, str]], buckets: int) -> str:
    source_id = stack.add_project("Scale source")
    for n in range(buckets):
        stack.create_bucket(source_id, f"in.c-b{n}")
    for bucket, name in tables:
        stack.seed_table(
            source_id, f"{bucket}.{name}", ["id", "v"], [["1", "x"]], primary_key=("id",)
        )
    return stack.add_token(source_id, master=True)


def _config(url: str, tables: list[tuple[str, str]]) -> dict[str, Any]:
    rows = []
    for n, (bucket, name) in enumerate(tables):
        row: dict[str, Any] = {"source": f"{bucket}.{name}", "mode": "update"}
        if n % 3 == 0:
            row.update(changed_in_last="15 minutes", start="2026-01-01")
        elif n % 3 == 1:
            row["changed_in_last"] = "adaptive"
        rows.append(row)
    return {
        "source": {"url": url, "token_env": "KBC_SOURCE_TOKEN"},
        "targets": [
            {
                "name": "scale",
                "url": url,
                "token_env": "KBC_TARGET_TOKEN",
                "bucket": "in.c-copy",
                "tables": rows,
            }
        ],
    }


def _print(figures: dict[str, float], rows: int, buckets: int) -> None:
    lines = [
        ("definitions load, best (s)", figures["load_s"], 3.0),
        ("definitions load, median (s)", figures["load_median_s"], 3.0),
        ("load + UI snapshot, best (s)", figures["snapshot_s"], 3.0),
        ("load + UI snapshot, median (s)", figures["snapshot_median_s"], 3.0),
        ("first tick: Storage calls", figures["first_calls"], 10),
        ("first tick: wall time (s)", figures["first_tick_s"], 2.0),
        ("steady tick: Storage calls", figures["steady_calls"], 10),
        ("steady tick: wall time (s)", figures["steady_tick_s"], 2.0),
    ]
    print(f"\nDagster layer, {rows} rows in {buckets} source buckets")
    print(f"{'figure':<30}{'value':>10}{'target':>10}{'ratio':>8}")
    for name, value, target in lines:
        print(f"{name:<30}{value:>10.3g}{target:>10}{value / target:>8.2f}")
    print(
        f"run requests: first tick {figures['first_requests']:.0f}, "
        f"steady tick {figures['steady_requests']:.0f}"
    )


if __name__ == "__main__":
    main()
