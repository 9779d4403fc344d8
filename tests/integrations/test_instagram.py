"""Instagram Direct adapter: Meta's handshake and signature, every event of the messaging webhook (payloads as
Meta's documentation gives them), and the exact Graph API requests against a stand-in that checks them."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from integrations import instagram as ig
from integrations.base import InboundMessage, OutboundMessage, Reaction, SendError, StatusUpdate, Unsend, WebhookError
from integrations.media import MediaFetchError
from integrations.registry import channel
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

APP_SECRET = "ig-app-secret"
TOKEN = "IGAA-page-token"
OWN = "17841400000000001"  # the tenant's Instagram professional account id
IGSID = "1234567890123456"  # the client's Instagram-scoped id
CONFIG = {
    "api_url": "https://graph.example/v21.0",
    "ig_account_id": OWN,
    "page_access_token": TOKEN,
    "app_secret": APP_SECRET,
    "verify_token": "ig-verify",
}


def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def envelope(*events: dict, account: str = OWN) -> dict:
    """Meta's messaging notification: object, entry[{id, time, messaging[]}]."""
    return {"object": "instagram", "entry": [{"id": account, "time": 1735000000123, "messaging": list(events)}]}


def event(sender: str = IGSID, recipient: str = OWN, **fields) -> dict:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": 1735000000456, **fields}


def parse(payload: dict, config: dict = CONFIG) -> list:
    body = json.dumps(payload).encode()
    return ig.parse_webhook(body, sign(body), config)


def test_registered_as_the_instagram_channel() -> None:
    found = channel("instagram")
    assert (found.lead_channel, found.config_key, found.required_keys) == (
        "instagram",
        "instagram",
        ("app_secret", "ig_account_id"),
    )
    assert found.configured({"app_secret": "x", "ig_account_id": OWN})
    assert not found.configured({"app_secret": "x", "ig_account_id": OWN}, method="GET")
    assert not found.configured({"app_secret": "x"})


def test_subscription_handshake() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "ig-verify", "hub.challenge": "1158201444"}
    assert channel("instagram").verify_subscription(params, CONFIG) == "1158201444"
    with pytest.raises(WebhookError) as bad:
        channel("instagram").verify_subscription({**params, "hub.verify_token": "no"}, CONFIG)
    assert bad.value.status_code == 403


def test_text_message() -> None:
    [item] = parse(envelope(event(message={"mid": "aWdfZAG1faXRlbToxOklH", "text": "Сколько стоит дом?"})))
    assert isinstance(item, InboundMessage)
    assert (item.provider, item.provider_message_id, item.identity, item.phone, item.kind, item.text) == (
        "instagram",
        "aWdfZAG1faXRlbToxOklH",
        IGSID,
        None,
        "text",
        "Сколько стоит дом?",
    )
    assert item.timestamp.year == 2024  # milliseconds read as such


def test_attachments_image_video_audio_one_message_each() -> None:
    items = parse(
        envelope(
            event(
                message={
                    "mid": "m1",
                    "text": "смотрите",
                    "attachments": [
                        {
                            "type": "image",
                            "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"},
                        },
                        {
                            "type": "video",
                            "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2"},
                        },
                        {
                            "type": "audio",
                            "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=3"},
                        },
                    ],
                }
            )
        )
    )
    assert [(i.provider_message_id, i.kind, i.caption) for i in items] == [
        ("m1", "image", "смотрите"),
        ("m1:1", "video", None),
        ("m1:2", "audio", None),
    ]
    assert items[2].media_url.endswith("asset_id=3")
    assert channel("instagram").media_ref(items[0].media_url) == items[0].media_url


def test_story_mention_and_story_reply() -> None:
    mention, reply = parse(
        envelope(
            event(
                message={
                    "mid": "m-mention",
                    "attachments": [
                        {"type": "story_mention", "payload": {"url": "https://lookaside.fbsbx.com/story/1"}}
                    ],
                }
            ),
            event(
                message={
                    "mid": "m-reply",
                    "text": "А это сколько?",
                    "reply_to": {"story": {"url": "https://lookaside.fbsbx.com/story/2", "id": "1790"}},
                }
            ),
        )
    )
    assert (mention.kind, mention.media_url, mention.text) == (
        "image",
        "https://lookaside.fbsbx.com/story/1",
        "Instagram story mention",
    )
    assert (reply.kind, reply.text, reply.media_url) == (
        "image",
        "А это сколько?",
        "https://lookaside.fbsbx.com/story/2",
    )


def test_share_is_a_link_text_and_unsupported_is_kept() -> None:
    share, unsupported = parse(
        envelope(
            event(
                message={
                    "mid": "m-share",
                    "attachments": [{"type": "share", "payload": {"url": "https://instagr.am/p/X"}}],
                }
            ),
            event(message={"mid": "m-unsup", "is_unsupported": True}),
        )
    )
    assert (share.kind, share.text) == ("text", "https://instagr.am/p/X")
    assert (unsupported.kind, unsupported.provider_message_id) == ("unknown", "m-unsup")


def test_reaction_unreact_read_and_unsend() -> None:
    react, unreact, seen, unsend = parse(
        envelope(
            event(reaction={"mid": "m-ours", "action": "react", "reaction": "love", "emoji": "❤"}),
            event(reaction={"mid": "m-ours", "action": "unreact"}),
            event(read={"mid": "m-ours"}),
            event(message={"mid": "m-gone", "is_deleted": True}),
        )
    )
    assert isinstance(react, Reaction) and (react.target_message_id, react.emoji, react.identity) == (
        "m-ours",
        "❤",
        IGSID,
    )
    assert isinstance(unreact, Reaction) and unreact.emoji == ""
    assert isinstance(seen, StatusUpdate) and (seen.provider_message_id, seen.status) == ("m-ours", "read")
    assert isinstance(unsend, Unsend) and (unsend.target_message_id, unsend.identity) == ("m-gone", IGSID)


def test_echoes_and_other_accounts_events_are_skipped() -> None:
    items = parse(
        envelope(
            event(sender=OWN, recipient=IGSID, message={"mid": "m-echo", "text": "наш ответ", "is_echo": True}),
            event(recipient="17841499999999999", message={"mid": "m-other", "text": "чужой аккаунт"}),
            event(postback={"title": "Start", "payload": "START"}),
        )
    )
    assert items == []


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"object": "page", "entry": []}, "object"),
        ({"object": "instagram", "entry": {"id": OWN}}, "entry"),
        (envelope(event(sender="abc", message={"mid": "m", "text": "x"})), "sender.id"),
        (envelope(event(sender="1" * 40, message={"mid": "m", "text": "x"})), "sender.id"),
        (envelope(event(message={"text": "no mid"})), "message.mid"),
        (envelope(event(message={"mid": "m", "text": 5})), "message.text"),
        (
            envelope(
                event(message={"mid": "m", "attachments": [{"type": "image", "payload": {"url": "file:///etc"}}]})
            ),
            "url",
        ),
        (envelope(event(message={"mid": "m", "attachments": [{"type": "image"}] * 11})), "attachments"),
    ],
)
def test_malformed_is_400(payload: dict, reason: str) -> None:
    with pytest.raises(WebhookError) as exc:
        parse(payload)
    assert exc.value.status_code == 400 and reason in exc.value.detail


def test_bad_or_missing_signature_is_403() -> None:
    body = json.dumps(envelope(event(message={"mid": "m", "text": "x"}))).encode()
    for headers in ({}, sign(body, "other"), sign(body + b" ")):
        with pytest.raises(WebhookError) as exc:
            ig.parse_webhook(body, headers, CONFIG)
        assert exc.value.status_code == 403


# --- sending ---------------------------------------------------------------------------------------------


def live(standin: StandIn) -> dict:  # noqa: F811
    return {**CONFIG, "api_url": standin.url + "/v21.0"}


def test_send_text_within_the_window(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"recipient_id": IGSID, "message_id": "m-out-1"})
    result = ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text="Здравствуйте!"))
    assert result.provider_message_ids == ["m-out-1"]
    request = standin.last
    assert (request.method, request.path) == ("POST", f"/v21.0/{OWN}/messages")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == {
        "recipient": {"id": IGSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Здравствуйте!"},
    }


def test_send_image_with_caption_and_audio(standin: StandIn) -> None:  # noqa: F811
    for n in range(3):
        standin.reply(json={"recipient_id": IGSID, "message_id": f"m-{n}"})
    image = OutboundMessage(kind="image", to=IGSID, media_url="https://crm.example/media/a.jpg", caption="Фасад")
    assert ig.send(live(standin), image).provider_message_ids == ["m-0", "m-1"]
    assert [r.json["message"] for r in standin.requests] == [
        {"attachment": {"type": "image", "payload": {"url": "https://crm.example/media/a.jpg"}}},
        {"text": "Фасад"},
    ]
    voice = OutboundMessage(kind="voice", to=IGSID, media_url="https://crm.example/media/v.ogg")
    ig.send(live(standin), voice)
    assert standin.last.json["message"] == {
        "attachment": {"type": "audio", "payload": {"url": "https://crm.example/media/v.ogg"}}
    }


def test_huge_text_goes_in_parts_of_at_most_1000(standin: StandIn) -> None:  # noqa: F811
    text = ("слово " * 500).strip()
    ids = ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text=text)).provider_message_ids
    parts = [r.json["message"]["text"] for r in standin.requests]
    assert len(parts) >= 3 and all(len(p) <= 1000 for p in parts) and " ".join(parts) == text
    assert ids == []  # the stand-in's default answer carries no message_id


def test_window_closed_refuses_without_a_request_and_a_person_gets_the_human_agent_tag(standin: StandIn) -> None:  # noqa: F811
    with pytest.raises(SendError) as exc:
        ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text="AI"), window_open=False)
    assert not exc.value.retryable and "24-hour" in exc.value.detail and standin.requests == []
    standin.reply(json={"recipient_id": IGSID, "message_id": "m-h"})
    ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text="Менеджер", human_agent=True), window_open=False)
    assert standin.last.json == {
        "recipient": {"id": IGSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Менеджер"},
    }


def test_errors_retryable_or_not(standin: StandIn) -> None:  # noqa: F811
    standin.reply(400, {"error": {"message": "outside of allowed window", "code": 10, "error_subcode": 2018278}})
    with pytest.raises(SendError) as window:
        ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text="x"))
    assert not window.value.retryable and "2018278" in window.value.detail
    standin.reply(400, {"error": {"message": "rate limit", "code": 4}})
    with pytest.raises(SendError) as throttled:
        ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text="x"))
    assert throttled.value.retryable
    standin.reply(503, body=b"down")
    with pytest.raises(SendError) as down:
        ig.send(live(standin), OutboundMessage(kind="text", to=IGSID, text="x"))
    assert down.value.retryable
    with pytest.raises(SendError):  # documents are not an Instagram message
        ig.send(live(standin), OutboundMessage(kind="document", to=IGSID, media_url="https://x/y.pdf"))


def test_profile_name(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"name": "Айгерим", "username": "aigerim.k", "id": IGSID})
    assert ig.profile_name(live(standin), IGSID) == "Айгерим"
    assert (standin.last.path, standin.last.query, standin.last.headers["authorization"]) == (
        f"/v21.0/{IGSID}",
        {"fields": "name,username"},
        f"Bearer {TOKEN}",
    )
    standin.reply(json={"username": "aigerim.k", "id": IGSID})
    assert ig.profile_name(live(standin), IGSID) == "aigerim.k"
    standin.reply(400, {"error": {"message": "no", "code": 100}})
    assert ig.profile_name(live(standin), IGSID) is None
    assert ig.profile_name(live(standin), "../me") is None


def test_fetch_media_reads_the_cdn_url_bounded(standin: StandIn) -> None:  # noqa: F811
    standin.reply(body=b"\xff\xd8\xff" + b"0" * 100, headers={"Content-Type": "image/jpeg"})
    fetched = ig.fetch_media(CONFIG, standin.url + "/cdn/a", max_bytes=1000)
    assert fetched.content.startswith(b"\xff\xd8\xff") and standin.last.path == "/cdn/a"
    standin.reply(body=b"0" * 2000)
    with pytest.raises(MediaFetchError) as big:
        ig.fetch_media(CONFIG, standin.url + "/cdn/b", max_bytes=1000)
    assert big.value.too_large


def test_the_contracts_access_token_name_is_read_too(standin: StandIn) -> None:  # noqa: F811
    config = {k: v for k, v in live(standin).items() if k != "page_access_token"} | {"access_token": "IGAA-other"}
    ig.send(config, OutboundMessage(kind="text", to=IGSID, text="x"))
    assert standin.last.headers["authorization"] == "Bearer IGAA-other"
