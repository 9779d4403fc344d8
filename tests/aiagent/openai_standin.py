"""A local OpenAI-compatible server: a real HTTP server on 127.0.0.1 implementing POST /chat/completions.

It answers scripted responses in order (tool calls, final texts, HTTP errors, slow answers), then the
default one, and records every request body, so tests assert the tools schema, the prompt and the
tool-result loop exactly as the `openai` SDK put them on the wire.

    with OpenAIStandin() as llm:
        llm.script(llm.tool_calls(("update_lead", {"data": {"city": "Алматы"}})), llm.text("Отлично!"))
        ... configure the tenant with ai.base_url = llm.url ...
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any]  # {"status": int, "json": {...}, "delay": seconds}


class OpenAIStandin:
    def __init__(self, default: Reply | Callable[[dict], Reply] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.default = default or self.text("Спасибо! Подскажите, в каком городе планируете строительство?")
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                try:
                    payload = json.loads(body)
                except ValueError:
                    return self._send(400, {"error": {"message": "invalid JSON"}})
                with standin._lock:
                    standin.requests.append(payload)
                    standin.headers.append({k.lower(): v for k, v in self.headers.items()})
                    reply = standin._queue.pop(0) if standin._queue else standin.default
                if callable(reply):
                    reply = reply(payload)
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                self._send(reply.get("status", 200), reply.get("json", {}))

            def _send(self, status: int, data: Any) -> None:
                raw = json.dumps(data, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- scripting ------------------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def _completion(self, message: dict, finish: str) -> Reply:
        return {"status": 200, "json": {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": "standin", "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}}

    def text(self, content: str) -> Reply:
        return self._completion({"role": "assistant", "content": content}, "stop")

    def tool_calls(self, *calls: tuple[str, Any], content: str | None = None) -> Reply:
        """calls: (name, arguments) — arguments as a dict (sent as JSON) or a raw string (e.g. broken JSON)."""
        return self._completion({"role": "assistant", "content": content, "tool_calls": [
            {"id": f"call_{next(self._ids)}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for name, args in calls]}, "tool_calls")

    @staticmethod
    def error(status: int, message: str = "upstream error", delay: float = 0.0) -> Reply:
        return {"status": status, "json": {"error": {"message": message, "type": "server_error"}}, "delay": delay}

    @staticmethod
    def slow(reply: Reply, delay: float) -> Reply:
        return {**reply, "delay": delay}
