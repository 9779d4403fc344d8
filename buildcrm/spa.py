"""Serves the built PWA's index.html for client-side routes of the tenant host."""
import re

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import ensure_csrf_cookie

_FALLBACK = """<!doctype html><html lang="ru"><meta charset="utf-8"><title>BuildCRM</title>
<body><p>Интерфейс ещё не собран: выполните <code>make setup</code>.</p></body></html>"""
# The app's own routes have no file extension; a missing file (/apple-touch-icon.png, /robots.txt) is a 404, never
# the app's page — which would also hand the browser a new CSRF cookie racing the one a login just read.
_FILE = re.compile(r"\.[A-Za-z0-9]{1,12}$")


def index(request, path: str = "") -> HttpResponse:
    if _FILE.search(path):
        return HttpResponseNotFound("not found", content_type="text/plain; charset=utf-8")
    return _page(request)


@ensure_csrf_cookie
def _page(request) -> HttpResponse:
    page = settings.FRONTEND_DIST / "index.html"
    body = page.read_text() if page.exists() else _FALLBACK
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
