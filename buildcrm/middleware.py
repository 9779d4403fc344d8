from django.conf import settings
from django.http import JsonResponse


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
