"""Outside services for the fault tests, as real local HTTP servers the product's processes reach: ChatFlow's
gateway with 5xx, timeouts and held requests on demand, and an OpenAI-compatible LLM whose answers can be
held (tests/aiagent/openai_standin.py)."""
from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil

from tests.aiagent.openai_standin import OpenAIStandin


@dataclass
class Delivery:
    endpoint: str  # send-text, send-image, …
    jid: str
    text: str  # msg, or the caption / media URL of a media send
    provider_id: str


def _client_connected(sock: socket.socket) -> bool:
    """Whether the client still holds its end open (a killed process's sockets are closed by the kernel)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


class ChatFlowStandin:
    """ChatFlow's gateway (`GET {api_url}/send-text?token=&instance_id=&jid=&msg=` → `{"success": true}`).

    A message counts as delivered only when the gateway accepted it and answered a client still waiting for the
    answer: a 5xx, a request left unanswered until the client timed out, or a held request whose client died
    meanwhile delivers nothing — the sender must try again, and exactly once more.
    Modes, applied to the next requests in order: `fail(n, status)`, `hang(n)` (no answer until the client
    gives up); `hold()` holds every request from then on until `release()`.
    """

    def __init__(self) -> None:
        self.delivered: list[Delivery] = []
        self.requests = 0
        self.refused = 0  # answered with an error or left unanswered
        self.aborted = 0  # held while its sender died
        self._plan: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._holding = False
        self._released = threading.Condition(self._lock)
        self._held = 0
        self.held_clients: list[int] = []  # client ports of requests held at some point
        self._ids = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                standin._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    # -- scripting ------------------------------------------------------------------------------------

    def fail(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._plan.extend([("status", status)] * n)

    def hang(self, n: int) -> None:
        with self._lock:
            self._plan.extend([("hang", 0)] * n)

    def hold(self) -> None:
        with self._lock:
            self._holding = True

    def release(self) -> None:
        with self._lock:
            self._holding = False
            self._released.notify_all()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    # -- serving --------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        endpoint = parts.path.rsplit("/", 1)[-1]
        with self._lock:
            self.requests += 1
            mode, status = self._plan.pop(0) if self._plan else ("ok", 200)
            if mode == "ok" and self._holding:
                self._held += 1
                self.held_clients.append(request.client_address[1])
                while self._holding and _client_connected(request.connection):
                    self._released.wait(0.1)
                self._held -= 1
            if mode == "ok" and not _client_connected(request.connection):
                self.aborted += 1
                return
        if mode == "hang":
            while _client_connected(request.connection):
                time.sleep(0.1)
            with self._lock:
                self.refused += 1
            return
        if mode == "status":
            with self._lock:
                self.refused += 1
            return self._answer(request, status, {"success": False, "message": "gateway unavailable"})
        with self._lock:  # accepted: recorded before the answer leaves, as a real gateway would have sent it
            provider_id = f"cf-{next(self._ids)}"
            text = query.get("msg") or query.get("caption") or query.get("imageurl") or query.get("docurl") or ""
            self.delivered.append(Delivery(endpoint, query.get("jid", ""), text, provider_id))
        self._answer(request, 200, {"success": True, "data": {"messageId": provider_id}})

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, data: dict) -> None:
        raw = json.dumps(data).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(raw)))
            request.end_headers()
            request.wfile.write(raw)
        except OSError:
            pass


class HeldLLM:
    """An OpenAI-compatible stand-in (OpenAIStandin) whose answers can be held until `release()`, or delayed
    past the product's timeout."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holding = False
        self._client = threading.local()
        self.held = 0
        self.held_clients: list[int] = []  # client ports of requests held at some point
        self.delay = 0.0
        self.llm = OpenAIStandin(default=self._answer)
        handler = self.llm.server.RequestHandlerClass
        serve = handler.do_POST

        def do_post(request) -> None:  # the answer below needs to know who asked
            self._client.port = request.client_address[1]
            serve(request)

        handler.do_POST = do_post
        self.llm.__enter__()
        self.port = self.llm.server.server_address[1]
        self.url = self.llm.url

    def _answer(self, payload: dict) -> dict:
        with self._cond:
            if self._holding:
                self.held += 1
                self.held_clients.append(self._client.port)
                self._cond.wait_for(lambda: not self._holding, timeout=120)
                self.held -= 1
            delay = self.delay
        reply = self.llm.text("Спасибо! Подскажите, в каком городе планируете строительство?")
        return self.llm.slow(reply, delay) if delay else reply

    def hold(self) -> None:
        with self._cond:
            self._holding = True

    def release(self) -> None:
        with self._cond:
            self._holding = False
            self._cond.notify_all()

    @property
    def calls(self) -> int:
        return len(self.llm.requests)

    def close(self) -> None:
        self.release()
        self.llm.__exit__(None, None, None)


def process_of_client(server_port: int, client_port: int) -> int | None:
    """The pid of the process whose connection from `client_port` reaches our server on `server_port`."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.pid and conn.laddr and conn.laddr.port == client_port and conn.raddr \
                and conn.raddr.port == server_port:
            return conn.pid
    return None
