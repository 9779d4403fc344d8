import logging
import sys
import threading
import time

import psycopg
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.signals import got_request_exception
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.utils.html import escape
from django_tenants.utils import get_public_schema_name
from whitenoise.middleware import WhiteNoiseMiddleware

from core.db import database_unavailable

RETRY_AFTER_SECONDS = 5  # what a 503 tells the caller (providers retry a webhook that got no 2xx)
PROBE_EVERY_SECONDS = 1.0  # during an outage, how often a plain connection attempt looks for the database

log = logging.getLogger("buildcrm")


def unavailable_response() -> JsonResponse:
    response = JsonResponse({"detail": "the service is temporarily unavailable, try again shortly"}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database_reachable() -> bool:
    """One plain connection (not the pool's: it would wait out its timeout and backoff) and one round trip."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as conn:
        conn.execute("SELECT 1")
    return True


class DatabaseOutage:
    """What this process knows about PostgreSQL being down. Without it every request of an outage would wait for
    the connection pool's timeout before failing. Once a request finds the database unreachable, requests are
    answered 503 at once, while a probe (a plain connection attempt on a thread of its own, every
    PROBE_EVERY_SECONDS) looks for it; when the probe gets through, requests go to the database again."""

    def __init__(self, probe=_database_reachable) -> None:
        self._probe = probe
        self._lock = threading.Lock()
        self._down = False
        self._probing = False
        self._next_probe = 0.0
        self.epoch = 0  # outages ended: a connection kept from an earlier epoch talked to a server that is gone

    def admit(self) -> bool:
        """Whether a request may use the database now (else: answer 503)."""
        with self._lock:
            if not self._down:
                return True
            if not self._probing and time.monotonic() >= self._next_probe:
                self._probing = True
                threading.Thread(target=self._run_probe, name="database-probe", daemon=True).start()
            return False

    def _run_probe(self) -> None:
        try:
            back = self._probe()
        except Exception:  # still unreachable
            back = False
        with self._lock:
            self._probing = False
            self._next_probe = time.monotonic() + PROBE_EVERY_SECONDS
            if back:
                self._down = False
                self.epoch += 1
        if back:
            log.warning("database reachable again: serving requests")

    def failed(self) -> None:
        with self._lock:
            started, self._down = not self._down, True
            if started:
                self._next_probe = time.monotonic() + PROBE_EVERY_SECONDS
        if started:
            log.warning("database unreachable: answering 503 until a probe gets through")


OUTAGE = DatabaseOutage()


def _note_database_error(sender, request=None, **kwargs) -> None:
    """Django turns an exception anywhere in the chain (the tenant lookup, a view) into a 500 response before an
    outer middleware sees it; this marks the request so DatabaseUnavailableMiddleware can answer 503 instead."""
    if request is not None and database_unavailable(sys.exc_info()[1]):
        request.database_unavailable = True


got_request_exception.connect(_note_database_error, dispatch_uid="buildcrm.database_unavailable")


class DatabaseUnavailableMiddleware:
    """First in the chain: while PostgreSQL cannot be reached, every request (API, PWA, admin) gets a quick 503
    with Retry-After instead of a 500 or a wait for the pool's timeout, and the process serves again by itself
    once the database is back. Async under daphne, so the refusals never wait for a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._call_async(request)
        if not OUTAGE.admit():
            return unavailable_response()
        return self._concluded(request, self.get_response(request))

    async def _call_async(self, request):
        if not OUTAGE.admit():
            return unavailable_response()
        return self._concluded(request, await self.get_response(request))

    @staticmethod
    def _concluded(request, response):
        if getattr(request, "database_unavailable", False):
            OUTAGE.failed()
            return unavailable_response()
        return response


class BodySizeLimitMiddleware:
    """Refuses webhook bodies over WEBHOOK_MAX_BODY with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/webhooks/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.WEBHOOK_MAX_BODY:
                return JsonResponse({"detail": "request body too large (limit 1 MiB)"}, status=413)
        return self.get_response(request)


class SyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise 6.x is async-capable; between our sync middleware that made Django hop sync → async → sync
    (thread switches) on every request. Sync-only keeps the whole chain on one thread: one hop per request."""

    async_capable = False
    sync_capable = True


class ContentSecurityPolicyMiddleware:
    """The PWA's Content-Security-Policy on every response of a tenant host that brings none of its own (media
    carries a sandboxing one). Only our own scripts run (no inline script, no eval), the page talks to its own
    host (HTTP and websocket), images may also come from providers over https, and no site may frame it. The
    platform host (Django admin) and the API's Swagger page (scripts from a CDN) keep no such header."""

    EXEMPT = ("/api/docs/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        tenant = getattr(request, "tenant", None)
        if (tenant is None or tenant.schema_name == get_public_schema_name() or "Content-Security-Policy" in response
                or request.path.startswith(self.EXEMPT)):
            return response
        response["Content-Security-Policy"] = pwa_content_security_policy(request)
        return response


def pwa_content_security_policy(request) -> str:
    try:
        host = request.get_host()  # validated by Django: letters, digits, dots, dashes, a port
        sockets = f" ws://{host} wss://{host}"
    except DisallowedHost:
        sockets = ""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; "
            "media-src 'self' blob: https:; font-src 'self' data:; "
            f"connect-src 'self'{sockets}; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


SUSPENDED_TEXT = {
    "ru": ("Аккаунт приостановлен", "Доступ к CRM временно приостановлен владельцем платформы. Сообщения клиентов "
           "не теряются: они будут получены после возобновления. Обратитесь к администратору платформы."),
    "en": ("This account is suspended", "Access to the CRM has been suspended by the platform owner. Your clients' "
           "messages are not lost: they arrive once the account is resumed. "
           "Please contact the platform administrator."),
}
_SUSPENDED_PAGE = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{ru_title} / {en_title}</title>'
    "<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1e293b;"
    "line-height:1.5}}h1{{font-size:1.4rem}}hr{{border:0;border-top:1px solid #e2e8f0;margin:2rem 0}}</style></head>"
    '<body><main><h1>{ru_title}</h1><p>{ru_text}</p><hr><div lang="en"><h1>{en_title}</h1><p>{en_text}</p></div>'
    "</main></body></html>"
)


class TenantSuspendedMiddleware:
    """A suspended tenant's host (or one marked for deletion) answers 503 to everything: a page in Russian and
    English to a browser, `{"detail"}` to the API. Nothing is changed or lost (webhooks get 503 too and are retried
    by the providers)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == "public" or getattr(tenant, "status", "active") == "active":
            return self.get_response(request)
        if request.path.startswith("/api/"):
            ru, en = SUSPENDED_TEXT["ru"][0], SUSPENDED_TEXT["en"][0]
            response = JsonResponse({"detail": f"{ru} / {en}", "suspended": True}, status=503)
        else:
            page = _SUSPENDED_PAGE.format(**{f"{lang}_{part}": escape(text) for lang, (title, body) in
                                             SUSPENDED_TEXT.items() for part, text in (("title", title),
                                                                                        ("text", body))})
            response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = "3600"
        response["Cache-Control"] = "no-store"
        return response


class AdminLanguageMiddleware:
    """The global admin speaks its user's language (ru or en: the `django_language` cookie, else the browser's
    Accept-Language, else LANGUAGE_CODE) — its settings' validation errors among it (issue 16). Only /admin/: the
    PWA and the API keep their own language handling. The language is dropped after the response, since a worker
    thread serves the next request with whatever was active."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/admin/"):
            return self.get_response(request)
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        try:
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
            return response
        finally:
            translation.deactivate()
