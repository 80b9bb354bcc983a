"""`LocalStack`: the local Keboola Storage stack, started in-process or by `kbc-sync local`."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from kbc_sync.local import api_core, api_export, api_files, api_snapshots, api_tables
from kbc_sync.local.accounts import BUCKET_ID, Accounts
from kbc_sync.local.clock import Clock
from kbc_sync.local.faults import FaultBook
from kbc_sync.local.files import FileRegistry
from kbc_sync.local.filestore import S3Provider, close_socket
from kbc_sync.local.jobs import JobRunner
from kbc_sync.local.server import Router, StackServer
from kbc_sync.local.state import StackState
from kbc_sync.local.tables import TableStore

logger = logging.getLogger(__name__)

# How long `stop` waits for requests in progress before closing the table databases.
STOP_GRACE_S = 30.0

ROUTER = Router()
for _module in (api_core, api_tables, api_export, api_snapshots, api_files):
    ROUTER.include(_module.router)


class LocalStack:
    """A Storage API on loopback with its own S3 server; see kbc_sync/local/README.md.

    Usage:
        with LocalStack(port=0) as stack:
            project_id = stack.add_project("Demo")
            token = stack.add_token(project_id, master=True)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path | None = None,
        slice_rows: int = 500_000,
        clock: Clock | None = None,
    ) -> None:
        if slice_rows < 1:
            raise ValueError(f"slice_rows must be at least 1, not {slice_rows}.")
        self.host = host
        self.port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.slice_rows = slice_rows
        self.clock = clock or Clock()
        self.url = ""
        self.s3_endpoint_url = ""
        self._state: StackState | None = None
        self._server: StackServer | None = None
        self._thread: threading.Thread | None = None
        self._provider: S3Provider | None = None
        self._scratch: Path | None = None

    def start(self) -> LocalStack:
        """Start the S3 server and the API server; return self."""
        faults = FaultBook()
        self._provider = S3Provider(self.host, interceptor=self._s3_fault(faults))
        self._provider.start()
        self._scratch = Path(tempfile.mkdtemp(prefix="kbc-local-", dir=self._data_root()))
        self._state = StackState(
            clock=self.clock, accounts=Accounts(), jobs=JobRunner(self.clock),
            files=FileRegistry(self._provider), faults=faults, work_dir=self._scratch,
            slice_rows=self.slice_rows,
        )  # fmt: skip

        try:
            self._server = StackServer((self.host, self.port), self._state, ROUTER)
        except OSError:
            # The port is taken: leave no S3 server or scratch folder behind.
            self.stop()
            raise
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._state.base_url = self.url
        self.s3_endpoint_url = self._provider.endpoint_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kbc-local-api", daemon=True
        )
        self._thread.start()
        logger.info("Local Storage stack on %s (S3 on %s)", self.url, self.s3_endpoint_url)
        return self

    def stop(self) -> None:
        """Stop both servers and the job workers, and remove scratch files."""
        if self._server is not None:
            self._server.shutdown()
            if not self._server.drain(timeout=STOP_GRACE_S):
                logger.warning("Requests still running after %.0f s; stopping anyway", STOP_GRACE_S)
            self._server.server_close()
            self._server = None
        if self._state is not None:
            self._state.jobs.shutdown()
            for project in self._state.accounts.projects.values():
                project.store.close()
            self._state = None
        if self._provider is not None:
            self._provider.stop()
            self._provider = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def state(self) -> StackState:
        if self._state is None:
            raise RuntimeError("The local stack is not started; call start() first.")
        return self._state

    def _data_root(self) -> Path | None:
        if self.data_dir is None:
            return None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def _open_store(self, project_id: int) -> TableStore:
        if self.data_dir is None:
            return TableStore(None)
        assert self._scratch is not None
        return TableStore(self._scratch / f"project-{project_id}.duckdb")

    def add_project(self, name: str) -> int:
        """Create a project; return its id."""
        return self.state.accounts.add_project(name, self._open_store, self.clock.now()).id

    def add_token(
        self,
        project_id: int,
        *,
        master: bool = False,
        bucket_permissions: dict[str, str] | None = None,
        can_manage_buckets: bool | None = None,
        can_manage_tokens: bool = False,
        description: str = "",
    ) -> str:
        """Create a token; return the token string (send it as `X-StorageApi-Token`)."""
        token = self.state.accounts.add_token(
            project_id, master=master, bucket_permissions=bucket_permissions or {},
            can_manage_buckets=bool(can_manage_buckets) if can_manage_buckets is not None
            else master, description=description, now=self.clock.now(),
            can_manage_tokens=can_manage_tokens,
        )  # fmt: skip
        return token.secret

    def refresh_token(self, token: str) -> str:
        """Give a token a new string; the old one stops working, as in Keboola."""
        return self.state.accounts.refresh_token(token, self.clock.now()).secret

    def create_bucket(self, project_id: int, bucket_id: str) -> None:
        match = BUCKET_ID.match(bucket_id)
        if not match:
            raise ValueError(f'Bucket id "{bucket_id}" is not valid: use "in.c-<name>".')
        self.state.accounts.create_bucket(
            project_id, match.group(1), match.group(2), "", self.clock.now()
        )

    def seed_table(
        self,
        project_id: int,
        table_id: str,
        columns: list[str],
        rows: Iterable[Sequence[str | None]],
        *,
        primary_key: Sequence[str] = (),
        definition: list[dict] | None = None,
    ) -> None:
        """Create a table with rows stamped `clock.now()`; its bucket is created if missing."""
        project = self.state.accounts.project(project_id)
        bucket_id = table_id.rpartition(".")[0]
        if bucket_id not in project.buckets:
            self.create_bucket(project_id, bucket_id)

        now = self.clock.now()
        project.store.create_table(
            table_id, columns, primary_key=tuple(primary_key), definition=definition, now=now
        )
        project.store.append_rows(table_id, rows, columns=columns, incremental=False, now=now)
        self.state.jobs.bump(project_id, table_id)

    def add_fault(self, spec: dict[str, Any]) -> None:
        """Inject a fault; the same JSON as `POST /_local/faults` (see the README)."""
        self.state.faults.add(spec)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def seed_demo(self, *, orders_rows: int = 100_000) -> dict[str, str]:
        """Seed the demo projects; return the env lines (see `kbc_sync.local.demo`)."""
        from kbc_sync.local.demo import seed_demo

        return seed_demo(self, orders_rows=orders_rows)

    @staticmethod
    def _s3_fault(faults: FaultBook) -> Callable[[str, str], Callable | None]:
        def intercept(method: str, path: str) -> Callable | None:
            fault = faults.take("s3", method, path)
            if fault is None:
                return None
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop_connection:
                return _dropping_app
            if fault.status:
                return _s3_error_app(fault.status)
            return None

        return intercept


def _dropping_app(environ: dict, start_response: Callable) -> list[bytes]:
    close_socket(environ)
    start_response("500 Internal Server Error", [("Content-Length", "0")])
    return [b""]


def _s3_error_app(status: int) -> Callable:
    code = "SlowDown" if status == 503 else "InternalError"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>Injected fault: HTTP {status}</Message></Error>"
    ).encode()

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        start_response(
            f"{status} Fault",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app
