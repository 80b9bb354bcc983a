"""`kbc-sync local`: run the local Storage stack until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

ENV_KEYS = (
    "KBC_SOURCE_URL",
    "KBC_SOURCE_TOKEN",
    "KBC_TARGET_URL",
    "KBC_TARGET_TOKEN",
    "KBC_TARGET_MASTER_TOKEN",
    "AWS_ENDPOINT_URL_S3",
)


@click.command("local")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8710, show_default=True, type=int, help="API port; 0 = any free.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep table databases under this folder instead of in memory.",
)
@click.option(
    "--slice-rows",
    default=25_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows per slice of an exported file.",
)
@click.option("--demo", is_flag=True, help="Seed the demo source and target projects.")
@click.option(
    "--demo-rows",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows of in.c-crm.orders with --demo.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the env lines to this file (KEY=value).",
)
def local_command(
    host: str,
    port: int,
    data_dir: Path | None,
    slice_rows: int,
    demo: bool,
    demo_rows: int,
    env_file: Path | None,
) -> None:
    """Run a local Keboola Storage stack (API plus S3) until Ctrl+C.

    Prints the environment lines a kbc_sync configuration needs (URLs, tokens, the S3
    endpoint); the only place the stack ever shows a token.
    """
    from kbc_sync.local.allocator import return_large_blocks
    from kbc_sync.local.demo import seed_empty
    from kbc_sync.local.stack import LocalStack

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # This process is the stack, so its allocator may be tuned for flat memory.
    return_large_blocks()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(host=host, port=port, data_dir=data_dir, slice_rows=slice_rows)
    try:
        stack.start()
    except OSError as exc:
        # Most often another stack (or `make demo`) already holds the port.
        raise click.ClickException(
            f"Cannot listen on {host}:{port} ({exc.strerror}). Stop whatever uses that port, "
            "or pass another one with --port (0 picks a free port)."
        ) from exc
    try:
        if demo:
            click.echo(f"Seeding demo data ({demo_rows:,} orders)...", err=True)
            env = stack.seed_demo(orders_rows=demo_rows)
        else:
            env = seed_empty(stack)
        lines = [f"{key}={env[key]}" for key in ENV_KEYS]
        click.echo("\n".join(lines))
        if env_file is not None:
            env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            env_file.chmod(0o600)
        click.echo(f"Local Storage stack on {stack.url}; Ctrl+C stops it.", err=True)
        stop.wait()
    finally:
        click.echo("Stopping the local Storage stack...", err=True)
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
