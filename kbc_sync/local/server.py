"""The HTTP side of the stack: a threaded loopback server, routing, bodies, faults on the wire."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from kbc_sync.local.faults import Fault, FaultSpecError
from kbc_sync.local.protocol import ApiFailure, format_date, parse_form

if TYPE_CHECKING:
    from kbc_sync.local.accounts import Project, Token
    from kbc_sync.local.state import StackState

logger = logging.getLogger(__name__)

MAX_BODY = 16 * 2**20


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class Request:
    """One API call: its parameters (query merged under the body) and the caller's token."""

    state: StackState
    method: str
    path: str
    query: dict[str, Any]
    body: dict[str, Any]
    headers: Any
    job_fault: Fault | None = None
    _token: Token | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {**self.query, **self.body}

    @property
    def token(self) -> Token:
        if self._token is None:
            self._token = self.state.accounts.authenticate(self.headers.get("X-StorageApi-Token"))
        return self._token

    @property
    def project(self) -> Project:
        return self.state.accounts.project(self.token.project_id)

    @property
    def run_id(self) -> str | None:
        return self.headers.get("X-KBC-RunId") or None

    def forced_job_error(self) -> tuple[str, str] | None:
        """The error the next job must end in, when a `job_error` fault matched this call."""
        if self.job_fault is None:
            return None
        return (
            self.job_fault.code or "storage.jobFailed",
            self.job_fault.message or "The job failed (fault injected by the local stack).",
        )


Handler = Callable[..., Response]


class Router:
    """Maps a method and a path to a handler; path groups become keyword arguments."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append((method, re.compile(f"^/v2/storage{pattern}/?$"), handler))
            return handler

        return register

    def include(self, other: Router) -> None:
        self._routes.extend(other._routes)

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return handler, {k: unquote(v) for k, v in match.groupdict().items()}
                allowed = True
        if allowed:
            raise ApiFailure(405, "methodNotAllowed", f"Method {method} is not allowed on {path}")
        raise ApiFailure(404, "notFound", f"Route {method} {path} not found")


class StackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: StackState, router: Router) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.router = router
        self._busy = 0
        self._closing = False
        self._idle = threading.Condition()

    def enter(self) -> bool:
        """Count a request in; False once the stack is stopping."""
        with self._idle:
            if self._closing:
                return False
            self._busy += 1
            return True

    def leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Refuse new requests and wait for those in progress; True when none is left.

        Handler threads are daemons: a request still inside DuckDB when the stores close, or
        when the interpreter exits, can abort the whole process. Keep-alive connections that
        are merely idle hold no request and do not delay this.
        """
        with self._idle:
            self._closing = True
            return self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StackServer

    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries no token (tokens travel in headers), so it is safe at DEBUG.
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        try:
            raw_body = self._read_body()
        except ApiFailure as failure:
            self._send(Response(failure.status, failure.body()))
            return

        if not self.server.enter():
            self.close_connection = True
            stopping = ApiFailure(503, "local.stopping", "The local stack is stopping.")
            self._send(Response(503, stopping.body()))
            return
        try:
            self._serve(method, path, parts.query, raw_body)
        finally:
            self.server.leave()

    def _serve(self, method: str, path: str, query: str, raw_body: bytes) -> None:
        if path.startswith("/_local/faults"):
            self._send(self._faults(method, raw_body))
            return

        fault = self.server.state.faults.take("api", method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status and not fault.after_work:
            self._send(_fault_response(fault, self.server.state.clock.now()))
            return

        response = self._handle(method, path, query, raw_body, fault)
        if fault is not None and fault.drop_connection:
            self._send_broken(response)
            return
        if fault is not None and fault.after_work:
            # The work is done (a job may be running); the client sees only the error status.
            self._send(_fault_response(fault, self.server.state.clock.now()))
            return
        self._send(response)

    def _handle(
        self, method: str, path: str, query: str, raw_body: bytes, fault: Fault | None
    ) -> Response:
        try:
            handler, groups = self.server.router.resolve(method, path)
            request = Request(
                self.server.state, method, path, parse_form(query),
                _parse_body(self.headers.get("Content-Type", ""), raw_body), self.headers,
            )  # fmt: skip
            if fault is not None and fault.job_error:
                request.job_fault = fault
            return handler(request, **groups)
        except ApiFailure as failure:
            return Response(failure.status, failure.body())
        except Exception:
            logger.exception("Local stack failed on %s %s", method, path)
            failure = ApiFailure(500, "storage.internalError", "Internal error of the local stack")
            return Response(500, failure.body())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiFailure(413, "storage.requestTooLarge", "The request body is too large.")
        return self.rfile.read(length) if length else b""

    def _faults(self, method: str, raw_body: bytes) -> Response:
        faults = self.server.state.faults
        if method == "DELETE":
            faults.clear()
            return Response(204)
        if method != "POST":
            return Response(405, {"error": "Use POST or DELETE on /_local/faults."})
        try:
            faults.add(json.loads(raw_body or b"null"))
        except (ValueError, FaultSpecError) as exc:
            return Response(400, {"error": f"Invalid fault: {exc}", "code": "local.invalidFault"})
        return Response(201, {"faults": faults.count()})

    def _send(self, response: Response) -> None:
        payload = response.payload()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", f"{response.content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_broken(self, response: Response) -> None:
        """Send the status, headers and half the body, then cut the connection."""
        payload = response.payload()
        self.send_response(response.status)
        self.send_header("Content-Type", f"{response.content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiFailure(400, "storage.validation", "The request body is not UTF-8.") from None
    if "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError:
            raise ApiFailure(
                400, "storage.validation", "The request body is not valid JSON."
            ) from None
        if not isinstance(data, dict):
            raise ApiFailure(400, "storage.validation", "The request body must be a JSON object.")
        return data
    if "multipart" in content_type:
        raise ApiFailure(
            400,
            "storage.validation",
            "Multipart bodies are not supported here; send a form or JSON.",
        )
    return parse_form(text)


def _fault_response(fault: Fault, now: datetime) -> Response:
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(fault.retry_after))
    if status == 503 and fault.retry_after is not None:
        end = now.astimezone(UTC) + timedelta(seconds=fault.retry_after)
        body = {
            "status": "maintenance",
            "estimatedEndTime": format_date(end),
            "reason": fault.message or "Scheduled maintenance (fault injected by the local stack)",
        }
        return Response(503, body, headers)
    failure = ApiFailure(
        status,
        fault.code or f"local.fault{status}",
        fault.message or f"Injected fault: HTTP {status}",
    )
    return Response(status, failure.body(), headers)
