"""Webhooks on the platform host, end to end through the real view, middleware and database:
ChatFlow (plain and wrapped), WhatsApp Cloud (verification, signatures, every kind, statuses), Telegram
(secret header); every bad input; idempotency; merging by phone; tenant isolation."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from conversations.models import Direction, InboundEvent, Message, MessageStatus
from leads.models import Lead, LeadIdentity
from tenants.services import tenant_config_import
from tests.conftest import webhook_path

pytestmark = pytest.mark.django_db

APP_SECRET = "wa-app-secret"
VERIFY_TOKEN = "wa-verify"
TG_SECRET = "tg-secret-xyz"
WA_API = "https://graph.example/v21.0"


@pytest.fixture
def web():
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def channels_a(tenant_a):
    tenant_config_import(tenant_a, {"channels": {
        "chatflow": {"api_url": "https://chatflow.example/api/v1", "token": "cf-token", "instance_id": "inst-1"},
        "whatsapp_cloud": {"api_url": WA_API, "phone_number_id": "1099", "access_token": "EAAG",
                           "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
        "telegram": {"api_url": "https://tg.example", "bot_token": "1:abc", "secret_token": TG_SECRET},
    }})
    return tenant_a


def url(provider: str, tenant) -> str:
    return webhook_path(tenant, provider)


def post(web, path: str, payload, **headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return web.generic("POST", path, body, content_type="application/json", **headers)


def chatflow_event(message_id: str | None = None, *, phone: str = "77011112233", kind: str = "text",
                   text: str = "Здравствуйте, сколько стоит дом?", media: dict | None = None) -> dict:
    return {
        "messageType": kind, "message": text,
        "metadata": {"remoteJid": f"{phone}@s.whatsapp.net", "messageId": message_id or uuid.uuid4().hex.upper(),
                     "timestamp": 1735000000, "instanceId": "inst-1", "sender": "Ерлан"},
        "mediaData": media,
    }


def wa_sign(body: bytes, secret: str = APP_SECRET) -> dict:
    return {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def wa_envelope(messages=None, statuses=None, phone: str = "77011112233", name: str = "Ерлан") -> dict:
    value: dict = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": "77270000000", "phone_number_id": "1099"},
                   "contacts": [{"profile": {"name": name}, "wa_id": phone}]}
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"value": value, "field": "messages"}]}]}


def wa_post(web, tenant, payload: dict, secret: str = APP_SECRET):
    body = json.dumps(payload).encode()
    return web.generic("POST", url("whatsapp", tenant), body, content_type="application/json",
                       **wa_sign(body, secret))


def tg_update(chat_id: int = 555, message_id: int = 42, **fields) -> dict:
    message = {"message_id": message_id, "from": {"id": chat_id, "is_bot": False, "first_name": "Ivan",
                                                  "last_name": "Petrov"},
               "chat": {"id": chat_id, "type": "private"}, "date": 1735000000, "text": "Привет"}
    message.update(fields)
    return {"update_id": 1000 + message_id, "message": message}


def counts(tenant) -> dict:
    with tenant_context(tenant):
        return {"messages": Message.objects.count(), "leads": Lead.objects.count(),
                "identities": LeadIdentity.objects.count(), "events": InboundEvent.objects.count()}


def in_tenant(tenant, fn):
    with tenant_context(tenant):
        return fn()


def worker_step(tenant) -> int:
    """What the worker does after webhooks (conversations.process_inbound): here, in this process."""
    from conversations.services import inbound_process_pending

    return in_tenant(tenant, inbound_process_pending)


# --- ChatFlow -------------------------------------------------------------------------------------------


def test_chatflow_text_stores_raw_event_message_and_lead(web, channels_a):
    payload = chatflow_event("CF-1")
    res = post(web, url("chatflow", channels_a), payload)
    assert res.status_code == 200, res.content
    assert res.json() == {"ok": True}
    with tenant_context(channels_a):
        # the request stored the raw event and the message; a new client's lead is the worker's job
        [message] = Message.objects.all()
        assert (message.provider, message.provider_message_id, message.direction) == ("chatflow", "CF-1", "in")
        assert message.status == MessageStatus.RECEIVED and message.kind == "text"
        assert message.text == "Здравствуйте, сколько стоит дом?"
        assert message.inbound_pending and message.lead_id is None and not Lead.objects.exists()
        [event] = InboundEvent.objects.all()
        assert (event.provider, event.event_id) == ("chatflow", "CF-1")
        assert event.payload == payload  # the raw event as it arrived
    assert worker_step(channels_a) == 1
    assert worker_step(channels_a) == 0  # done once
    with tenant_context(channels_a):
        message.refresh_from_db()
        assert not message.inbound_pending
        lead = message.lead
        assert lead.phone == "77011112233" and lead.channel == "whatsapp" and lead.provider == "chatflow"
        assert lead.name == "Ерлан" and lead.stage.kind == "new"
        assert lead.last_inbound_at is not None and lead.last_message["text"] == "Здравствуйте, сколько стоит дом?"
        assert lead.events.filter(kind="created").count() == 1
    # the client writes again: the request itself stores into the known lead and refreshes its preview
    assert post(web, url("chatflow", channels_a), chatflow_event("CF-2", text="И ещё вопрос")).status_code == 200
    with tenant_context(channels_a):
        second = Message.objects.get(provider_message_id="CF-2")
        assert second.lead_id == lead.pk and second.inbound_pending
        assert Lead.objects.get().last_message["text"] == "И ещё вопрос"
    assert worker_step(channels_a) == 1


def test_chatflow_wrapped_body_and_media_with_caption(web, channels_a):
    media = {"url": "https://cdn.example/p.jpg", "mimetype": "image/jpeg", "caption": "вот мой участок"}
    payload = {"body": chatflow_event("CF-IMG", kind="image", text="", media=media)}
    assert post(web, url("chatflow", channels_a), payload).status_code == 200
    with tenant_context(channels_a):
        message = Message.objects.get(provider_message_id="CF-IMG")
        assert (message.kind, message.media_url, message.mimetype) == ("image", media["url"], "image/jpeg")
        assert message.caption == "вот мой участок"
        assert InboundEvent.objects.get(event_id="CF-IMG").payload == payload


@pytest.mark.parametrize("kind,mimetype", [("audio", "audio/ogg"), ("video", "video/mp4"),
                                           ("document", "application/pdf")])
def test_chatflow_media_kinds_keep_url_and_caption(web, channels_a, kind, mimetype):
    media = {"url": f"https://cdn.example/f.{kind}", "mimetype": mimetype, "caption": f"подпись {kind}"}
    assert post(web, url("chatflow", channels_a), chatflow_event(f"CF-{kind}", kind=kind, text="",
                                                                 media=media)).status_code == 200
    message = in_tenant(channels_a, lambda: Message.objects.get(provider_message_id=f"CF-{kind}"))
    assert (message.kind, message.media_url, message.mimetype) == (kind, media["url"], mimetype)
    assert message.caption == f"подпись {kind}"


def test_same_message_id_twice_is_one_message_even_with_another_body(web, channels_a):
    first = chatflow_event("CF-DUP", text="первый")
    second = chatflow_event("CF-DUP", text="другое тело, тот же id")
    for payload in (first, first, second, {"body": second}):
        assert post(web, url("chatflow", channels_a), payload).status_code == 200
    assert worker_step(channels_a) == 1
    assert post(web, url("chatflow", channels_a), first).status_code == 200  # again, now that the lead exists
    with tenant_context(channels_a):
        assert Message.objects.filter(provider_message_id="CF-DUP").count() == 1
        assert Message.objects.get(provider_message_id="CF-DUP").text == "первый"
        assert Lead.objects.count() == 1
        assert InboundEvent.objects.filter(event_id="CF-DUP").count() == 1


def test_chatflow_group_message_is_acknowledged_but_not_a_lead(web, channels_a):
    payload = chatflow_event("CF-G")
    payload["metadata"]["remoteJid"] = "120363025@g.us"
    assert post(web, url("chatflow", channels_a), payload).status_code == 200
    assert counts(channels_a)["messages"] == 0 and counts(channels_a)["leads"] == 0


# --- bad input ------------------------------------------------------------------------------------------


def test_unknown_key_and_unknown_provider_are_404(web, channels_a):
    res = post(web, "/webhooks/chatflow/not-a-key/", chatflow_event())
    assert res.status_code == 404 and res.json()["detail"] == "unknown webhook key"
    res = post(web, url("chatflow", channels_a).replace("/chatflow/", "/viber/"), chatflow_event())
    assert res.status_code == 404 and "viber" in res.json()["detail"]
    assert counts(channels_a)["messages"] == 0


@pytest.mark.parametrize("body,reason", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"messageType": "text", "message": "hi"}).encode(), "missing metadata"),
    (json.dumps({"metadata": {"messageId": "X"}}).encode(), "remoteJid"),
    (json.dumps({"metadata": {"remoteJid": "7701@s.whatsapp.net"}}).encode(), "messageId"),
    (json.dumps({"body": {"metadata": {"remoteJid": "abc@s.whatsapp.net", "messageId": "1"}}}).encode(),
     "no phone number"),
])
def test_chatflow_malformed_is_400_with_reason(web, channels_a, body, reason):
    res = post(web, url("chatflow", channels_a), body)
    assert res.status_code == 400
    assert reason in res.json()["detail"]
    assert counts(channels_a) == {"messages": 0, "leads": 0, "identities": 0, "events": 0}


def test_body_over_one_mebibyte_is_413(web, channels_a):
    payload = chatflow_event("CF-BIG", text="x" * (1024 * 1024 + 10))
    res = post(web, url("chatflow", channels_a), payload)
    assert res.status_code == 413 and "too large" in res.json()["detail"]
    assert counts(channels_a)["messages"] == 0


def test_body_just_under_the_limit_is_accepted(web, channels_a):
    payload = chatflow_event("CF-NEAR", text="")
    payload["message"] = "x" * (1024 * 1024 - len(json.dumps(payload)) - 100)
    assert post(web, url("chatflow", channels_a), payload).status_code == 200


def test_get_on_chatflow_is_405(web, channels_a):
    assert web.get(url("chatflow", channels_a)).status_code == 405


# --- WhatsApp Cloud -------------------------------------------------------------------------------------


def test_whatsapp_verification_ok_and_bad(web, channels_a):
    path = url("whatsapp", channels_a)
    ok = web.get(path, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    bad = web.get(path, {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"})
    assert bad.status_code == 403 and "verify_token" in bad.json()["detail"]
    missing = web.get(path, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN})
    assert missing.status_code == 400 and "hub.challenge" in missing.json()["detail"]


WA_KINDS = [
    ("image", {"id": "MEDIA-IMG", "mime_type": "image/jpeg", "caption": "фасад"}, "image", "фасад"),
    ("video", {"id": "MEDIA-VID", "mime_type": "video/mp4", "caption": "видео участка"}, "video", "видео участка"),
    ("document", {"id": "MEDIA-DOC", "mime_type": "application/pdf", "caption": "смета", "filename": "s.pdf"},
     "document", "смета"),
    ("audio", {"id": "MEDIA-AUD", "mime_type": "audio/mpeg"}, "audio", ""),
    ("audio", {"id": "MEDIA-VOI", "mime_type": "audio/ogg; codecs=opus", "voice": True}, "voice", ""),
]


def test_whatsapp_signed_messages_of_every_kind(web, channels_a):
    messages = [{"from": "77011112233", "id": "wamid.TXT", "timestamp": "1735000000", "type": "text",
                 "text": {"body": "Хочу дом 120 м²"}}]
    for i, (msg_type, part, _, _) in enumerate(WA_KINDS):
        messages.append({"from": "77011112233", "id": f"wamid.K{i}", "timestamp": "1735000001",
                         "type": msg_type, msg_type: part})
    res = wa_post(web, channels_a, wa_envelope(messages))
    assert res.status_code == 200, res.content
    assert worker_step(channels_a) == len(messages)
    with tenant_context(channels_a):
        assert Message.objects.count() == len(messages) and Lead.objects.count() == 1
        text = Message.objects.get(provider_message_id="wamid.TXT")
        assert (text.kind, text.text, text.provider) == ("text", "Хочу дом 120 м²", "whatsapp")
        for i, (_, part, kind, caption) in enumerate(WA_KINDS):
            message = Message.objects.get(provider_message_id=f"wamid.K{i}")
            assert message.kind == kind
            assert message.media_url == f"{WA_API}/{part['id']}"
            assert message.mimetype == part["mime_type"]
            assert message.caption == caption
        lead = Lead.objects.get()
        assert lead.name == "Ерлан" and lead.phone == "77011112233" and lead.provider == "whatsapp"
        # several messages in one body: the raw event is stored once, keyed by the body's hash
        [event] = InboundEvent.objects.all()
        assert event.event_id.startswith("sha256:") and event.payload["entry"][0]["id"] == "WABA"


def test_whatsapp_bad_or_missing_signature_is_403(web, channels_a):
    payload = wa_envelope([{"from": "77011112233", "id": "wamid.S", "type": "text", "text": {"body": "hi"}}])
    assert wa_post(web, channels_a, payload, secret="another-secret").status_code == 403
    res = post(web, url("whatsapp", channels_a), payload)
    assert res.status_code == 403 and "X-Hub-Signature-256" in res.json()["detail"]
    # a signature of another body does not carry over
    body = json.dumps(payload).encode()
    res = web.generic("POST", url("whatsapp", channels_a), body + b" ", content_type="application/json",
                      **wa_sign(body))
    assert res.status_code == 403
    assert counts(channels_a)["messages"] == 0


def test_whatsapp_malformed_is_400(web, channels_a):
    body = b"{broken"
    res = web.generic("POST", url("whatsapp", channels_a), body, content_type="application/json", **wa_sign(body))
    assert res.status_code == 400 and "JSON" in res.json()["detail"]
    res = wa_post(web, channels_a, {"object": "whatsapp_business_account"})
    assert res.status_code == 400 and "entry" in res.json()["detail"]
    res = wa_post(web, channels_a, wa_envelope([{"from": "77011112233", "type": "text", "text": {"body": "x"}}]))
    assert res.status_code == 400 and "messages[].id" in res.json()["detail"]
    assert counts(channels_a)["messages"] == 0


def _outbound(tenant, provider_message_id: str = "wamid.OUT1") -> int:
    from leads.services import lead_for_inbound

    with tenant_context(tenant):
        lead, _ = lead_for_inbound(provider="whatsapp", identity="77011112233", phone="77011112233", name="Е")
        return Message.objects.create(lead=lead, direction=Direction.OUT, kind="text", text="Здравствуйте!",
                                      status=MessageStatus.SENT, provider="whatsapp",
                                      provider_message_id=provider_message_id, author_kind="ai").pk


def _status(msg_id: str, status: str, **extra) -> dict:
    return {"id": msg_id, "status": status, "timestamp": "1735000100", "recipient_id": "77011112233", **extra}


def test_whatsapp_statuses_move_forward_only(web, channels_a):
    pk = _outbound(channels_a)
    seen = []
    for status in ("delivered", "read", "delivered", "sent"):
        assert wa_post(web, channels_a, wa_envelope(statuses=[_status("wamid.OUT1", status)])).status_code == 200
        seen.append(in_tenant(channels_a, lambda: Message.objects.get(pk=pk).status))
    assert seen == ["delivered", "read", "read", "read"]
    assert counts(channels_a)["messages"] == 1  # statuses never create messages


def test_whatsapp_sent_then_delivered_in_one_body(web, channels_a):
    pk = _outbound(channels_a, "wamid.OUT2")
    Message.objects.filter(pk=pk)  # noqa: B018
    with tenant_context(channels_a):
        Message.objects.filter(pk=pk).update(status=MessageStatus.QUEUED)
    payload = wa_envelope(statuses=[_status("wamid.OUT2", "sent"), _status("wamid.OUT2", "delivered")])
    assert wa_post(web, channels_a, payload).status_code == 200
    assert in_tenant(channels_a, lambda: Message.objects.get(pk=pk).status) == "delivered"


def test_whatsapp_failed_status_keeps_the_error(web, channels_a):
    pk = _outbound(channels_a, "wamid.OUT3")
    error = {"code": 131026, "title": "Message undeliverable",
             "error_data": {"details": "Receiver is incapable of receiving this message"}}
    assert wa_post(web, channels_a, wa_envelope(statuses=[_status("wamid.OUT3", "failed", errors=[error])])
                   ).status_code == 200
    message = in_tenant(channels_a, lambda: Message.objects.get(pk=pk))
    assert message.status == "failed"
    assert "Message undeliverable" in message.error and "131026" in message.error
    assert "incapable" in message.error


def test_status_for_an_unknown_message_is_acknowledged(web, channels_a):
    assert wa_post(web, channels_a, wa_envelope(statuses=[_status("wamid.NOPE", "read")])).status_code == 200
    assert counts(channels_a)["messages"] == 0


# --- Telegram -------------------------------------------------------------------------------------------


def test_telegram_with_secret_header_creates_its_own_lead(web, channels_a):
    res = post(web, url("telegram", channels_a), tg_update(), HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET)
    assert res.status_code == 200, res.content
    worker_step(channels_a)
    with tenant_context(channels_a):
        [message] = Message.objects.all()
        assert (message.provider, message.provider_message_id, message.text) == ("telegram", "555:42", "Привет")
        lead = message.lead
        assert (lead.channel, lead.provider, lead.phone, lead.name) == ("telegram", "telegram", "", "Ivan Petrov")
        assert LeadIdentity.objects.get(lead=lead).identity == "555"
        assert InboundEvent.objects.get(provider="telegram").event_id == "555:42"


def test_telegram_photo_keeps_caption_and_file(web, channels_a):
    update = tg_update(message_id=43, text=None, caption="вот проект",
                       photo=[{"file_id": "small", "width": 90, "height": 90},
                              {"file_id": "big", "width": 1280, "height": 960}])
    del update["message"]["text"]
    res = post(web, url("telegram", channels_a), update, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET)
    assert res.status_code == 200
    message = in_tenant(channels_a, lambda: Message.objects.get(provider_message_id="555:43"))
    assert (message.kind, message.media_url, message.caption) == ("image", "tg-file:big", "вот проект")


def test_telegram_bad_or_missing_secret_is_403(web, channels_a):
    res = post(web, url("telegram", channels_a), tg_update(), HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="wrong")
    assert res.status_code == 403 and "Secret-Token" in res.json()["detail"]
    assert post(web, url("telegram", channels_a), tg_update()).status_code == 403
    assert counts(channels_a)["messages"] == 0


def test_telegram_missing_fields_is_400(web, channels_a):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": TG_SECRET}
    res = post(web, url("telegram", channels_a), {"message": {"text": "x"}}, **headers)
    assert res.status_code == 400 and "update_id" in res.json()["detail"]
    res = post(web, url("telegram", channels_a), {"update_id": 1, "message": {"message_id": 1, "text": "x"}},
               **headers)
    assert res.status_code == 400 and "chat.id" in res.json()["detail"]


def test_telegram_duplicate_update_is_one_message(web, channels_a):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": TG_SECRET}
    for _ in range(3):
        assert post(web, url("telegram", channels_a), tg_update(message_id=7), **headers).status_code == 200
    assert counts(channels_a)["messages"] == 1


def test_a_provider_the_tenant_has_not_configured_is_404_even_with_its_right_token(web, tenant_a):
    """Nothing configured: no provider's URL opens — ChatFlow and amoCRM (unsigned) included — and nothing is
    stored. (Before: unsigned ChatFlow messages were stored for a tenant without ChatFlow; the signed providers
    answered 403.)"""
    assert post(web, url("chatflow", tenant_a), chatflow_event("NO-CF")).status_code == 404
    assert wa_post(web, tenant_a, wa_envelope([])).status_code == 404
    assert post(web, url("telegram", tenant_a), tg_update(), HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="").status_code == 404
    res = web.post(url("amocrm", tenant_a), data="leads[add][0][id]=1&account[id]=2",
                   content_type="application/x-www-form-urlencoded")
    assert res.status_code == 404 and res.json()["detail"] == "unknown webhook key"  # same as an unknown token
    assert counts(tenant_a) == {"messages": 0, "leads": 0, "identities": 0, "events": 0}


def test_new_secret_applies_to_the_next_webhook(web, channels_a):
    payload = wa_envelope([{"from": "77011112233", "id": "wamid.ROT", "type": "text", "text": {"body": "hi"}}])
    assert wa_post(web, channels_a, payload).status_code == 200
    tenant_config_import(channels_a, {"channels": {"whatsapp_cloud": {"app_secret": "rotated"}}})
    assert wa_post(web, channels_a, payload).status_code == 403
    assert wa_post(web, channels_a, payload, secret="rotated").status_code == 200


# --- leads across channels ------------------------------------------------------------------------------


def test_same_phone_from_chatflow_then_whatsapp_is_one_lead(web, channels_a):
    assert post(web, url("chatflow", channels_a), chatflow_event("CF-M1", phone="77015550011")).status_code == 200
    msg = {"from": "77015550011", "id": "wamid.M2", "type": "text", "text": {"body": "это снова я"}}
    assert wa_post(web, channels_a, wa_envelope([msg], phone="77015550011")).status_code == 200
    tg = post(web, url("telegram", channels_a), tg_update(chat_id=77015550011 % 10**9),
              HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET)
    assert tg.status_code == 200
    # all three arrived before the worker ran: it creates the lead with the first and merges the second
    assert worker_step(channels_a) == 3
    with tenant_context(channels_a):
        whatsapp_leads = Lead.objects.filter(phone="77015550011")
        assert whatsapp_leads.count() == 1
        lead = whatsapp_leads.get()
        assert sorted(lead.messages.values_list("provider_message_id", flat=True)) == ["CF-M1", "wamid.M2"]
        assert lead.provider == "whatsapp"  # the last channel the client used answers next
        assert LeadIdentity.objects.filter(lead=lead).count() == 1  # both are the WhatsApp identity
        # the telegram chat id is its own lead
        assert Lead.objects.count() == 2
        assert Lead.objects.exclude(pk=lead.pk).get().channel == "telegram"


# --- tenant isolation -----------------------------------------------------------------------------------


def test_a_key_of_tenant_a_never_touches_tenant_b(web, channels_a, tenant_b):
    tenant_config_import(tenant_b, {"channels": {"whatsapp_cloud": {"app_secret": "b-secret"},
                                                 "telegram": {"secret_token": "b-tg"}}})
    before_b = counts(tenant_b)
    assert post(web, url("chatflow", channels_a), chatflow_event("ISO-1")).status_code == 200
    assert wa_post(web, channels_a, wa_envelope([{"from": "77019990000", "id": "wamid.ISO", "type": "text",
                                                  "text": {"body": "x"}}])).status_code == 200
    assert post(web, url("telegram", channels_a), tg_update(message_id=99),
                HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET).status_code == 200
    # tenant_b's secrets are worthless on tenant_a's key, and the refusals store nothing anywhere
    assert wa_post(web, channels_a, wa_envelope([{"from": "1", "id": "wamid.B", "type": "text",
                                                  "text": {"body": "x"}}]), secret="b-secret").status_code == 403
    assert post(web, url("telegram", channels_a), tg_update(message_id=100),
                HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="b-tg").status_code == 403
    assert counts(tenant_b) == before_b
    assert counts(channels_a)["messages"] == 3


def test_same_message_id_in_two_tenants_is_two_messages(web, channels_a, tenant_b):
    tenant_config_import(tenant_b, {"channels": {"chatflow": {"token": "cf-b", "instance_id": "inst-b"}}})
    assert post(web, url("chatflow", channels_a), chatflow_event("SHARED-ID")).status_code == 200
    assert post(web, url("chatflow", tenant_b), chatflow_event("SHARED-ID")).status_code == 200
    assert counts(channels_a)["messages"] == 1 and counts(tenant_b)["messages"] == 1


def test_status_on_tenant_a_key_does_not_touch_tenant_b_message(web, channels_a, tenant_b):
    pk_b = _outbound(tenant_b, "wamid.BONLY")
    assert wa_post(web, channels_a, wa_envelope(statuses=[_status("wamid.BONLY", "read")])).status_code == 200
    assert in_tenant(tenant_b, lambda: Message.objects.get(pk=pk_b).status) == "sent"


def test_inactive_tenant_key_is_404(web, channels_a):
    from tenants.models import Tenant

    Tenant.objects.filter(pk=channels_a.pk).update(is_active=False)
    assert post(web, url("chatflow", channels_a), chatflow_event()).status_code == 404


def test_telegram_own_contact_with_a_known_phone_merges_into_that_lead(web, channels_a):
    """The sender's own card (contact.user_id == from.id, Telegram's "share my phone number") links their
    Telegram chat to the WhatsApp lead of that phone."""
    assert post(web, url("chatflow", channels_a), chatflow_event("CF-P1", phone="77017770011")).status_code == 200
    update = tg_update(chat_id=4242, message_id=5,
                       contact={"phone_number": "+7 701 777 00 11", "first_name": "Асель", "user_id": 4242})
    del update["message"]["text"]
    res = post(web, url("telegram", channels_a), update, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET)
    assert res.status_code == 200
    worker_step(channels_a)
    with tenant_context(channels_a):
        lead = Lead.objects.get()
        assert sorted(LeadIdentity.objects.filter(lead=lead).values_list("channel", "identity")) == [
            ("telegram", "4242"), ("whatsapp", "77017770011")]
        assert lead.events.filter(kind="identity_merged").exists()
        assert lead.messages.count() == 2


def test_telegram_contact_of_somebody_else_is_only_a_message(web, channels_a):
    """Was a merge (this test asserted it): a card without user_id, or with another user's, gave its phone
    to the sender, who then joined that person's WhatsApp lead and its dialog. Now it is text of its own."""
    assert post(web, url("chatflow", channels_a), chatflow_event("CF-P2", phone="77017770011")).status_code == 200
    for message_id, card in ((5, {"phone_number": "+7 701 777 00 11", "first_name": "Асель"}),
                             (6, {"phone_number": "77017770011", "first_name": "Асель", "user_id": 777})):
        update = tg_update(chat_id=4242, message_id=message_id, contact=card)
        del update["message"]["text"]
        res = post(web, url("telegram", channels_a), update, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET)
        assert res.status_code == 200
    worker_step(channels_a)
    with tenant_context(channels_a):
        whatsapp = Lead.objects.get(channel="whatsapp")
        assert list(whatsapp.messages.values_list("provider_message_id", flat=True)) == ["CF-P2"]
        assert not whatsapp.events.filter(kind="identity_merged").exists()
        telegram = Lead.objects.get(channel="telegram")
        assert telegram.phone == "" and LeadIdentity.objects.get(lead=telegram).identity == "4242"
        assert [m.text for m in telegram.messages.order_by("id")] == ["Асель: +7 701 777 00 11",
                                                                       "Асель: 77017770011"]
