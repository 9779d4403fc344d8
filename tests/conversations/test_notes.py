"""Internal notes on a lead (issue 16): written by whoever sees the lead, shown to them only, never sent to the
client (the provider stand-in gets no request for a note), never a message the AI reads."""
from __future__ import annotations

import time

import pytest
from django_tenants.utils import tenant_context

from conversations.models import Message, MessageStatus
from tenants.services import tenant_config_import
from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all

WA_OK = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.NOTE-CONTROL"}]}


def notes_url(lead) -> str:
    return f"/api/leads/{lead.pk}/notes/"


def test_a_note_is_stored_with_its_author_and_listed(tenant_a, client_for):
    lead = make_lead(tenant_a, name="Заметочный", phone="77015550101")
    client = client_for(tenant_a, "head")
    res = client.post(notes_url(lead), {"text": "  Клиент просил звонить после 18:00  "}, format="json")
    assert res.status_code == 201, res.content
    note = res.json()
    assert note["text"] == "Клиент просил звонить после 18:00" and note["lead"] == lead.pk
    assert note["author"]["id"] == user_of(tenant_a, "head").pk
    client.post(notes_url(lead), {"text": "Вторая"}, format="json")
    listed = client_for(tenant_a, "owner").get(notes_url(lead)).json()
    assert [n["text"] for n in listed] == ["Клиент просил звонить после 18:00", "Вторая"]
    with tenant_context(tenant_a):
        assert not Message.objects.filter(lead_id=lead.pk).exists()  # a note is no message
        lead.refresh_from_db()
        assert lead.handler_id is None and lead.ai_enabled  # and no takeover: the AI keeps the dialog


def test_managers_see_and_write_notes_only_on_their_own_leads(tenant_a, client_for):
    set_managers_see_all(tenant_a, False)
    mine = make_lead(tenant_a, name="Мой", assignee=user_of(tenant_a, "manager"))
    theirs = make_lead(tenant_a, name="Чужой", assignee=user_of(tenant_a, "manager2"))
    client_for(tenant_a, "owner").post(notes_url(theirs), {"text": "секрет"}, format="json")
    manager = client_for(tenant_a, "manager")
    assert manager.post(notes_url(mine), {"text": "моя"}, format="json").status_code == 201
    assert manager.get(notes_url(theirs)).status_code == 404
    assert manager.post(notes_url(theirs), {"text": "влезу"}, format="json").status_code == 404
    assert [n["text"] for n in client_for(tenant_a, "owner").get(notes_url(theirs)).json()] == ["секрет"]


def test_another_tenant_and_anonymous_cannot_reach_notes(tenant_a, tenant_b, client_for):
    lead = make_lead(tenant_a, name="Альфа")
    client_for(tenant_a, "owner").post(notes_url(lead), {"text": "альфа"}, format="json")
    other = client_for(tenant_b, "owner")
    assert other.get(notes_url(lead)).status_code == 404
    assert other.post(notes_url(lead), {"text": "бета"}, format="json").status_code == 404
    assert client_for(tenant_a).get(notes_url(lead)).status_code == 401
    assert [n["text"] for n in client_for(tenant_a, "owner").get(notes_url(lead)).json()] == ["альфа"]


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {}, {"text": "x" * 4097}, {"text": {"a": 1}}])
def test_bad_note_is_400(tenant_a, client_for, body):
    lead = make_lead(tenant_a, name="Плохая")
    res = client_for(tenant_a, "owner").post(notes_url(lead), body, format="json")
    assert res.status_code == 400 and res.json()["detail"].startswith("text")


def test_a_note_never_reaches_the_provider(worker, live_tenant, standin, client_for):
    """With the WhatsApp Cloud API stood in and a worker running, a note makes no request; a message sent right
    after it goes out alone (so the pipeline did run while the note was being added)."""
    from django.utils import timezone

    from leads.services import lead_for_inbound

    tenant_config_import(live_tenant, {"channels": {"whatsapp_cloud": {
        "api_url": standin.url + "/v21.0", "phone_number_id": "1099", "access_token": "EAAG-tok",
        "app_secret": "s", "verify_token": "v"}}})
    standin.default.json = WA_OK
    with tenant_context(live_tenant):
        lead, _ = lead_for_inbound(provider="whatsapp", identity="77011112233", phone="77011112233", name="Ерлан")
        type(lead).objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now())
    client = client_for(live_tenant, "owner")
    assert client.post(notes_url(lead), {"text": "Внутреннее: не говорить про скидку"},
                       format="json").status_code == 201
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Добрый день!"}, format="json")
    assert res.status_code == 201, res.content
    deadline = time.monotonic() + 30
    with tenant_context(live_tenant):
        while Message.objects.get(pk=res.json()["id"]).status == MessageStatus.QUEUED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Message.objects.get(pk=res.json()["id"]).status == MessageStatus.SENT
        assert list(Message.objects.filter(lead_id=lead.pk).values_list("text", flat=True)) == ["Добрый день!"]
    time.sleep(0.5)  # a stray send of the note would have arrived by now
    assert [r.json["text"]["body"] for r in standin.requests] == ["Добрый день!"]
    assert all("не говорить" not in r.body.decode() for r in standin.requests)


@pytest.mark.live
@pytest.mark.asyncio
async def test_a_note_reaches_live_only_those_who_see_the_lead(live_tenant, worker):
    """The team sees a new note at once (websocket `note.created`); a restricted manager gets only their own leads'
    notes (the note on their lead comes after the other one: Redis keeps a channel's order)."""
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers

    from tests.conftest import TenantClient
    from tests.conversations.test_realtime import events_until, socket

    channel_layers.backends.pop("default", None)  # a layer cached by another test's event loop is unusable here
    await sync_to_async(tenant_config_import)(live_tenant, {"leads": {"managers_see_all": False}})
    theirs = await sync_to_async(make_lead)(live_tenant, name="Чужой", assignee=await sync_to_async(user_of)(
        live_tenant, "manager2"))
    mine = await sync_to_async(make_lead)(live_tenant, name="Свой", assignee=await sync_to_async(user_of)(
        live_tenant, "manager"))
    owner, manager = await socket(live_tenant, "owner"), await socket(live_tenant, "manager")

    @sync_to_async
    def note(lead, text: str) -> None:
        res = TenantClient(live_tenant).as_role("head").post(notes_url(lead), {"text": text}, format="json")
        assert res.status_code == 201, res.content

    await note(theirs, "про чужого")
    await note(mine, "про своего")
    seen = await events_until(owner, lambda e: e["type"] == "note.created" and e["lead_id"] == mine.pk)
    assert [(e["lead_id"], e["note"]["text"]) for e in seen if e["type"] == "note.created"] == [
        (theirs.pk, "про чужого"), (mine.pk, "про своего")]
    got = await events_until(manager, lambda e: e["type"] == "note.created")
    assert got[-1]["lead_id"] == mine.pk and got[-1]["note"]["text"] == "про своего"
    assert got[-1]["note"]["author"]["full_name"] == f"Head {live_tenant.slug}"
    await owner.disconnect()
    await manager.disconnect()
    channel_layers.backends.pop("default", None)
