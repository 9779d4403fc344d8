"""WhatsApp Web through our bridge end to end: the bridge's signed webhook through the real view and database
(whatsapp leads keyed by the number, privacy ids kept, duplicates once, every hostile input, tenants apart), acks
as delivery statuses, and the send pipeline against a stand-in bridge that checks the signed requests we send."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.db import transaction
from django.test import Client
from django_tenants.utils import tenant_context

from conversations.models import Message, MessageStatus
from conversations.services import inbound_process_pending, message_deliver, message_send
from integrations import wwebjs
from leads.models import Lead, LeadIdentity
from tenants.services import tenant_config_import
from tests.conftest import webhook_path
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
MASTER = "platform-bridge-secret"


def configure(tenant, bridge_url: str = "http://127.0.0.1:9") -> str:
    secret = wwebjs.tenant_secret(MASTER, tenant.slug)
    tenant_config_import(
        tenant, {"channels": {"wwebjs": {"bridge_url": bridge_url, "session": tenant.slug, "secret": secret}}}
    )
    return secret


@pytest.fixture
def web():
    return Client(HTTP_HOST="localhost")


def event(mid: str = "false_77011112233@c.us_3EB0A1", text: str = "Здравствуйте, нужен дом", **fields) -> dict:
    return {
        "tenant": "alpha",
        "event": "message",
        "message": {
            "id": mid,
            "from": "77011112233@c.us",
            "type": "chat",
            "body": text,
            "timestamp": 1735000000,
            "name": "Айгуль",
            "media_url": None,
            "mimetype": None,
            **fields,
        },
    }


def post(web, tenant, payload, secret: str, body: bytes | None = None):
    body = body if body is not None else json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return web.generic(
        "POST", webhook_path(tenant, "wwebjs"), body, content_type="application/json", HTTP_X_BRIDGE_SIGNATURE=signature
    )


def drain(tenant) -> int:
    with tenant_context(tenant):
        return inbound_process_pending()


def test_a_client_message_makes_a_whatsapp_lead_keyed_by_the_number(web, tenant_a):
    secret = configure(tenant_a)
    assert post(web, tenant_a, event(), secret).status_code == 200
    assert post(web, tenant_a, event(), secret).status_code == 200  # the bridge's retry of the same message
    assert drain(tenant_a) == 1
    with tenant_context(tenant_a):
        message = Message.objects.get()
        assert (message.provider, message.kind, message.text) == ("wwebjs", "text", "Здравствуйте, нужен дом")
        lead = Lead.objects.get()
        assert (lead.channel, lead.provider, lead.phone, lead.name) == ("whatsapp", "wwebjs", "77011112233", "Айгуль")
        assert LeadIdentity.objects.get().identity == "77011112233"


def test_a_privacy_id_and_a_voice_note(web, tenant_a):
    secret = configure(tenant_a)
    url = "http://127.0.0.1:3100/media/alpha/" + "a" * 32 + "?exp=9999999999&sig=" + "b" * 64
    voice = event(
        mid="false_1@lid_V1",
        type="ptt",
        body="",
        media_url=url,
        mimetype="audio/ogg; codecs=opus",
        **{"from": "123456789012345@lid"},
    )
    assert post(web, tenant_a, voice, secret).status_code == 200
    drain(tenant_a)
    with tenant_context(tenant_a):
        message = Message.objects.get()
        assert (message.kind, message.media_url) == ("voice", url)
        assert LeadIdentity.objects.get().identity == "123456789012345@lid"
        assert Lead.objects.get().phone == ""


def test_hostile_inputs(web, tenant_a):
    secret = configure(tenant_a)
    assert post(web, tenant_a, event(), "another").status_code == 403
    body = json.dumps(event()).encode()
    res = web.generic("POST", webhook_path(tenant_a, "wwebjs"), body, content_type="application/json")
    assert res.status_code == 403
    assert post(web, tenant_a, None, secret, body=b"{broken").status_code == 400
    assert post(web, tenant_a, event(**{"from": "../../me@c.us"}), secret).status_code == 400
    assert post(web, tenant_a, {"event": "message", "message": []}, secret).status_code == 400
    assert post(web, tenant_a, None, secret, body=b"{" + b" " * (1024 * 1024) + b"}").status_code == 413
    assert web.post("/webhooks/wwebjs/not-a-token/", b"{}", content_type="application/json").status_code == 404
    with tenant_context(tenant_a):
        assert Message.objects.count() == 0


def test_not_configured_is_404_and_tenants_stay_apart(web, tenant_a, tenant_b):
    secret_a = configure(tenant_a)
    assert post(web, tenant_b, event(), secret_a).status_code == 404  # B has no bridge: its URL is closed
    secret_b = configure(tenant_b)
    assert post(web, tenant_b, event(), secret_a).status_code == 403  # A's signature on B's URL
    assert post(web, tenant_b, event(), secret_b).status_code == 200
    assert post(web, tenant_a, event(), secret_a).status_code == 200
    drain(tenant_a), drain(tenant_b)
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            assert Message.objects.count() == 1 and Lead.objects.count() == 1


def test_replies_go_through_the_bridge_and_acks_update_them(web, tenant_a, standin: StandIn):  # noqa: F811
    secret = configure(tenant_a, bridge_url=standin.url)
    post(web, tenant_a, event(), secret)
    drain(tenant_a)
    standin.default.json = {"id": "true_77011112233@c.us_OUT1"}
    with tenant_context(tenant_a):
        lead = Lead.objects.get()
        Message.objects.filter(direction="out").delete()  # whatever the AI's turn queued: this test sends its own
        with transaction.atomic():
            message = message_send(lead=lead, author_kind="ai", text="Здравствуйте! Какой дом вы хотите?")
        message_deliver(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT and message.provider_message_id == "true_77011112233@c.us_OUT1"
    sends = [r for r in standin.requests if r.path == f"/sessions/{tenant_a.slug}/send"]
    assert sends[-1].json == {"to": "77011112233", "kind": "text", "text": "Здравствуйте! Какой дом вы хотите?"}
    signed_text = f"{sends[-1].headers['x-bridge-timestamp']}.POST {sends[-1].path}.".encode() + sends[-1].body
    assert sends[-1].headers["x-bridge-signature"] == hmac.new(secret.encode(), signed_text, hashlib.sha256).hexdigest()
    ack = {"tenant": "alpha", "event": "ack", "message": {"id": "true_77011112233@c.us_OUT1", "status": "read"}}
    assert post(web, tenant_a, ack, secret).status_code == 200
    with tenant_context(tenant_a):
        assert Message.objects.get(pk=message.pk).status == MessageStatus.READ


def test_a_voice_reply_goes_as_a_voice_note_by_its_url(web, tenant_a, standin: StandIn):  # noqa: F811
    secret = configure(tenant_a, bridge_url=standin.url)
    post(web, tenant_a, event(), secret)
    drain(tenant_a)
    standin.default.json = {"id": "true_77011112233@c.us_VOICE"}
    with tenant_context(tenant_a):
        lead = Lead.objects.get()
        with transaction.atomic():
            message = message_send(
                lead=lead,
                author_kind="ai",
                kind="voice",
                text="Здравствуйте",
                media_url="https://alpha.test/media/alpha/reply.ogg",
            )
        message_deliver(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT and message.text == "Здравствуйте"
    voice = [r.json for r in standin.requests if r.json and r.json.get("kind") == "voice"]
    assert voice[-1]["media_url"] == "https://alpha.test/media/alpha/reply.ogg" and voice[-1]["to"] == "77011112233"


def test_a_voice_notes_file_is_fetched_from_the_bridges_signed_link_once(web, tenant_a, standin, settings, tmp_path):  # noqa: F811
    from conversations.services import message_media_fetch

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT = "http", 8000
    secret = configure(tenant_a)
    link = f"{standin.url}/media/alpha/{'c' * 32}?exp=9999999999&sig={'d' * 64}"
    voice = event(mid="false_77011112233@c.us_V2", type="ptt", body="", media_url=link, mimetype="audio/ogg")
    assert post(web, tenant_a, voice, secret).status_code == 200
    drain(tenant_a)
    standin.reply(body=b"OggS\x00\x02voice-bytes", headers={"Content-Type": "audio/ogg"})
    with tenant_context(tenant_a):
        message = Message.objects.get(provider_message_id="false_77011112233@c.us_V2")
        assert message_media_fetch(message_id=message.pk) == "fetched"
        message.refresh_from_db()
        assert message.media_url.startswith("http://alpha.localhost:8000/media/alpha/")
        assert message.meta["media"]["ref"] == link
        assert message_media_fetch(message_id=message.pk) == "skipped"
    fetches = [r for r in standin.requests if r.path.startswith("/media/")]
    assert len(fetches) == 1 and fetches[0].query == {"exp": "9999999999", "sig": "d" * 64}


def test_amocrm_leads_are_greeted_over_the_bridge_when_it_is_the_whatsapp_channel():
    from crmsync.intake import OUTBOUND, outbound_channel

    bridge = {"bridge_url": "http://bridge:3100", "session": "alpha", "secret": "s"}
    assert outbound_channel({"channels": {"wwebjs": bridge}}) == "wwebjs"
    assert OUTBOUND["wwebjs"] == ("whatsapp", "wwebjs")
    chatflow = {"token": "t", "instance_id": "i"}
    assert outbound_channel({"channels": {"wwebjs": bridge, "chatflow": chatflow}}) == "chatflow"
    assert outbound_channel({"channels": {"wwebjs": {**bridge, "secret": ""}}}) == "sandbox"
