"""Instagram Direct end to end: the webhook through the real view and database (Meta's handshake, signed events,
leads on the `instagram` channel keyed by IGSID, reactions, unsends, echoes, every hostile input, tenants apart),
the profile name looked up once per new lead and the send pipeline's 24 h / 7-day HUMAN_AGENT rules against a
stand-in Graph API that checks what we send."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from conversations.models import InboundEvent, Message, MessageStatus
from conversations.services import inbound_process_pending, lead_profile_fetch, message_deliver, message_send
from leads.models import Lead, LeadIdentity
from tenants.services import tenant_config_import
from tests.conftest import user_of, webhook_path

pytestmark = pytest.mark.django_db

APP_SECRET = "ig-app-secret"
VERIFY = "ig-verify"
OWN = "17841400000000001"
IGSID = "1234567890123456"
TOKEN = "IGAA-token-alpha"


def configure(tenant, api_url: str = "https://graph.example/v21.0", **overrides) -> None:
    section = {
        "api_url": api_url,
        "ig_account_id": OWN,
        "page_access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY,
        **overrides,
    }
    tenant_config_import(tenant, {"channels": {"instagram": section}})


@pytest.fixture
def web():
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def ig_a(tenant_a):
    configure(tenant_a)
    return tenant_a


def envelope(*events: dict) -> dict:
    return {"object": "instagram", "entry": [{"id": OWN, "time": 1735000000123, "messaging": list(events)}]}


def event(sender: str = IGSID, recipient: str = OWN, **fields) -> dict:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": 1735000000456, **fields}


def text_event(mid: str = "aWdfZAG1faXRlbTox", text: str = "Здравствуйте, сколько стоит дом?", **kw) -> dict:
    return envelope(event(message={"mid": mid, "text": text}, **kw))


def signed(body: bytes, secret: str = APP_SECRET) -> dict:
    return {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def post(web, tenant, payload, secret: str = APP_SECRET, body: bytes | None = None):
    body = body if body is not None else json.dumps(payload).encode()
    return web.generic(
        "POST", webhook_path(tenant, "instagram"), body, content_type="application/json", **signed(body, secret)
    )


def drain(tenant) -> int:
    with tenant_context(tenant):
        return inbound_process_pending()


def test_subscription_handshake(web, ig_a):
    path = webhook_path(ig_a, "instagram")
    ok = web.get(path, {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert web.get(path, {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}).status_code == 403


def test_a_client_message_makes_an_instagram_lead_keyed_by_igsid(web, ig_a):
    res = post(web, ig_a, text_event())
    assert res.status_code == 200, res.content
    assert post(web, ig_a, text_event()).status_code == 200  # Meta's retry of the same message
    assert drain(ig_a) == 1
    with tenant_context(ig_a):
        message = Message.objects.get()
        assert (message.provider, message.provider_message_id, message.kind, message.text) == (
            "instagram",
            "aWdfZAG1faXRlbTox",
            "text",
            "Здравствуйте, сколько стоит дом?",
        )
        lead = Lead.objects.get()
        assert (lead.channel, lead.provider, lead.phone) == ("instagram", "instagram", "")
        assert LeadIdentity.objects.get().identity == IGSID and message.lead_id == lead.pk


def test_media_story_and_several_attachments(web, ig_a):
    payload = envelope(
        event(
            message={
                "mid": "m-photos",
                "attachments": [
                    {"type": "image", "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}},
                    {"type": "image", "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2"}},
                ],
            }
        ),
        event(
            message={
                "mid": "m-story",
                "text": "Это сколько?",
                "reply_to": {"story": {"url": "https://lookaside.fbsbx.com/story/9", "id": "1790"}},
            }
        ),
    )
    assert post(web, ig_a, payload).status_code == 200
    assert drain(ig_a) == 3
    with tenant_context(ig_a):
        rows = list(Message.objects.values_list("provider_message_id", "kind", "media_url"))
    assert rows == [
        ("m-photos", "image", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"),
        ("m-photos:1", "image", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2"),
        ("m-story", "image", "https://lookaside.fbsbx.com/story/9"),
    ]


def test_echoes_and_events_of_another_account_store_no_message(web, ig_a):
    payload = envelope(
        event(sender=OWN, recipient=IGSID, message={"mid": "m-echo", "text": "наш ответ", "is_echo": True}),
        event(recipient="17841499999999999", message={"mid": "m-foreign", "text": "не вам"}),
    )
    assert post(web, ig_a, payload).status_code == 200
    with tenant_context(ig_a):
        assert Message.objects.count() == 0 and Lead.objects.count() == 0
        assert InboundEvent.objects.count() == 1  # the raw event is kept, as for every webhook


def test_a_reaction_attaches_to_our_message_and_an_unsend_marks_the_clients_deleted(web, ig_a):
    post(web, ig_a, text_event(mid="m-client"))
    drain(ig_a)
    with tenant_context(ig_a):
        lead = Lead.objects.get()
        ours = Message.objects.create(
            lead=lead,
            direction="out",
            text="Дом от 10 млн",
            provider="instagram",
            provider_message_id="m-ours",
            status="sent",
            author_kind="ai",
        )
    payload = envelope(
        event(reaction={"mid": "m-ours", "action": "react", "reaction": "love", "emoji": "❤"}),
        event(read={"mid": "m-ours"}),
        event(message={"mid": "m-client", "is_deleted": True}),
    )
    assert post(web, ig_a, payload).status_code == 200
    with tenant_context(ig_a):
        ours.refresh_from_db()
        assert ours.meta["reaction"]["emoji"] == "❤" and ours.status == MessageStatus.READ
        client = Message.objects.get(provider_message_id="m-client")
        assert client.deleted_at is not None and client.text  # marked, never erased
        assert Message.objects.count() == 2  # neither became a message of its own
    # somebody else cannot unsend this client's message
    assert (
        post(web, ig_a, envelope(event(sender="999", message={"mid": "m-ours", "is_deleted": True}))).status_code == 200
    )
    with tenant_context(ig_a):
        assert Message.objects.get(pk=ours.pk).deleted_at is None
        assert "unsend" in InboundEvent.objects.order_by("-id").first().error


def test_hostile_inputs(web, ig_a, settings):
    assert post(web, ig_a, text_event(), secret="another").status_code == 403
    body = json.dumps(text_event()).encode()
    res = web.generic("POST", webhook_path(ig_a, "instagram"), body, content_type="application/json")
    assert res.status_code == 403 and "X-Hub-Signature-256" in res.json()["detail"]
    assert post(web, ig_a, None, body=b"{broken").status_code == 400
    assert post(web, ig_a, text_event(sender="../../me")).status_code == 400
    assert post(web, ig_a, {"object": "instagram", "entry": [{"messaging": "x"}]}).status_code == 400
    assert post(web, ig_a, None, body=b"{" + b" " * (1024 * 1024) + b"}").status_code == 413
    assert web.post("/webhooks/instagram/not-a-token/", b"{}", content_type="application/json").status_code == 404
    with tenant_context(ig_a):
        assert Message.objects.count() == 0
    # a huge text (well under the body limit) is one stored message, whole
    huge = "дом " * 50_000
    assert post(web, ig_a, text_event(mid="m-huge", text=huge)).status_code == 200
    drain(ig_a)
    with tenant_context(ig_a):
        assert Message.objects.get(provider_message_id="m-huge").text == huge


def test_not_configured_is_404_even_with_the_right_token(web, tenant_b):
    assert post(web, tenant_b, text_event()).status_code == 404
    configure(tenant_b, ig_account_id="")
    assert post(web, tenant_b, text_event()).status_code == 404  # no account id: no way to tell ours apart
    configure(tenant_b, verify_token="")
    res = web.get(
        webhook_path(tenant_b, "instagram"), {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    )
    assert res.status_code == 404


def test_tenants_stay_apart(web, ig_a, tenant_b):
    configure(tenant_b, app_secret="b-secret")
    assert post(web, tenant_b, text_event()).status_code == 403  # tenant A's signature on B's URL
    assert post(web, tenant_b, text_event(), secret="b-secret").status_code == 200
    assert post(web, ig_a, text_event()).status_code == 200
    drain(ig_a), drain(tenant_b)
    for tenant in (ig_a, tenant_b):
        with tenant_context(tenant):
            assert Message.objects.count() == 1 and Lead.objects.count() == 1
    # B's client "reacting" to A's message id through B's URL touches nothing of A's
    with tenant_context(ig_a):
        Message.objects.create(
            lead=Lead.objects.get(),
            direction="out",
            text="A",
            provider="instagram",
            provider_message_id="m-a-out",
            status="sent",
            author_kind="ai",
        )
    post(
        web, tenant_b, envelope(event(reaction={"mid": "m-a-out", "action": "react", "emoji": "👍"})), secret="b-secret"
    )
    with tenant_context(ig_a):
        assert "reaction" not in Message.objects.get(provider_message_id="m-a-out").meta


def test_the_profile_name_is_fetched_once_per_new_lead(web, tenant_a, standin):
    configure(tenant_a, api_url=standin.url + "/v21.0")
    standin.reply(json={"name": "Айгерим", "username": "aigerim.k", "id": IGSID})
    post(web, tenant_a, text_event())
    drain(tenant_a)
    with tenant_context(tenant_a):
        lead = Lead.objects.get()
        assert lead_profile_fetch(lead_id=lead.pk) == "fetched"
        assert Lead.objects.get().name == "Айгерим"
        assert lead_profile_fetch(lead_id=lead.pk) == "skipped"  # once: a name is there
    [request] = standin.requests
    assert (request.path, request.query, request.headers["authorization"]) == (
        f"/v21.0/{IGSID}",
        {"fields": "name,username"},
        f"Bearer {TOKEN}",
    )


# --- the send pipeline ----------------------------------------------------------------------------------------


def lead_last_wrote(tenant, ago: timedelta) -> Lead:
    from leads.services import lead_for_inbound

    with tenant_context(tenant):
        lead, _ = lead_for_inbound(provider="instagram", identity=IGSID, phone=None, name="Айгерим")
        Lead.objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now() - ago)
        return Lead.objects.get(pk=lead.pk)


def deliver(tenant, lead: Lead, **fields) -> Message:
    with tenant_context(tenant):
        with transaction.atomic():
            message = message_send(lead=lead, **fields)
        message_deliver(message_id=message.pk)
        message.refresh_from_db()
        return message


@pytest.mark.parametrize(
    "ago, author, expected",
    [
        (timedelta(hours=2), "ai", {"messaging_type": "RESPONSE"}),
        (timedelta(days=2), "user", {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
        (timedelta(days=2), "ai", None),  # the AI never sends outside 24 h
        (timedelta(days=8), "user", None),  # nor a person after 7 days
    ],
)
def test_window_rules(tenant_a, standin, ago, author, expected):
    configure(tenant_a, api_url=standin.url + "/v21.0")
    standin.reply(json={"recipient_id": IGSID, "message_id": "m-out"})
    lead = lead_last_wrote(tenant_a, ago)
    fields = {"author_kind": author, "text": "Здравствуйте"}
    if author == "user":
        fields["author_user"] = user_of(tenant_a, "manager")
    message = deliver(tenant_a, lead, **fields)
    if expected is None:
        assert message.status == MessageStatus.FAILED and "24-hour" in message.error and standin.requests == []
        return
    assert message.status == MessageStatus.SENT and message.provider_message_id == "m-out"
    assert standin.last.path == f"/v21.0/{OWN}/messages"
    assert standin.last.json == {"recipient": {"id": IGSID}, **expected, "message": {"text": "Здравствуйте"}}


def test_a_clients_photo_is_fetched_from_the_cdn_url_once(web, tenant_a, standin, settings, tmp_path):
    import io

    from PIL import Image

    from conversations.services import message_media_fetch

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT = "http", 8000
    configure(tenant_a)
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 30, 30)).save(buffer, "PNG")
    cdn = f"{standin.url}/ig_messaging_cdn/?asset_id=1&signature=x"
    payload = envelope(event(message={"mid": "m-photo", "attachments": [{"type": "image", "payload": {"url": cdn}}]}))
    assert post(web, tenant_a, payload).status_code == 200
    drain(tenant_a)
    standin.reply(body=buffer.getvalue(), headers={"Content-Type": "image/png"})
    with tenant_context(tenant_a):
        message = Message.objects.get(provider_message_id="m-photo")
        assert message_media_fetch(message_id=message.pk) == "fetched"
        message.refresh_from_db()
        assert (
            message.media_url.startswith("http://alpha.localhost:8000/media/alpha/") and message.mimetype == "image/png"
        )
        assert message.meta["media"]["ref"] == cdn
        assert message_media_fetch(message_id=message.pk) == "skipped"
    [request] = standin.requests
    assert request.path == "/ig_messaging_cdn/" and "authorization" not in request.headers  # a signed URL, no token
