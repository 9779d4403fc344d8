from django.conf import settings
from django.http import JsonResponse
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
