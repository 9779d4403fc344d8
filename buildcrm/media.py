"""/media/ on a tenant host: stored files served so that none can run script on the tenant's origin.

Each file is served with the Content-Type its extension names (conversations.media.MEDIA_TYPES) — never a
guess — with `nosniff` and a sandboxing Content-Security-Policy. Images are shown inline; every other file,
and files of any extension we never store (kept from before uploads were verified: `x.html`,
`y.svg`), only as an opaque download. A tenant host serves only its own tenant's folder."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db import connection
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.utils._os import safe_join
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from conversations.media import INLINE_EXTENSIONS, media_content_type

MEDIA_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; " \
            "frame-ancestors 'none'"


@require_safe
def media_serve(request, path: str):
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        full = Path(safe_join(str(root), path)).resolve()
    except (SuspiciousFileOperation, ValueError):
        raise Http404("no such file") from None
    relative = full.relative_to(root).parts if full.is_relative_to(root) else ()
    if len(relative) < 2 or relative[0] != connection.tenant.schema_name or not full.is_file():
        raise Http404("no such file")
    stat = full.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), stat.st_mtime):
        return HttpResponseNotModified()
    content_type = media_content_type(full.name)
    response = FileResponse(full.open("rb"), content_type=content_type or "application/octet-stream")
    if content_type is None or full.suffix.lstrip(".").lower() not in INLINE_EXTENSIONS:
        response["Content-Disposition"] = "attachment"
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = "private, max-age=86400"
    return response
