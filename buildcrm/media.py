"""GET /media/<path> on a tenant host: only that tenant's folder (MEDIA_ROOT/<schema>/), images inline, every
other file as an attachment, never sniffed: a client's "photo" that is really a page can never render as ours."""
import posixpath

from django.conf import settings
from django.db import connection
from django.http import Http404
from django.views.static import serve

INLINE_EXTENSIONS = {"jpg", "jpeg", "png", "gif", "webp"}


def serve_tenant_media(request, path: str):
    path = posixpath.normpath(path).lstrip("/")  # as serve() reads it: "beta/../alpha/x" is alpha's
    if not path.startswith(f"{connection.schema_name}/") or "\x00" in path:
        raise Http404("no such file")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["X-Content-Type-Options"] = "nosniff"
    if path.rsplit(".", 1)[-1].lower() not in INLINE_EXTENSIONS:
        response["Content-Disposition"] = "attachment"
    return response
