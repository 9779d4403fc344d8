"""The webhook fast path: `/webhooks/<provider>/<key>/` on the platform host, served under ASGI without
Django's request machinery.

Through Django's ASGI handler every request walks the middleware chain (tenant domain lookup, sessions,
CSRF, auth — each sync middleware a hop to a thread) and then the sync view in a thread of its own; for a
webhook none of that does anything. Here the body is read on the event loop (refused at 1 MiB) and the
same `buildcrm.webhooks.webhook_answer` that Django's view calls runs on a small pool of threads, so
requests wait for PostgreSQL in parallel (their commits share WAL flushes) instead of one after another.
Every other request, and a webhook on any other host, goes to Django unchanged.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from django import db
from django.conf import settings
from django.http import HttpResponse, JsonResponse, QueryDict
from django.utils.datastructures import CaseInsensitiveMapping

from buildcrm.middleware import OUTAGE, unavailable_response
from buildcrm.webhooks import webhook_answer
from core.db import database_unavailable
from core.hosts import hostname, scope_header

log = logging.getLogger("buildcrm.webhooks")
_thread = threading.local()
WEBHOOK_PATH = re.compile(r"^/webhooks/(?P<provider>[a-z_]+)/(?P<key>[^/]+)/$")


class _BodyTooLarge(Exception):
    pass


class WebhookFastPath:
    """ASGI middleware in front of Django's ASGI application."""

    def __init__(self, app, *, threads: int | None = None) -> None:
        self.app = app
        self.public_hosts = {settings.PUBLIC_DOMAIN.lower()}
        self.executor = ThreadPoolExecutor(max_workers=threads or settings.WEBHOOK_THREADS,
                                           thread_name_prefix="webhook")

    async def __call__(self, scope, receive, send) -> None:
        match = WEBHOOK_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or _hostname(scope) not in self.public_hosts:
            return await self.app(scope, receive, send)
        try:
            body: bytes | None = await _read_body(receive, settings.WEBHOOK_MAX_BODY)
        except _BodyTooLarge:
            body = None
        headers = CaseInsensitiveMapping({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        query = QueryDict(scope.get("query_string", b""))
        if OUTAGE.admit():
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.executor, _answer, match["provider"], match["key"],
                                                  scope["method"], body, headers, query)
        else:  # PostgreSQL is down: not stored, so no 200 (the provider retries)
            response = unavailable_response()
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(b"content-length", str(len(response.content)).encode()),
                                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items())]})
        await send({"type": "http.response.body", "body": response.content})


def _answer(provider: str, key: str, method: str, body: bytes | None, headers, query) -> HttpResponse:
    # With the connection pool (servers), each thread keeps its connection, and the search path last set on
    # it, from one webhook to the next; one that saw an error is dropped, so the next webhook gets a fresh one,
    # and so is one kept from before a database outage (the server it talked to is gone).
    # Without the pool (the test suite) nothing outlives the request.
    if getattr(_thread, "epoch", OUTAGE.epoch) != OUTAGE.epoch:
        db.connection.close()
    _thread.epoch = OUTAGE.epoch
    try:
        response = webhook_answer(provider=provider, key=key, method=method, body=body, headers=headers, query=query)
    except Exception as exc:
        if database_unavailable(exc):
            OUTAGE.failed()
            log.warning("webhook %s not stored, database unavailable: %s", provider, exc)
            return unavailable_response()
        log.exception("webhook %s failed", provider)
        return JsonResponse({"detail": "internal error"}, status=500)
    else:
        return response
    finally:
        if not settings.DB_POOL or db.connection.errors_occurred or db.connection.in_atomic_block:
            db.connection.close()


def _hostname(scope) -> str:
    host = scope_header(scope, b"host")
    if host:
        return hostname(host)
    server = scope.get("server")
    return (server[0] or "").lower() if server else ""


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
