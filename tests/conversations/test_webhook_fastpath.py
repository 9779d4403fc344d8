"""The webhook fast path (buildcrm/asgi_webhooks.py) through the real ASGI application, as daphne serves it:
committed data, a real Celery worker draining stored messages, websocket events. Every bad input gets the
same answer as through Django's view; a tenant host never reaches it; a lost processing kick is recovered
by the sweep; two drainers of one tenant never run at once."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid

import httpx
import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from buildcrm.asgi import application
from conversations.models import InboundEvent, Message
from leads.models import Lead
from tenants.services import tenant_config_import
from tests.conftest import database_url, host_of, webhook_path
from tests.conversations.test_realtime import events_until, fresh_channel_layer, socket  # noqa: F401

pytestmark = pytest.mark.live
APP_SECRET = "fast-app-secret"


def chatflow(message_id: str, phone: str = "77017000001", text: str = "Здравствуйте! Нужен дом") -> dict:
    return {"messageType": "text", "message": text,
            "metadata": {"remoteJid": f"{phone}@s.whatsapp.net", "messageId": message_id, "timestamp": 1735000000,
                         "instanceId": "i", "sender": "Айгерим"}, "mediaData": None}


def wa_body(message_id: str) -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1099"},
             "contacts": [{"profile": {"name": "Ерлан"}, "wa_id": "77017000002"}],
             "messages": [{"from": "77017000002", "id": message_id, "type": "text", "text": {"body": "hi"}}]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "W", "changes": [{"value": value, "field": "messages"}]}]}).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def client(host: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                             base_url=f"http://{host or settings.PUBLIC_DOMAIN}")


@sync_to_async
def configure(tenant) -> None:
    tenant_config_import(tenant, {"ai": {"enabled": False}, "channels": {
        "chatflow": {"api_url": "http://127.0.0.1:9/api/v1", "token": "t", "instance_id": "i"},
        "whatsapp_cloud": {"api_url": "http://127.0.0.1:9", "phone_number_id": "1099", "access_token": "a",
                           "app_secret": APP_SECRET, "verify_token": "verify-me"}}})


path_of = sync_to_async(webhook_path)


@sync_to_async
def counts(tenant) -> dict:
    with tenant_context(tenant):
        return {"messages": Message.objects.count(), "leads": Lead.objects.count(),
                "events": InboundEvent.objects.count(),
                "pending": Message.objects.filter(inbound_pending=True).count()}


async def until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await sync_to_async(time.sleep)(0.05)


@pytest.mark.asyncio
async def test_chatflow_through_the_fast_path_reaches_the_board(live_tenant, worker):
    await configure(live_tenant)
    owner = await socket(live_tenant, "owner")
    url = await path_of(live_tenant, "chatflow")
    async with client() as web:
        res = await web.post(url, json=chatflow("FAST-1"))
        assert res.status_code == 200 and res.json() == {"ok": True}
        assert res.headers["content-type"] == "application/json"
        # the same id again, in the wrapped form: still one message
        assert (await web.post(url, json={"body": chatflow("FAST-1", text="другое")})).status_code == 200
    seen = await events_until(owner, lambda e: e["type"] == "message.created" and e["message"]["text"]
                              == "Здравствуйте! Нужен дом")
    created = [e for e in seen if e["type"] == "lead.created"]
    assert created and created[0]["lead"]["phone"] == "77017000001" and created[0]["lead"]["name"] == "Айгерим"
    assert created[0]["lead"]["id"] == seen[-1]["lead_id"]
    assert await until(lambda: _no_pending(live_tenant))
    assert await counts(live_tenant) == {"messages": 1, "leads": 1, "events": 1, "pending": 0}
    # the client writes again: stored straight into the known lead, worker does the rest
    async with client() as web:
        assert (await web.post(url, json=chatflow("FAST-2", text="Алло?"))).status_code == 200
    seen = await events_until(owner, lambda e: e["type"] == "message.created" and e["message"]["text"] == "Алло?")
    assert not [e for e in seen if e["type"] == "lead.created"]
    await owner.disconnect()


async def _no_pending(tenant) -> bool:
    return (await counts(tenant))["pending"] == 0


@pytest.mark.asyncio
async def test_bad_input_through_the_fast_path(live_tenant, live_db):
    await configure(live_tenant)
    chatflow_url, whatsapp_url = await path_of(live_tenant, "chatflow"), await path_of(live_tenant, "whatsapp")
    async with client() as web:
        assert (await web.post("/webhooks/chatflow/no-such-key/", json=chatflow("X"))).status_code == 404
        assert (await web.post(chatflow_url.replace("/chatflow/", "/viber/"), json=chatflow("X"))).status_code == 404
        res = await web.post(chatflow_url, content=b"{not json")
        assert res.status_code == 400 and "JSON" in res.json()["detail"]
        res = await web.post(chatflow_url, json={"metadata": {"remoteJid": "7701@s.whatsapp.net"}})
        assert res.status_code == 400 and "messageId" in res.json()["detail"]
        res = await web.post(chatflow_url, content=b"x" * (1024 * 1024 + 1))
        assert res.status_code == 413
        assert (await web.get(chatflow_url)).status_code == 405
        body = wa_body("wamid.FAST")
        assert (await web.post(whatsapp_url, content=body, headers=signed(body, "wrong"))
                ).status_code == 403
        assert (await web.post(whatsapp_url, content=body)).status_code == 403
        res = await web.get(whatsapp_url, params={"hub.mode": "subscribe",
                                                                  "hub.verify_token": "verify-me",
                                                                  "hub.challenge": "12345"})
        assert res.status_code == 200 and res.text == "12345"
        assert (await web.post(whatsapp_url, content=body, headers=signed(body))).status_code == 200
    assert await counts(live_tenant) == {"messages": 1, "leads": 0, "events": 1, "pending": 1}


@pytest.mark.asyncio
async def test_a_key_of_one_tenant_never_touches_another(live_tenant, live_db):
    from tests.conftest import _provision

    def provision_other():
        connection.set_schema_to_public()
        return _provision(f"fastb{uuid.uuid4().hex[:6]}")

    other = await sync_to_async(provision_other)()
    await configure(live_tenant)
    await configure(other)
    before = await counts(other)
    async with client() as web:
        assert (await web.post(await path_of(live_tenant, "chatflow"),
                               json=chatflow("ISO-FAST"))).status_code == 200
        body = wa_body("wamid.ISO-FAST")
        # the other tenant's secret is worthless on this tenant's key
        assert (await web.post(await path_of(live_tenant, "whatsapp"), content=body,
                               headers=signed(body, "another"))).status_code == 403
    assert await counts(other) == before
    assert (await counts(live_tenant))["messages"] == 1
    # a tenant's own host has no webhooks: Django answers 404 there, nothing is stored
    async with client(host_of(live_tenant)) as web:
        res = await web.post(await path_of(live_tenant, "chatflow"), json=chatflow("HOST-1"))
        assert res.status_code == 404
    assert (await counts(live_tenant))["messages"] == 1


@pytest.mark.asyncio
async def test_a_lost_kick_is_recovered_by_the_sweep(live_tenant, worker):
    """Redis lost the kick (or the broker the task): the stored message waits only for the periodic sweep."""
    from conversations.services import _kick_key
    from core.redis_client import redis_client
    from tenants.tasks import dispatch_to_tenants

    await configure(live_tenant)
    # a kick that stands but whose task never runs: the webhook queues nothing
    await sync_to_async(redis_client().set)(_kick_key(live_tenant.schema_name), "1", ex=600)
    async with client() as web:
        assert (await web.post(await path_of(live_tenant, "chatflow"),
                               json=chatflow("LOST-1"))).status_code == 200
    assert (await counts(live_tenant))["pending"] == 1
    await sync_to_async(dispatch_to_tenants.delay)("conversations.process_inbound")
    assert await until(lambda: _no_pending(live_tenant))
    assert (await counts(live_tenant))["leads"] == 1


def test_one_drainer_per_tenant(live_tenant, live_db):
    """While another process drains the tenant (holds its advisory lock), a second drainer stands back."""
    from conversations.services import _kick_key, inbound_process_pending, inbound_receive
    from core.redis_client import redis_client
    from integrations import sandbox

    item = sandbox.inbound("77017000009", "Тест", "Здравствуйте")
    # a kick standing: no worker (of this test session) drains the tenant behind the test's back
    redis_client().set(_kick_key(live_tenant.schema_name), "1", ex=600)
    with tenant_context(live_tenant):
        inbound_receive(provider="sandbox", items=[item], raw={"text": "x"}, event_id=item.provider_message_id)
    holding, release = threading.Event(), threading.Event()

    def other_drainer() -> None:
        with psycopg.connect(database_url(), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"inbound:{live_tenant.schema_name}"])
            holding.set()
            release.wait(10)
            # explicitly: a closed connection's backend lets go of its locks only when it has exited
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"inbound:{live_tenant.schema_name}"])

    thread = threading.Thread(target=other_drainer)
    thread.start()
    assert holding.wait(10)
    with tenant_context(live_tenant):
        assert inbound_process_pending() is None
        assert Message.objects.get(provider_message_id=item.provider_message_id).inbound_pending
    release.set()
    thread.join()
    with tenant_context(live_tenant):
        assert inbound_process_pending() == 1
        message = Message.objects.get(provider_message_id=item.provider_message_id)
        assert not message.inbound_pending and message.lead.phone == "77017000009"

