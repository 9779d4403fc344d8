"""django-tenants has no websocket support: resolve the tenant from the Host header and authenticate
the user (session cookie, or `?token=` for API clients) inside that tenant's schema.

Cross-site websocket hijacking: a browser sends the session cookie with a handshake started by any page, so a
cookie is honoured only when the handshake's `Origin` names the tenant's own host (browsers always send Origin on
websocket handshakes; a cookie without one is refused too). A `?token=` is not ambient authority — a page must
already hold it — so token sockets are accepted with any Origin or none (API clients, integrations), and when a
token is given the cookie is never consulted."""
from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django_tenants.utils import tenant_context

from core.hosts import hostname, scope_header
from tenants.selectors import tenant_by_host

log = logging.getLogger("buildcrm.ws")


def origin_matches_host(origin: str, host: str) -> bool:
    """Whether a handshake's Origin header names the host it was sent to (ports aside: a TLS proxy may
    rewrite them; the host name is what names the tenant)."""
    try:
        origin_host = urlsplit(origin.strip()).hostname or ""
    except ValueError:
        return False
    return bool(origin_host) and origin_host.rstrip(".") == hostname(host)


@database_sync_to_async
def _resolve(host: str, session_key: str | None, token: str | None):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import constant_time_compare

    tenant = tenant_by_host(host)
    if tenant is None or tenant.schema_name == "public" or not tenant.is_active or tenant.status != "active":
        return None, AnonymousUser()
    with tenant_context(tenant):
        user = None
        if token:
            from rest_framework.authtoken.models import Token

            found = Token.objects.select_related("user").filter(key=token).first()
            user = found.user if found else None
        elif session_key:
            session = SessionStore(session_key=session_key)
            uid, backend_path = session.get(SESSION_KEY), session.get(BACKEND_SESSION_KEY)
            if uid and backend_path in settings.AUTHENTICATION_BACKENDS:
                candidate = load_backend(backend_path).get_user(uid)
                # Same check as django.contrib.auth.get_user: a changed password ends the session.
                if candidate and constant_time_compare(
                    session.get(HASH_SESSION_KEY, ""), candidate.get_session_auth_hash()
                ):
                    user = candidate
        if user is None or not user.is_active or not user.role:
            return tenant, AnonymousUser()
        return tenant, user


class TenantAuthMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        cookies = SimpleCookie(scope_header(scope, b"cookie"))
        session = cookies.get(settings.SESSION_COOKIE_NAME)
        token = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [None])[0]
        host = scope_header(scope, b"host")
        session_key = session.value if session else None
        if session_key and not token and not origin_matches_host(scope_header(scope, b"origin"), host):
            log.info("websocket refused: origin=%r host=%r (cookie login)", scope_header(scope, b"origin")[:200],
                     host[:200])
            session_key = None
        tenant, user = await _resolve(host, session_key, token)
        scope = dict(scope, tenant=tenant, user=user, session_key=None if token else session_key)
        return await self.app(scope, receive, send)
