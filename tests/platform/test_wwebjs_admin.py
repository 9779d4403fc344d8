"""The global admin's WhatsApp Web block on a tenant's page: the session state and pairing QR read live from a
stand-in bridge through a superuser-only endpoint, Start and Log out posted to the bridge, signed."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.test import Client

from accounts.models import User
from integrations import wwebjs
from tenants.models import WebhookToken
from tenants.services import tenant_config_import
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)
from tests.platform import test_admin

pytestmark = pytest.mark.django_db
admin_client = test_admin.admin_client  # a logged-in platform superuser
QR = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="


def configure(tenant, url: str) -> str:
    secret = wwebjs.tenant_secret("platform-bridge-secret", tenant.slug)
    tenant_config_import(
        tenant, {"channels": {"wwebjs": {"bridge_url": url, "session": tenant.slug, "secret": secret}}}
    )
    return secret


def signature_ok(request, secret: str) -> bool:
    text = f"{request.headers['x-bridge-timestamp']}.{request.method} {request.path}.".encode() + request.body
    return request.headers["x-bridge-signature"] == hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def test_the_page_shows_the_live_qr_block(admin_client, tenant_a):  # noqa: F811
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert f'data-state-url="/admin/tenants/tenant/{tenant_a.pk}/wwebjs/state/"' in page
    assert 'id="wwebjs-qr"' in page and "setTimeout(poll" in page
    assert f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/logout/" in page
    assert admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/state/").json() == {
        "state": "not_configured",
        "qr": None,
    }


def test_state_start_and_logout_go_to_the_bridge_signed(admin_client, tenant_a, standin: StandIn):  # noqa: F811
    secret = configure(tenant_a, standin.url)
    standin.reply(json={"state": "pairing", "qr": QR})
    state = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/state/")
    assert state.json() == {"state": "pairing", "qr": QR} and "no-store" in state["Cache-Control"]
    assert (standin.last.method, standin.last.path) == ("GET", f"/sessions/{tenant_a.slug}/state")
    assert signature_ok(standin.last, secret)

    standin.reply(json={"state": "pairing", "qr": None})
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/start/")
    assert res.status_code == 302
    token = WebhookToken.objects.get(tenant=tenant_a, provider="wwebjs").token
    assert (standin.last.path, standin.last.json) == (f"/sessions/{tenant_a.slug}/start", {"token": token})
    assert signature_ok(standin.last, secret)

    standin.reply(json={"state": "logged_out", "qr": None})
    assert admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/logout/").status_code == 302
    assert standin.last.path == f"/sessions/{tenant_a.slug}/logout" and signature_ok(standin.last, secret)
    assert admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/logout/").status_code == 405


def test_an_unreachable_bridge_is_said_so(admin_client, tenant_a):  # noqa: F811
    configure(tenant_a, "http://127.0.0.1:9")
    assert admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/state/").json()["state"] == "unreachable"
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/start/", follow=True)
    assert "bridge unreachable" in res.content.decode()


def test_only_a_platform_superuser_reaches_it(tenant_a, standin: StandIn):  # noqa: F811
    configure(tenant_a, standin.url)
    User.objects.create_user("staff@platform.kz", "Staff-pass-2026", is_staff=True)
    anonymous, staff = Client(HTTP_HOST="localhost"), Client(HTTP_HOST="localhost")
    staff.login(email="staff@platform.kz", password="Staff-pass-2026")  # staff, not a platform superuser
    for client in (anonymous, staff):
        for method, action in (("get", "state"), ("post", "start"), ("post", "logout")):
            res = getattr(client, method)(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/{action}/")
            assert res.status_code == 302 and "/login/" in res["Location"]
    assert standin.requests == []  # nothing reached the bridge


def test_start_fills_the_section_from_the_platforms_bridge(admin_client, tenant_a, standin: StandIn, settings):  # noqa: F811
    from tenants.selectors import tenant_config_get

    settings.BRIDGE_URL, settings.BRIDGE_SECRET = standin.url, "platform-bridge-secret"
    standin.reply(json={"state": "pairing", "qr": None})
    assert admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/wwebjs/start/").status_code == 302
    tenant_a.refresh_from_db()
    section = tenant_config_get(tenant_a)["channels"]["wwebjs"]
    secret = wwebjs.tenant_secret("platform-bridge-secret", tenant_a.slug)
    assert section == {"bridge_url": standin.url, "session": tenant_a.slug, "secret": secret}
    assert standin.last.path == f"/sessions/{tenant_a.slug}/start" and signature_ok(standin.last, secret)


@pytest.mark.django_db
def test_the_contracts_enabled_switch_configures_the_platforms_bridge(tenant_a, settings):
    """CONTRACT.md's `channels.wwebjs` is `{"enabled": true}`: on the platform's own bridge that is all a tenant
    writes (session and secret filled in), its webhook is then accepted, and `enabled: false` switches it off."""
    from integrations.registry import channel
    from tenants.selectors import tenant_config_get

    settings.BRIDGE_URL, settings.BRIDGE_SECRET = "http://bridge.example:3100", "platform-bridge-secret"
    tenant_config_import(tenant_a, {"channels": {"wwebjs": {"enabled": True}}})
    section = tenant_config_get(tenant_a)["channels"]["wwebjs"]
    assert section == {"enabled": True, "bridge_url": "http://bridge.example:3100", "session": tenant_a.slug,
                       "secret": wwebjs.tenant_secret("platform-bridge-secret", tenant_a.slug)}
    assert channel(wwebjs.PROVIDER).configured(section)
    tenant_config_import(tenant_a, {"channels": {"wwebjs": {"enabled": False}}})
    section = tenant_config_get(tenant_a)["channels"]["wwebjs"]
    assert section["session"] == tenant_a.slug and not channel(wwebjs.PROVIDER).configured(section)
