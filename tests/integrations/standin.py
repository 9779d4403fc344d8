"""A real local HTTP server standing in for ChatFlow, the Cloud API and the Bot API.

Unlike httpx.MockTransport it exercises the real client stack (URL building, query encoding, JSON
bodies, timeouts), so the tests can assert the exact requests the adapters put on the wire.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]  # last value of each parameter (the adapters never repeat one)
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # parsed body, or None when it is not JSON


@dataclass
class Scripted:
    status: int = 200
    json: Any = field(default_factory=lambda: {"ok": True})
    body: bytes | None = None  # raw body instead of JSON
    delay: float = 0.0  # seconds to wait before answering (provokes client timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    gate: threading.Event | None = None  # answer only once the test sets it (work that must not be waited for)


class StandIn:
    """Records every request; answers queued responses in order, then the default one."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default = Scripted()
        self._queue: list[Scripted] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                record = Recorded(
                    method=self.command,
                    path=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    json=parsed,
                )
                reply = standin._record(record)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.gate is not None:
                    reply.gate.wait(timeout=60)
                payload = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                try:
                    self.send_response(reply.status)
                    content_type = (
                        "application/octet-stream" if reply.body is not None else "application/json"
                    )
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a handler still sleeping must not block teardown
        # A short poll interval keeps teardown (shutdown waits for one poll) fast.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _record(self, record: Recorded) -> Scripted:
        with self._lock:
            self.requests.append(record)
            return self._queue.pop(0) if self._queue else self.default

    def reply(
        self,
        status: int = 200,
        json: Any = None,
        *,
        body: bytes | None = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        gate: threading.Event | None = None,
    ) -> StandIn:
        """Queue one response (FIFO). `json=None` answers {"ok": true}."""
        scripted = Scripted(status=status, body=body, delay=delay, headers=dict(headers or {}), gate=gate)
        if json is not None:
            scripted.json = json
        with self._lock:
            self._queue.append(scripted)
        return self

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn()
    try:
        yield server
    finally:
        server.close()
