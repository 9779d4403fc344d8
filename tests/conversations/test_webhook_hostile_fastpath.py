"""Hostile bodies through the real webhook URL as daphne serves it (the ASGI fast path), with committed data
and a real Celery worker draining: each is a 400, and the next good message of the same tenant and of another
tenant is processed by the worker. A reaction reaches the CRM as `message.updated` of the message it is on."""
from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django_tenants.utils import tenant_context

from conversations.models import Direction, Message, MessageStatus
from tests.conversations.test_realtime import events_until, fresh_channel_layer, socket  # noqa: F401
from tests.conversations.test_webhook_fastpath import (
    APP_SECRET,
    chatflow,
    client,
    configure,
    counts,
    path_of,
    signed,
    until,
)

pytestmark = pytest.mark.live

DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def hostile_bodies() -> list[tuple[str, bytes]]:
    poison = chatflow("POISON-40", phone="1" * 40)
    nul_id = chatflow("NUL\x00ID")
    cloud_wrong = {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": 5}]}
    return [("chatflow", DEEP), ("chatflow", json.dumps(poison).encode()), ("chatflow", json.dumps(nul_id).encode()),
            ("chatflow", json.dumps(chatflow("x" * 10_000)).encode()), ("whatsapp", DEEP),
            ("whatsapp", json.dumps(cloud_wrong).encode())]


@sync_to_async
def other_tenant():
    from tests.conftest import _provision

    connection.set_schema_to_public()
    return _provision(f"hostb{uuid.uuid4().hex[:6]}")


@pytest.mark.asyncio
async def test_hostile_bodies_are_400_and_the_next_good_messages_are_processed(live_tenant, worker):
    other = await other_tenant()
    await configure(live_tenant)
    await configure(other)
    async with client() as web:
        for provider, body in hostile_bodies():
            headers = signed(body) if provider == "whatsapp" else {}
            res = await web.post(await path_of(live_tenant, provider), content=body, headers=headers)
            assert res.status_code == 400, (provider, res.text[:200])
            assert res.json()["detail"]
        assert await counts(live_tenant) == {"messages": 0, "leads": 0, "events": 0, "pending": 0}
        for tenant, message_id, phone in ((live_tenant, "GOOD-A", "77017000101"), (other, "GOOD-B", "77017000102")):
            res = await web.post(await path_of(tenant, "chatflow"), json=chatflow(message_id, phone=phone))
            assert res.status_code == 200
    for tenant in (live_tenant, other):
        assert await until(lambda tenant=tenant: _processed(tenant)), tenant.slug
        assert (await counts(tenant))["leads"] == 1


async def _processed(tenant) -> bool:
    got = await counts(tenant)
    return got["messages"] == 1 and got["pending"] == 0 and got["leads"] == 1


@sync_to_async
def our_message(tenant, provider_message_id: str) -> tuple[int, int]:
    from leads.services import lead_for_inbound

    with tenant_context(tenant):
        lead, _ = lead_for_inbound(provider="whatsapp", identity="77017000002", phone="77017000002", name="Ерлан")
        message = Message.objects.create(lead=lead, direction=Direction.OUT, kind="text", text="Цена от 10 млн",
                                         status=MessageStatus.SENT, provider="whatsapp", author_kind="ai",
                                         provider_message_id=provider_message_id)
        return lead.pk, message.pk


@pytest.mark.asyncio
async def test_a_reaction_reaches_the_crm_as_an_update_of_its_message(live_tenant, worker):
    await configure(live_tenant)
    lead_id, message_id = await our_message(live_tenant, "wamid.OURS-1")
    owner = await socket(live_tenant, "owner")
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1099"},
             "contacts": [{"profile": {"name": "Ерлан"}, "wa_id": "77017000002"}],
             "messages": [{"from": "77017000002", "id": "wamid.REACT-1", "timestamp": "1735000100", "type": "reaction",
                           "reaction": {"message_id": "wamid.OURS-1", "emoji": "👍"}}]}
    body = json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "W", "changes": [{"value": value, "field": "messages"}]}]}).encode()
    async with client() as web:
        res = await web.post(await path_of(live_tenant, "whatsapp"), content=body,
                             headers=signed(body, APP_SECRET))
        assert res.status_code == 200
    seen = await events_until(owner, lambda e: e["type"] == "message.updated")
    assert seen[-1]["lead_id"] == lead_id and seen[-1]["message"]["id"] == message_id
    assert seen[-1]["message"]["reaction"]["emoji"] == "👍"
    assert not [e for e in seen if e["type"] == "message.created"]
    assert (await counts(live_tenant))["messages"] == 1
    await owner.disconnect()
