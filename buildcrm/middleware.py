from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django_tenants.utils import get_public_schema_name
from whitenoise.middleware import WhiteNoiseMiddleware


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
