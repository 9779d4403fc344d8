"""ASGI entry point: webhooks on the platform host through the fast path (buildcrm/asgi_webhooks.py), other
HTTP through Django (django-tenants middleware), websockets through Channels."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from buildcrm.asgi_webhooks import WebhookFastPath  # noqa: E402
from buildcrm.metrics import metrics_port_start  # noqa: E402
from buildcrm.ws_auth import TenantAuthMiddleware  # noqa: E402
from conversations.consumers import LiveConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WebhookFastPath(django_asgi_app),
        "websocket": TenantAuthMiddleware(URLRouter([path("ws/", LiveConsumer.as_asgi())])),
    }
)

# METRICS_PORT set (several replicas): this web process serves its host's samples there for Prometheus to scrape.
metrics_port_start(scrape=True)
