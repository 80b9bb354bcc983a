"""The demo: the local Storage stack with sample data, and Dagster on the demo configuration.

`python -m kbc_sync.demo` (what `make demo` runs):

1. starts the local Storage stack on 127.0.0.1:8765 with a source project full of sample tables
   and an empty target bucket (fresh each time), and writes the tokens to `.demo/.env`;
2. runs `dagster dev` on http://127.0.0.1:3000 with `kbc_sync/demo.yaml`, its instance under
   `.demo/dagster_home`;
3. keeps writing a few new rows into the source tables, so the sensor and the schedules have
   something to copy;
4. stops all of it on Ctrl-C.
"""

from __future__ import annotations

import argparse
import gzip
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from kbc_sync.storage import StorageClient
from kbc_sync.storage.files import open_file_store

logger = logging.getLogger(__name__)

DEMO_DIR = Path(".demo")
CONFIG = Path(__file__).with_name("demo.yaml")
# In a checkout, workspace.yaml sits next to the package; an installed package has none.
WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"
STACK_PORT = 8765

# Tables the demo adds rows to; `products` is typed and stays as seeded.
GROWING_TABLES = ("in.c-crm.customers", "in.c-crm.orders", "in.c-crm.events")

DAGSTER_YAML = """\
# Written by kbc_sync.demo. Each target project gets a pool; two copies into it at a time.
concurrency:
  pools:
    default_limit: 2
sensors:
  use_threads: true
  num_workers: 2
telemetry:
  enabled: false
"""


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C; return the exit code."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _interrupt_on_signals()
    from kbc_sync.local import LocalStack

    busy = [port for port in (STACK_PORT, args.port) if not _port_free(port)]
    if busy:
        print(
            f"Port {', '.join(map(str, busy))} on 127.0.0.1 is in use. Stop what uses it "
            "(an earlier demo?) and run the demo again.",
            file=sys.stderr,
        )
        return 1

    # Each demo starts from fresh sample data and a fresh Dagster instance.
    for leftover in (DEMO_DIR / "stack", DEMO_DIR / "dagster_home"):
        shutil.rmtree(leftover, ignore_errors=True)
    DEMO_DIR.mkdir(exist_ok=True)
    stack = LocalStack(port=STACK_PORT, data_dir=DEMO_DIR / "stack").start()
    dagster: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    try:
        env = stack.seed_demo(orders_rows=args.orders_rows)
        _write_env(env)
        # The writer thread below uploads through boto3, which finds the stack's S3 server here.
        os.environ["AWS_ENDPOINT_URL_S3"] = env["AWS_ENDPOINT_URL_S3"]
        dagster = _start_dagster(env, args.port)
        writer = threading.Thread(
            target=_keep_writing, args=(env, args.every, stop), name="demo-increments"
        )
        writer.start()
        print(f"\nkbc_sync demo: open http://127.0.0.1:{args.port} (Ctrl-C stops everything)\n")
        while dagster.poll() is None:
            time.sleep(0.5)
        return dagster.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        if dagster is not None:
            _stop_group(dagster)
        stack.stop()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kbc_sync.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="port of the Dagster UI")
    parser.add_argument(
        "--every", type=float, default=20.0, help="seconds between two writes into the source"
    )
    parser.add_argument("--orders-rows", type=int, default=100_000, help="rows of orders")
    return parser.parse_args(argv)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _write_env(env: dict[str, str]) -> None:
    lines = [f"{key}={value}" for key, value in env.items()]
    path = DEMO_DIR / ".env"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _start_dagster(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    home = (DEMO_DIR / "dagster_home").resolve()
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    child_env = {
        **os.environ,
        **env,
        "KBC_SYNC_CONFIG": str(CONFIG),
        "DAGSTER_HOME": str(home),
    }
    dagster = Path(sys.executable).with_name("dagster")
    code = ["-w", str(WORKSPACE)] if WORKSPACE.exists() else ["-m", "kbc_sync.definitions"]
    command = [str(dagster), "dev", *code, "-h", "127.0.0.1", "-p", str(port)]
    # Its own process group, so Ctrl-C here stops the webserver, daemon and code server together.
    return subprocess.Popen(
        command, env=child_env, start_new_session=True, preexec_fn=_default_signals
    )


def _interrupt_on_signals() -> None:
    # Started from a script or in the background, this process may have inherited SIGINT as
    # ignored; Ctrl-C and a plain `kill` must both end the demo and everything it started.
    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


def _default_signals() -> None:
    # A parent started in the background may ignore SIGINT/SIGTERM; the child must not inherit
    # that, or it could never be stopped politely.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_group(process: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """Stop a process group: SIGINT (what dagster dev expects), then SIGKILL after a grace."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            logger.warning("dagster dev did not stop within %.0f s; killing it", grace_s)


def _keep_writing(env: dict[str, str], every_s: float, stop: threading.Event) -> None:
    """Append a few rows to the growing source tables every `every_s` seconds."""
    client = StorageClient(
        env["KBC_SOURCE_URL"], env["KBC_SOURCE_TOKEN"], token_env="KBC_SOURCE_TOKEN"
    )
    round_no = 0
    while not stop.wait(every_s):
        round_no += 1
        for table_id in GROWING_TABLES:
            # One failed write (a busy stack, a fault) must not end the demo.
            try:
                write_increment(client, table_id, tag=f"demo{int(time.time())}", rows=5)
            except Exception as exc:
                logger.warning("Demo write into %s failed: %s", table_id, exc)
        logger.info("Demo round %d: 5 new rows in each of %s", round_no, ", ".join(GROWING_TABLES))


def write_increment(client: StorageClient, table_id: str, *, tag: str, rows: int) -> None:
    """Load `rows` new rows into a source table (incremental), with ids that are new."""
    table = client.get_table(table_id)
    columns = list(table["columns"])
    lines = io.StringIO()
    for index in range(rows):
        values = [
            f"{tag}-{index}" if n == 0 else f"{column} {tag}" for n, column in enumerate(columns)
        ]
        lines.write(",".join(values) + "\n")

    prepared = client.prepare_file(f"{table['name']}-{tag}.csv.gz", sliced=True, tags=("demo",))
    store = open_file_store(prepared)
    name = "part0.csv.gz"
    store.upload_slice(prepared, name, io.BytesIO(gzip.compress(lines.getvalue().encode())))
    store.write_manifest(prepared, [name])
    job = client.start_import(
        table_id, prepared["id"], incremental=True, columns=columns, without_headers=True
    )
    client.wait_for_job(job)


if __name__ == "__main__":
    sys.exit(main())
