"""Hostile and real-world inbound input through the real webhook view, storage and drain (issue 12): a
hostile body is a 400 and the next good message of the same and of another tenant goes through; NUL and lone
surrogates are stored cleaned; no message stalls the drain (a failing one is set aside, visible in health and
the global admin); a WhatsApp privacy id is answered where it wrote from; nobody's contact card takes over
another's lead; reactions attach to their message and are no client message."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildcrm.webhooks import _event_id
from conversations.models import Direction, InboundEvent, Message, MessageStatus
from conversations.services import INBOUND_MAX_ATTEMPTS, inbound_process_pending, inbound_receive
from followups.models import FollowUp
from leads.models import Lead, LeadIdentity
from leads.services import lead_for_inbound
from tenants.models import TenantHealth
from tenants.selectors import tenant_pending_work
from tenants.services import tenant_config_import
from tests.conversations.test_webhooks import (
    TG_SECRET,
    chatflow_event,
    counts,
    tg_update,
    url,
    wa_envelope,
    wa_sign,
    worker_step,
)
from tests.integrations import test_hostile_input as hostile
from tests.platform.test_admin import admin_client  # noqa: F401  (fixture: a logged-in platform superuser)

pytestmark = pytest.mark.django_db

APP_SECRET = "wa-app-secret"  # as test_webhooks configures tenant_a


@pytest.fixture
def web():
    return Client(HTTP_HOST="localhost")


def configure(tenant, standin_url: str = "https://chatflow.example") -> None:
    tenant_config_import(tenant, {"channels": {
        "chatflow": {"api_url": f"{standin_url}/api/v1", "token": "cf-token", "instance_id": "inst-1"},
        "whatsapp_cloud": {"api_url": "https://graph.example/v21.0", "phone_number_id": "1099", "access_token": "EAAG",
                           "app_secret": APP_SECRET, "verify_token": "v"},
        "telegram": {"api_url": "https://tg.example", "bot_token": "1:abc", "secret_token": TG_SECRET},
    }})


@pytest.fixture
def tenants(tenant_a, tenant_b):
    configure(tenant_a)
    configure(tenant_b)
    return tenant_a, tenant_b


def send(web, provider: str, tenant, body: bytes):
    headers = {}
    if provider == "whatsapp":
        headers = wa_sign(body, APP_SECRET)
    elif provider == "telegram":
        headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": TG_SECRET}
    return web.generic("POST", url(provider, tenant), body, content_type="application/json", **headers)


def js(data) -> bytes:
    return json.dumps(data).encode()


def fixture(name: str) -> dict:
    return hostile.payload(name)


DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def _cf(**metadata) -> bytes:
    event = chatflow_event("HOSTILE-CF")
    event["metadata"].update(metadata)
    return js(event)


def _wa_changes(changes) -> bytes:
    data = wa_envelope([{"from": "77011112233", "id": "wamid.H", "type": "text", "text": {"body": "x"}}])
    data["entry"][0]["changes"] = changes
    return js(data)


def _wa_message(**fields) -> bytes:
    return js(wa_envelope([{"from": "77011112233", "id": "wamid.H", "type": "text", "text": {"body": "x"},
                            **fields}]))


def _tg(**fields) -> bytes:
    update = tg_update(message_id=77)
    update["message"].update(fields)
    return js(update)


HOSTILE = [
    ("chatflow", DEEP),
    ("chatflow", _cf(remoteJid="1" * 40 + "@s.whatsapp.net")),
    ("chatflow", _cf(messageId="abc\x00def")),
    ("chatflow", _cf(messageId="\ud800")),
    ("chatflow", _cf(messageId="x" * 10_000)),
    ("chatflow", js({"messageType": "text", "message": "hi", "metadata": ["77011112233@s.whatsapp.net"]})),
    ("chatflow", b'{"messageType": "text", "metadata": {"remoteJid": "77011112233@s.whatsapp.net", '
                 b'"messageId": "N", "timestamp": NaN}}'),
    ("whatsapp", DEEP),
    ("whatsapp", _wa_changes(5)),
    ("whatsapp", js({"object": "whatsapp_business_account", "entry": {}})),
    ("whatsapp", js({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": "x"}}]}]})),
    ("whatsapp", js({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": 5}}]}]})),
    ("whatsapp", _wa_message(**{"from": "1" * 40})),
    ("whatsapp", _wa_message(id="w" * 10_000)),
    ("telegram", DEEP),
    ("telegram", _tg(photo=[1, 2])),
    ("telegram", _tg(chat={"id": {}, "type": "private"})),
    ("telegram", _tg(message_id="x")),
    ("telegram", _tg(text=5)),
    ("telegram", js({"update_id": 5, "message": "x"})),
]


@pytest.mark.parametrize("provider,body", HOSTILE, ids=[f"{p}-{i}" for i, (p, _) in enumerate(HOSTILE)])
def test_a_hostile_body_is_400_and_the_next_good_messages_go_through(web, tenants, provider, body):
    alpha, beta = tenants
    before = counts(alpha)
    res = send(web, provider, alpha, body)
    assert res.status_code == 400, res.content[:300]
    assert res.json()["detail"]
    assert counts(alpha) == before
    # the same tenant's and another tenant's next messages, on every channel, are stored and processed
    tag = uuid.uuid4().hex[:8]
    assert send(web, "chatflow", alpha, js(chatflow_event(f"OK-CF-{tag}", phone="77015550101"))).status_code == 200
    good_wa = wa_envelope([{"from": "77015550102", "id": f"wamid.OK-{tag}", "type": "text", "text": {"body": "ок"}}],
                          phone="77015550102")
    assert send(web, "whatsapp", alpha, js(good_wa)).status_code == 200
    assert send(web, "telegram", alpha, js(tg_update(chat_id=5550103, message_id=1))).status_code == 200
    assert send(web, "chatflow", beta, js(chatflow_event(f"OK-B-{tag}", phone="77015550104"))).status_code == 200
    assert worker_step(alpha) == 3 and worker_step(beta) == 1
    with tenant_context(alpha):
        assert Lead.objects.count() == 3 and not Message.objects.filter(inbound_pending=True).exists()
    with tenant_context(beta):
        assert Lead.objects.get().phone == "77015550104"


def test_nul_and_lone_surrogates_are_stored_cleaned_with_the_raw_event(web, tenants):
    alpha, _ = tenants
    body = (b'{"messageType": "text", "message": "\\u0426\\u0435\\u043d\\u0430\\u0000 \\ud800?", '
            b'"metadata": {"remoteJid": "77015550201@s.whatsapp.net", "messageId": "NUL-1", "timestamp": 1e20, '
            b'"sender": "\\u0415\\u0440\\u043b\\u0430\\u043d\\u0000 \\udfff"}, "mediaData": null}')
    assert send(web, "chatflow", alpha, body).status_code == 200
    wa_body = js(wa_envelope([
        {"from": "77015550202", "id": "wamid.NUL-2", "type": "text", "text": {"body": "a\x00b\udc00"}},
        {"from": "77015550202", "id": "wamid.NUL-3", "type": "text", "text": {"body": "второе"}}],
        phone="77015550202", name="N\x00ame"))
    assert send(web, "whatsapp", alpha, wa_body).status_code == 200
    assert worker_step(alpha) == 3
    with tenant_context(alpha):
        message = Message.objects.get(provider_message_id="NUL-1")
        assert message.text == "Цена \ufffd?" and message.lead.name == "Ерлан \ufffd"
        assert InboundEvent.objects.get(event_id="NUL-1").payload["metadata"]["sender"] == "Ерлан \ufffd"
        assert Message.objects.get(provider_message_id="wamid.NUL-2").text == "ab\ufffd"
        assert Lead.objects.get(phone="77015550202").name == "Name"


# --- no poison message ------------------------------------------------------------------------------


def _poison(provider_message_id: str, identity: str = "1" * 40) -> Message:
    """A client message stored before identities were checked at the boundary (40 digits: no lead's phone
    can hold them), as older code did: creating its lead fails every time."""
    return Message.objects.create(
        direction=Direction.IN, kind="text", text="яд", status=MessageStatus.RECEIVED, provider="chatflow",
        provider_message_id=provider_message_id, author_kind="client", purpose="client", inbound_pending=True,
        meta={"identity": identity, "phone": identity, "sender_name": "", "source": "chatflow"})


def _client_writes(phone: str, message_id: str) -> None:
    from integrations import chatflow

    [item] = chatflow.parse_webhook(js(chatflow_event(message_id, phone=phone)), {}, {})
    inbound_receive(provider="chatflow", items=[item], raw=js(chatflow_event(message_id, phone=phone)),
                    event_id=message_id)


def test_a_message_that_keeps_failing_is_set_aside_and_the_drain_goes_on(tenants, admin_client):  # noqa: F811
    alpha, _ = tenants
    with tenant_context(alpha):
        _client_writes("77015550301", "G-1")
        p1 = _poison("P-1")
        _client_writes("77015550302", "H-1")
        p2 = _poison("P-2")  # the same client again: waits behind its first message
        _client_writes("77015550301", "G-2")

        # one message a batch: the failing client's later message, in a batch of its own, still waits
        assert inbound_process_pending(batch=1) == 3  # was: the whole batch rolled back, every drain, forever
        g = Lead.objects.get(phone="77015550301")
        assert list(g.messages.order_by("id").values_list("provider_message_id", flat=True)) == ["G-1", "G-2"]
        assert Lead.objects.get(phone="77015550302").messages.count() == 1
        p1.refresh_from_db(), p2.refresh_from_db()
        assert p1.inbound_pending and p1.inbound_attempts == 1 and "value too long" in p1.inbound_error
        assert p2.inbound_pending and p2.inbound_attempts == 0 and p2.lead_id is None

        for attempt in range(2, INBOUND_MAX_ATTEMPTS + 1):
            _client_writes("77015550302", f"H-{attempt}")  # others keep writing meanwhile
            # small batches: the failing message and the one behind it are not read again by the same drain;
            # the one set aside counts as done
            assert inbound_process_pending(batch=2) == (2 if attempt == INBOUND_MAX_ATTEMPTS else 1)
            p1.refresh_from_db()
            assert p1.inbound_attempts == attempt
        assert not p1.inbound_pending and "value too long" in p1.inbound_error  # set aside, error kept
        assert Lead.objects.get(phone="77015550302").messages.count() == INBOUND_MAX_ATTEMPTS
        p2.refresh_from_db()
        assert p2.inbound_pending and p2.inbound_attempts == 0  # its turn comes now
        assert inbound_process_pending() == 0
        p2.refresh_from_db()
        assert p2.inbound_attempts == 1
        assert Lead.objects.count() == 2

    assert tenant_pending_work(alpha) == {**tenant_pending_work(alpha), "inbound_set_aside": 1, "inbound_pending": 1}
    health = TenantHealth.objects.get(tenant=alpha)
    assert health.last_error_source == "inbound" and "value too long" in health.last_error
    assert f"message {p2.pk} attempt 1/{INBOUND_MAX_ATTEMPTS} failed" in health.last_error
    page = admin_client.get(f"/admin/tenants/tenant/{alpha.pk}/change/").content.decode()
    assert "Входящих отложено после ошибок" in page and "value too long" in page
    assert "1 входящих отложено" in admin_client.get("/admin/tenants/tenant/").content.decode()


def test_a_successful_retry_clears_the_error(tenants):
    alpha, _ = tenants
    with tenant_context(alpha):
        message = _poison("P-OK", identity="77015550401")
        Message.objects.filter(pk=message.pk).update(inbound_attempts=2, inbound_error="OperationalError: gone")
        assert inbound_process_pending() == 1
        message.refresh_from_db()
        assert not message.inbound_pending and message.inbound_error == "" and message.lead.phone == "77015550401"
    assert tenant_pending_work(alpha)["inbound_set_aside"] == 0


# --- identities ---------------------------------------------------------------------------------------


def test_a_privacy_id_is_an_identity_answered_where_it_wrote_from(web, tenant_a, standin):
    from conversations.services import message_deliver, message_send

    configure(tenant_a, standin.url)
    standin.default.json = {"success": True, "messageId": "OUT-LID-1"}
    lid = fixture("chatflow_lid.json")
    assert send(web, "chatflow", tenant_a, js(lid)).status_code == 200
    again = fixture("chatflow_lid.json")
    again["metadata"].update(messageId="3EB0-LID-2", remoteJid="123456789012345:3@lid")
    assert send(web, "chatflow", tenant_a, js(again)).status_code == 200
    assert worker_step(tenant_a) == 2
    with tenant_context(tenant_a):
        lead = Lead.objects.get()
        assert (lead.phone, lead.name, lead.channel) == ("", "Айгерим", "whatsapp")
        assert list(LeadIdentity.objects.values_list("identity", flat=True)) == ["123456789012345@lid"]
        assert lead.messages.count() == 2
        reply = message_send(lead=lead, author_kind="ai", text="Здравствуйте! Чем помочь?")
        assert message_deliver(message_id=reply.pk) == "sent"
    [request] = standin.requests
    assert request.path == "/api/v1/send-text"
    assert request.query["jid"] == "123456789012345@lid"  # as it came, never a number made of its digits


def test_a_shared_contact_never_joins_the_lead_it_names(web, tenants):
    alpha, _ = tenants
    # Асель is a client already (WhatsApp 77017770011) …
    assert send(web, "chatflow", alpha, js(chatflow_event("ASEL-1", phone="77017770011"))).status_code == 200
    assert worker_step(alpha) == 1
    # … and three other people share her card: on Cloud API, on ChatFlow, on Telegram
    cloud = fixture("whatsapp_contacts.json")
    card = cloud["entry"][0]["changes"][0]["value"]["messages"][0]["contacts"][0]
    card["phones"] = [{"phone": "+7 701 777 00 11", "wa_id": "77017770011", "type": "CELL"}]
    assert send(web, "whatsapp", alpha, js(cloud)).status_code == 200
    chatflow_card = fixture("chatflow_contact_message.json")
    chatflow_card["metadata"]["remoteJid"] = "77015550501@s.whatsapp.net"
    assert send(web, "chatflow", alpha, js(chatflow_card)).status_code == 200
    assert send(web, "telegram", alpha, js(fixture("telegram_contact_other.json"))).status_code == 200
    assert worker_step(alpha) == 3
    with tenant_context(alpha):
        asel = Lead.objects.get(phone="77017770011")
        assert list(asel.messages.values_list("provider_message_id", flat=True)) == ["ASEL-1"]
        assert not asel.events.filter(kind="identity_merged").exists()
        assert LeadIdentity.objects.filter(lead=asel).count() == 1
        sharers = Lead.objects.exclude(pk=asel.pk).order_by("id")
        assert [(lead.phone, lead.messages.get().text) for lead in sharers] == [
            ("16505551234", "Barbara J. Johnson: +7 701 777 00 11"),
            ("77015550501", "Асель: +7 701 777 00 11"),
            ("", "Асель: 77017770011"),
        ]


# --- reactions ------------------------------------------------------------------------------------------


def _our_message(tenant, *, provider: str, identity: str, provider_message_id: str, phone: str = "") -> tuple:
    with tenant_context(tenant):
        lead, _ = lead_for_inbound(provider=provider, identity=identity, phone=phone or None, name="Клиент")
        message = Message.objects.create(lead=lead, direction=Direction.OUT, kind="text", text="Вот цена",
                                         status=MessageStatus.SENT, provider=provider, author_kind="ai",
                                         provider_message_id=provider_message_id)
        followup = FollowUp.objects.create(lead=lead, due_at=timezone.now() + timedelta(minutes=15),
                                           text="Подскажите, актуально?")
        return lead, message, followup


def _after_reaction(tenant, lead, message, followup, messages_before: int) -> dict | None:
    with tenant_context(tenant):
        assert Message.objects.count() == messages_before  # no client message …
        assert inbound_process_pending() == 0  # … so no AI turn, no lead activity …
        followup.refresh_from_db()
        assert followup.status == "pending"  # … and the follow-up still waits
        lead.refresh_from_db()
        assert lead.last_inbound_at is None
        message.refresh_from_db()
        return message.meta.get("reaction")


def test_cloud_api_reaction_attaches_to_our_message(web, tenants):
    alpha, _ = tenants
    target = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    lead, message, followup = _our_message(alpha, provider="whatsapp", identity="16505551234", phone="16505551234",
                                           provider_message_id=target)
    assert send(web, "whatsapp", alpha, js(fixture("whatsapp_reaction.json"))).status_code == 200
    reaction = _after_reaction(alpha, lead, message, followup, 1)
    assert reaction["emoji"] == "\U0001F600"
    assert send(web, "whatsapp", alpha, js(fixture("whatsapp_reaction_removed.json"))).status_code == 200
    assert _after_reaction(alpha, lead, message, followup, 1) is None
    with tenant_context(alpha):
        from conversations.serializers import MessageOut

        assert MessageOut(Message.objects.get(pk=message.pk)).data["reaction"] is None


def test_telegram_and_chatflow_reactions_attach(web, tenants):
    alpha, _ = tenants
    lead, ours, followup = _our_message(alpha, provider="chatflow", identity="77011112233", phone="77011112233",
                                        provider_message_id="3EB0AI-REPLY-1")
    assert send(web, "chatflow", alpha, js(fixture("chatflow_reaction.json"))).status_code == 200
    assert _after_reaction(alpha, lead, ours, followup, 1)["emoji"] == "👍"
    # Telegram: the client's own earlier message "111222333:20"
    update = tg_update(chat_id=111222333, message_id=20, text="Сколько стоит?")
    assert send(web, "telegram", alpha, js(update)).status_code == 200
    assert worker_step(alpha) == 1
    assert send(web, "telegram", alpha, js(fixture("telegram_message_reaction.json"))).status_code == 200
    with tenant_context(alpha):
        assert Message.objects.count() == 2 and inbound_process_pending() == 0
        assert Message.objects.get(provider_message_id="111222333:20").meta["reaction"]["emoji"] == "👍"


def test_a_reaction_to_an_unknown_or_somebody_elses_message_is_recorded_and_ignored(web, tenants):
    alpha, _ = tenants
    target = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    # the message exists, but in another client's dialog
    _, message, _ = _our_message(alpha, provider="whatsapp", identity="77015550601", phone="77015550601",
                                 provider_message_id=target)
    assert send(web, "whatsapp", alpha, js(fixture("whatsapp_reaction.json"))).status_code == 200
    unknown = fixture("whatsapp_reaction.json")
    unknown["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = "wamid.NOPE"
    assert send(web, "whatsapp", alpha, js(unknown)).status_code == 200
    with tenant_context(alpha):
        message.refresh_from_db()
        assert "reaction" not in message.meta and Message.objects.count() == 1
        events = InboundEvent.objects.filter(provider="whatsapp").order_by("id")
        assert [e.error for e in events] == ["1 reaction(s) or unsend(s) of a message this tenant does not have"] * 2
        assert not Lead.objects.filter(phone="16505551234").exists()


# --- property-based: what a parser accepts, storage and the drain accept -----------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(provider=st.sampled_from(list(hostile.PARSERS)), data=st.data())
def test_what_a_parser_accepts_is_stored_and_processed(tenant_a, provider, data):
    body = data.draw(hostile.mutated(provider))
    items = hostile.answer(provider, body)
    if not items:
        return
    with tenant_context(tenant_a):
        inbound_receive(provider=provider, items=items, raw=body, event_id=_event_id(items, body), source=provider)
        inbound_process_pending()
        assert not Message.objects.filter(inbound_pending=True).exists()
        assert not Message.objects.exclude(inbound_error="").exists()
