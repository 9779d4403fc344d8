import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from buildcrm.asgi import application
from tests.conftest import host_of, user_of

pytestmark = pytest.mark.live


async def _connect(host: str, *, token: str | None = None, cookie: str | None = None, origin: str | None = None):
    headers = [(b"host", host.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    path = f"/ws/?token={token}" if token else "/ws/"
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    if not connected:  # the refused consumer ends inside the test, not at the loop's teardown
        await communicator.disconnect(timeout=5)
    return communicator, connected


def _token(tenant, role):
    from asgiref.sync import sync_to_async  # noqa: F401
    from django_tenants.utils import tenant_context
    from rest_framework.authtoken.models import Token

    with tenant_context(tenant):
        return Token.objects.get_or_create(user=user_of(tenant, role))[0].key


@pytest.fixture
def two_live_tenants(live_tenant, django_db_blocker):
    from tests.conftest import _provision

    with django_db_blocker.unblock():
        other = _provision(live_tenant.slug + "b")
    return live_tenant, other


@pytest.mark.asyncio
async def test_websocket_refused_without_login(live_tenant):
    communicator, connected = await _connect(host_of(live_tenant))
    assert not connected


@pytest.mark.asyncio
async def test_websocket_accepts_a_user_of_the_tenant_with_token(live_tenant):
    from asgiref.sync import sync_to_async

    token = await sync_to_async(_token)(live_tenant, "manager")
    communicator, connected = await _connect(host_of(live_tenant), token=token)
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello" and hello["tenant"] == live_tenant.slug
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_websocket_token_of_another_tenant_is_refused(two_live_tenants):
    from asgiref.sync import sync_to_async

    a, b = two_live_tenants
    token_a = await sync_to_async(_token)(a, "owner")
    communicator, connected = await _connect(host_of(b), token=token_a)
    assert not connected


def _session_cookie(tenant) -> str:
    from tests.conftest import PASSWORD

    client = Client(HTTP_HOST=host_of(tenant), enforce_csrf_checks=True)
    client.get("/api/auth/csrf/")
    res = client.post("/api/auth/login/", json.dumps({"email": f"head@{tenant.slug}.test", "password": PASSWORD}),
                      content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert res.status_code == 200, res.content
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.asyncio
async def test_websocket_with_session_cookie(live_tenant):
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(_session_cookie)(live_tenant)
    communicator, connected = await _connect(host_of(live_tenant), cookie=cookie,
                                             origin=f"http://{host_of(live_tenant)}:8000")
    assert connected
    await communicator.disconnect()
    other = await _connect("nobody.localhost", cookie=cookie, origin="http://nobody.localhost")
    assert not other[1]


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", ["http://evil.example", None, "null", "http://{host}.evil.example",
                                    "http://evil.example/{host}", "not a url", "http://{other}"])
async def test_cookie_websocket_from_a_foreign_origin_is_refused(two_live_tenants, origin):
    """Cross-site websocket hijacking: the browser attaches the session cookie to a handshake from any page."""
    from asgiref.sync import sync_to_async

    a, b = two_live_tenants
    cookie = await sync_to_async(_session_cookie)(a)
    if origin:
        origin = origin.format(host=host_of(a), other=host_of(b))
    communicator, connected = await _connect(host_of(a), cookie=cookie, origin=origin)
    assert not connected


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", [None, "http://evil.example"])
async def test_token_websocket_does_not_depend_on_origin(live_tenant, origin):
    """A token is not ambient authority (a page must already hold it): API clients connect without an Origin,
    and a page elsewhere that was given a token may use it; a bad token with a good cookie still gets nothing."""
    from asgiref.sync import sync_to_async

    token = await sync_to_async(_token)(live_tenant, "manager")
    communicator, connected = await _connect(host_of(live_tenant), token=token, origin=origin)
    assert connected
    await communicator.disconnect()
    cookie = await sync_to_async(_session_cookie)(live_tenant)
    _, connected = await _connect(host_of(live_tenant), token="bad", cookie=cookie, origin=origin)
    assert not connected


def test_healthz_reports_database_redis_and_workers(worker, live_tenant):
    res = Client(HTTP_HOST="localhost").get("/healthz")
    body = res.json()
    assert res.status_code == 200
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["worker"]["ok"], body
