"""ASGI entry point: HTTP through Django (django-tenants middleware), websockets through Channels."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from buildcrm.ws_auth import TenantAuthMiddleware  # noqa: E402
from conversations.consumers import LiveConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TenantAuthMiddleware(URLRouter([path("ws/", LiveConsumer.as_asgi())])),
    }
)
