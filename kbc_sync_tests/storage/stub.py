"""A tiny scripted HTTP server on 127.0.0.1, for the cases the local stack cannot produce.

Each route answers with its replies in turn and keeps repeating the last one. A reply may drop
the connection without answering, to stand for a response lost on the way back.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    content_type: str = "application/json"


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubServer:
    """Scripted HTTP server running in a thread; use as a context manager."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], list[Reply]]] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, method: str, path: str, *replies: Reply) -> None:
        """Answer `method` on paths fully matching the regex `path` with `replies` in turn."""
        self.routes.append((method, re.compile(path), list(replies)))

    def requests_to(self, method: str, path: str) -> list[Seen]:
        """Return the requests received for a method and path regex."""
        pattern = re.compile(path)
        return [s for s in self.seen if s.method == method and pattern.fullmatch(s.path)]

    def next_reply(self, method: str, path: str) -> Reply:
        with self._lock:
            for route_method, pattern, replies in self.routes:
                if route_method == method and pattern.fullmatch(path):
                    return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(404, {"error": f"no stub for {method} {path}", "code": "stub.noRoute"})

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            stub.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            reply = stub.next_reply(self.command, path)

            if reply.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            data = reply.body if isinstance(reply.body, bytes) else b""
            if reply.body is not None and not isinstance(reply.body, bytes):
                data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler
