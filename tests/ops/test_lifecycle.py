"""Tenant lifecycle: suspend (webhooks 503 so providers retry, a clear page in Russian and English, the API and
sockets refused, beat skips it, nothing lost) and resume; deletion after a grace period (schema and media
dropped, public rows gone) — from the global admin and the CLI; other tenants never touched."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from conversations.models import InboundEvent, Message
from tenants.models import Domain, Tenant, WebhookToken
from tenants.services import tenant_config_import, tenant_delete_mark, tenant_suspend, tenants_purge_due
from tenants.tasks import dispatch_to_tenants
from tests.conftest import host_of, webhook_path

CHATFLOW = {"api_url": "https://chatflow.example/api/v1", "token": "cf-token", "instance_id": "inst-1"}


def chatflow(message_id: str) -> bytes:
    return json.dumps(
        {
            "messageType": "text",
            "message": "Здравствуйте",
            "metadata": {"remoteJid": "77011112233@s.whatsapp.net", "messageId": message_id, "timestamp": 1735000000},
        }
    ).encode()


@pytest.fixture
def admin_client(db):
    User.objects.create_superuser("root@platform.kz", "Root-pass-2026")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="root@platform.kz", password="Root-pass-2026")
    return client


def admin_action(admin_client, action: str, *tenants) -> None:
    response = admin_client.post(
        "/admin/tenants/tenant/", {"action": action, "_selected_action": [t.pk for t in tenants]}
    )
    assert response.status_code == 302, response.content[:500]


def messages_of(tenant) -> int:
    with tenant_context(tenant):
        return Message.objects.count()


@pytest.mark.django_db
def test_suspend_from_admin_then_resume_from_cli_loses_nothing(admin_client, tenant_a, tenant_b, client_for):
    for tenant in (tenant_a, tenant_b):
        tenant_config_import(tenant, {"channels": {"chatflow": CHATFLOW}})
    web = Client(HTTP_HOST="localhost")
    admin_action(admin_client, "suspend_tenants", tenant_a)
    tenant_a.refresh_from_db()
    assert tenant_a.status == "suspended" and tenant_a.suspended_at

    # The provider's delivery is refused with 503 (it keeps the event and retries), nothing stored.
    message_id = uuid.uuid4().hex
    response = web.post(webhook_path(tenant_a, "chatflow"), chatflow(message_id), content_type="application/json")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert messages_of(tenant_a) == 0
    with tenant_context(tenant_a):
        assert not InboundEvent.objects.exists()
    # Another tenant goes on.
    other = web.post(webhook_path(tenant_b, "chatflow"), chatflow(uuid.uuid4().hex), content_type="application/json")
    assert other.status_code == 200 and messages_of(tenant_b) == 1

    # Users: a clear page in both languages, the API a JSON 503; the other tenant's CRM works.
    page = Client(HTTP_HOST=host_of(tenant_a)).get("/")
    text = page.content.decode()
    assert page.status_code == 503 and "Аккаунт приостановлен" in text and "This account is suspended" in text
    assert "<script" not in text
    api = client_for(tenant_a, "owner").get("/api/leads/")
    assert api.status_code == 503 and "suspended" in api.json()["detail"]
    assert client_for(tenant_b, "owner").get("/api/leads/").status_code == 200
    # Beat fans periodic work out to active tenants only.
    assert (
        dispatch_to_tenants.run("conversations.requeue_stale")
        == Tenant.objects.filter(status="active", is_template=False).exclude(schema_name="public").count()
    )

    out = StringIO()
    call_command("tenant_resume", tenant_a.slug, stdout=out)
    assert "active" in out.getvalue()
    # The provider's retry is stored now, once.
    for _ in range(2):
        response = web.post(webhook_path(tenant_a, "chatflow"), chatflow(message_id), content_type="application/json")
        assert response.status_code == 200
    assert messages_of(tenant_a) == 1
    assert Client(HTTP_HOST=host_of(tenant_a)).get("/api/auth/csrf/").status_code != 503


@pytest.mark.django_db
def test_only_superusers_run_the_actions(tenant_a):
    User.objects.create_user("staff@platform.kz", "Staff-pass-2026", is_staff=True)
    client = Client(HTTP_HOST="localhost")
    client.login(email="staff@platform.kz", password="Staff-pass-2026")
    client.post("/admin/tenants/tenant/", {"action": "suspend_tenants", "_selected_action": [tenant_a.pk]})
    tenant_a.refresh_from_db()
    assert tenant_a.status == "active"


@pytest.mark.asyncio
async def test_suspended_tenant_refuses_sockets(live_tenant):
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers
    from channels.testing import WebsocketCommunicator
    from rest_framework.authtoken.models import Token

    from buildcrm.asgi import application
    from tests.conftest import user_of

    def suspend() -> str:
        with tenant_context(live_tenant):
            key = Token.objects.get_or_create(user=user_of(live_tenant, "owner"))[0].key
        tenant_suspend(tenant=live_tenant)
        return key

    channel_layers.backends.pop("default", None)
    token = await sync_to_async(suspend)()
    communicator = WebsocketCommunicator(
        application, f"/ws/?token={token}", headers=[(b"host", host_of(live_tenant).encode())]
    )
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4401
    await communicator.disconnect()
    channel_layers.backends.pop("default", None)


@pytest.mark.asyncio
async def test_suspending_closes_the_tenants_open_sockets_and_only_those(live_tenant):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from rest_framework.authtoken.models import Token

    from buildcrm.asgi import application
    from tests.conftest import user_of

    def token_of(tenant, role) -> str:
        with tenant_context(tenant):
            return Token.objects.get_or_create(user=user_of(tenant, role))[0].key

    async def open_socket(tenant, role) -> WebsocketCommunicator:
        token = await sync_to_async(token_of)(tenant, role)
        communicator = WebsocketCommunicator(application, f"/ws/?token={token}",
                                             headers=[(b"host", host_of(tenant).encode())])
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        return communicator

    beta = await sync_to_async(Tenant.objects.get)(slug="beta")
    owner, manager, other = (await open_socket(live_tenant, "owner"), await open_socket(live_tenant, "manager"),
                             await open_socket(beta, "owner"))
    await sync_to_async(tenant_suspend)(tenant=live_tenant)
    for communicator in (owner, manager):
        closed = await communicator.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4403}
    assert await other.receive_nothing(timeout=0.5)  # another tenant's board stays open
    await other.send_json_to({"type": "ping"})
    assert (await other.receive_json_from(timeout=5))["type"] == "pong"
    for communicator in (owner, manager, other):
        await communicator.disconnect()


def test_delete_after_grace_period(live_tenant, admin_client):
    slug, schema = live_tenant.slug, live_tenant.schema_name
    media = Path(settings.MEDIA_ROOT) / schema
    media.mkdir(parents=True, exist_ok=True)
    (media / "photo.jpg").write_bytes(b"x")
    admin_action(admin_client, "delete_tenants", live_tenant)
    live_tenant.refresh_from_db()
    assert live_tenant.status == "deleting"
    grace = live_tenant.delete_after - timezone.now()
    assert (
        timedelta(days=settings.TENANT_DELETE_GRACE_DAYS - 1)
        < grace
        <= timedelta(days=settings.TENANT_DELETE_GRACE_DAYS)
    )
    # Within the grace period: suspended, kept; webhooks answer 503.
    assert slug not in tenants_purge_due()
    assert schema_exists(schema) and media.exists()
    response = Client(HTTP_HOST="localhost").post(
        webhook_path(live_tenant, "chatflow"), b"{}", content_type="application/json"
    )
    assert response.status_code == 503
    # Once the grace period is over, beat's task drops it.
    assert slug in tenants_purge_due(now=live_tenant.delete_after + timedelta(seconds=1))
    assert not schema_exists(schema) and not media.exists()
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain=host_of(live_tenant)).exists()
    assert not WebhookToken.objects.filter(tenant_id=live_tenant.pk).exists()


def test_delete_from_cli_with_cancel_and_purge(live_tenant):
    out = StringIO()
    call_command("tenant_delete", live_tenant.slug, "--grace-days", "0", stdout=out)
    assert "suspended" in out.getvalue()
    call_command("tenant_delete", live_tenant.slug, "--cancel", stdout=out)
    live_tenant.refresh_from_db()
    assert live_tenant.status == "active" and live_tenant.delete_after is None
    assert live_tenant.slug not in tenants_purge_due()
    tenant_delete_mark(tenant=live_tenant, grace_days=0)
    call_command("tenant_delete", "--purge", stdout=out)
    assert f"tenant {live_tenant.slug}: deleted" in out.getvalue()
    assert not schema_exists(live_tenant.schema_name)
    with pytest.raises(CommandError, match="no tenant"):
        call_command("tenant_suspend", "public")
    with pytest.raises(CommandError, match="no tenant"):
        call_command("tenant_delete", "nobody-here")


def test_tasks_of_a_suspended_tenant_are_deferred_until_resume(live_tenant):
    from conversations.tasks import process_inbound
    from leads.models import Lead, Stage
    from tenants.services import tenant_resume

    with tenant_context(live_tenant):
        lead = Lead.objects.create(name="S", phone="+77010000009", stage=Stage.objects.first())
        pending = Message.objects.create(
            lead=lead, direction="in", text="привет", provider="sandbox", inbound_pending=True
        )
    tenant_suspend(tenant=live_tenant)
    with tenant_context(live_tenant):  # the task runs as a worker runs it: the schema from its headers
        assert process_inbound.apply().get() is None
        assert Message.objects.get(pk=pending.pk).inbound_pending  # left for after the resume
    tenant_resume(tenant=live_tenant)
    with tenant_context(live_tenant):
        assert process_inbound.apply().get() == 1
        assert not Message.objects.get(pk=pending.pk).inbound_pending
