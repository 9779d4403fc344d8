"""Serves the built PWA's index.html for client-side routes of the tenant host."""
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie

_FALLBACK = """<!doctype html><html lang="ru"><meta charset="utf-8"><title>BuildCRM</title>
<body><p>Интерфейс ещё не собран: выполните <code>make setup</code>.</p></body></html>"""


@ensure_csrf_cookie
def index(request, path: str = "") -> HttpResponse:
    page = settings.FRONTEND_DIST / "index.html"
    body = page.read_text() if page.exists() else _FALLBACK
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
