"""The baseline for bench/ingest.py: a bare Django view that only returns 200, through Django's ASGI
handler, served by daphne exactly like the real app (`daphne -b 127.0.0.1 -p PORT bench.bare_asgi:application`).
Sync view (like the webhook view), no middleware, no database."""
import django
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="bench-bare", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[],
    INSTALLED_APPS=[], USE_TZ=True, DATA_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024,
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import re_path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


@csrf_exempt
def ok(request):
    request.body  # noqa: B018  (read the body, as the webhook does)
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [re_path(r"", ok)]
application = get_asgi_application()
