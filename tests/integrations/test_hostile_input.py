"""Every webhook parser against hostile and real-world input (issue 12): the providers' documented payloads
(tests/integrations/payloads/, each naming its doc), identities (E.164 phones, WhatsApp privacy ids, nobody
else's contact card), reactions, and every class of malformed body. The answer is always a WebhookError
400/403 or items our storage accepts — never another exception (a 500 at the webhook URL)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations import chatflow, telegram
from integrations import whatsapp_cloud as wa
from integrations.base import (
    INBOUND_KINDS,
    InboundMessage,
    Reaction,
    StatusUpdate,
    WebhookError,
    load_json_object,
)

PAYLOADS = Path(__file__).parent / "payloads"
WA_SECRET = "hostile-app-secret"
TG_SECRET = "hostile-tg-secret"
CONFIGS = {
    "chatflow": {"token": "cf"},
    "whatsapp": {"api_url": "https://graph.example/v21.0", "app_secret": WA_SECRET, "verify_token": "v"},
    "telegram": {"secret_token": TG_SECRET},
}
PARSERS = {"chatflow": chatflow.parse_webhook, "whatsapp": wa.parse_webhook, "telegram": telegram.parse_webhook}
DOCUMENTED = {  # a documented payload of each provider that carries a client message
    "chatflow": "chatflow_text.json",
    "whatsapp": "whatsapp_text.json",
    "telegram": "telegram_contact_other.json",
}


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def headers_for(provider: str, body: bytes) -> dict[str, str]:
    if provider == "whatsapp":
        return {"X-Hub-Signature-256": "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()}
    if provider == "telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    return {}


def parse_body(provider: str, body: bytes) -> list:
    return PARSERS[provider](body, headers_for(provider, body), CONFIGS[provider])


def parse(provider: str, data) -> list:
    return parse_body(provider, json.dumps(data).encode())


def refused(provider: str, data, *, raw: bytes | None = None) -> WebhookError:
    with pytest.raises(WebhookError) as info:
        parse_body(provider, raw if raw is not None else json.dumps(data).encode())
    assert info.value.status_code == 400, info.value.detail
    return info.value


def only(provider: str, data) -> InboundMessage:
    [item] = parse(provider, data)
    assert isinstance(item, InboundMessage)
    return item


# --- what storage accepts ----------------------------------------------------------------------------

_ID = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff]{1,200}")


def storable_text(value: str | None) -> bool:
    if value is None:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def assert_storable(items: list) -> None:
    """What conversations_message, leads_lead and leads_leadidentity hold (see their columns)."""
    for item in items:
        if isinstance(item, InboundMessage):
            assert _ID.fullmatch(item.provider_message_id)
            assert _ID.fullmatch(item.identity) and len(item.identity) <= 64
            assert item.phone is None or re.fullmatch(r"[0-9]{1,15}", item.phone)
            assert item.name is None or (len(item.name) <= 150 and storable_text(item.name))
            assert storable_text(item.text) and storable_text(item.caption)
            assert item.mimetype is None or (len(item.mimetype) <= 100 and storable_text(item.mimetype))
            assert item.media_url is None or (len(item.media_url) <= 1000 and storable_text(item.media_url))
            assert item.kind in INBOUND_KINDS
            assert item.timestamp.tzinfo is not None
        elif isinstance(item, StatusUpdate):
            assert _ID.fullmatch(item.provider_message_id) and storable_text(item.error)
        else:
            assert isinstance(item, Reaction)
            assert _ID.fullmatch(item.target_message_id) and _ID.fullmatch(item.identity)
            assert storable_text(item.emoji) and len(item.emoji) <= 32


# --- the providers' documented payloads --------------------------------------------------------------


def test_documented_cloud_api_payloads() -> None:
    [text] = parse("whatsapp", payload("whatsapp_text.json"))
    assert (text.kind, text.text, text.phone, text.identity, text.name) == (
        "text", "Does it come in another color?", "16505551234", "16505551234", "Sheena Nelson")
    [button] = parse("whatsapp", payload("whatsapp_interactive_button_reply.json"))
    assert (button.kind, button.text) == ("text", "Cancel")
    statuses = parse("whatsapp", payload("whatsapp_statuses.json"))
    assert [(s.status, s.provider_message_id) for s in statuses] == [
        ("delivered", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"),
        ("read", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA")]


def test_cloud_api_shared_contact_is_text_never_the_senders_phone() -> None:
    [card] = parse("whatsapp", payload("whatsapp_contacts.json"))
    assert isinstance(card, InboundMessage) and card.kind == "text"
    assert card.text == "Barbara J. Johnson: +1 (940) 555-1234"
    assert card.phone == card.identity == "16505551234"  # the sender's `from`, not the card's 19405551234


def test_cloud_api_reaction_attaches_to_its_message() -> None:
    [reaction] = parse("whatsapp", payload("whatsapp_reaction.json"))
    assert isinstance(reaction, Reaction)
    assert reaction.target_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    assert (reaction.identity, reaction.emoji) == ("16505551234", "\U0001F600")
    [removed] = parse("whatsapp", payload("whatsapp_reaction_removed.json"))
    assert isinstance(removed, Reaction) and removed.emoji == ""


def test_telegram_only_the_senders_own_contact_gives_a_phone() -> None:
    own = only("telegram", payload("telegram_contact_own.json"))
    assert (own.phone, own.identity, own.text) == ("77017770011", "111222333", "Ivan Petrov: +77017770011")
    other = only("telegram", payload("telegram_contact_other.json"))
    assert other.phone is None and other.identity == "111222333"
    assert other.text == "Асель: 77017770011"
    no_user_id = payload("telegram_contact_own.json")
    del no_user_id["message"]["contact"]["user_id"]
    assert only("telegram", no_user_id).phone is None
    forwarded = payload("telegram_contact_own.json")
    forwarded["message"]["forward_origin"] = {"type": "hidden_user", "sender_user_name": "X", "date": 1}
    assert only("telegram", forwarded).phone is None


def test_telegram_message_reaction() -> None:
    [reaction] = parse("telegram", payload("telegram_message_reaction.json"))
    assert isinstance(reaction, Reaction)
    assert (reaction.target_message_id, reaction.identity, reaction.emoji) == ("111222333:20", "111222333", "👍")
    removed = payload("telegram_message_reaction.json")
    removed["message_reaction"]["new_reaction"] = []
    [reaction] = parse("telegram", removed)
    assert reaction.emoji == ""
    group = payload("telegram_message_reaction.json")
    group["message_reaction"]["chat"] = {"id": -100123, "type": "supergroup", "title": "G"}
    assert parse("telegram", group) == []


def test_chatflow_documented_text_privacy_id_contact_and_reaction() -> None:
    text = only("chatflow", payload("chatflow_text.json"))
    assert (text.identity, text.phone, text.name) == ("77011112233", "77011112233", "Ерлан")
    lid = only("chatflow", payload("chatflow_lid.json"))
    assert (lid.identity, lid.phone, lid.name) == ("123456789012345@lid", None, "Айгерим")
    card = only("chatflow", payload("chatflow_contact_message.json"))
    assert (card.kind, card.text, card.phone) == ("text", "Асель: +7 701 777 00 11", "77011112233")
    [reaction] = parse("chatflow", payload("chatflow_reaction.json"))
    assert isinstance(reaction, Reaction)
    assert (reaction.target_message_id, reaction.identity, reaction.emoji) == (
        "3EB0AI-REPLY-1", "77011112233", "👍")


def test_chatflow_contacts_array_and_vcard_in_text() -> None:
    data = payload("chatflow_contact_message.json")
    del data["contactMessage"]
    data["messageType"] = "contactsArrayMessage"
    data["message"] = {"contactsArrayMessage": {"displayName": "2 контакта", "contacts": [
        {"displayName": "Асель", "vcard": "BEGIN:VCARD\nFN:Асель\nTEL;waid=77017770011:+7 701 777 00 11\nEND:VCARD"},
        {"displayName": "Бек", "vcard": "BEGIN:VCARD\nFN:Бек\nTEL:+7 702 000 00 02\nEND:VCARD"}]}}
    card = only("chatflow", data)
    assert card.text == "Асель: +7 701 777 00 11\nБек: +7 702 000 00 02" and card.phone == "77011112233"
    data = payload("chatflow_contact_message.json")
    del data["contactMessage"]
    data["message"] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Асель\r\nTEL;type=CELL:+77017770011\r\nEND:VCARD"
    assert only("chatflow", data).text == "Асель: +77017770011"


# --- identities: E.164 phones, privacy ids, chats that are not people ---------------------------------


@pytest.mark.parametrize("user", ["1" * 40, "7" * 16, "12345678901234567890123"])
def test_a_phone_longer_than_e164_is_refused(user: str) -> None:
    data = payload("chatflow_text.json")
    data["metadata"]["remoteJid"] = f"{user}@s.whatsapp.net"
    assert "E.164" in refused("chatflow", data).detail
    cloud = payload("whatsapp_text.json")
    cloud["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = user
    assert "E.164" in refused("whatsapp", cloud).detail


@pytest.mark.parametrize("jid,identity,phone", [
    ("77011112233:12@s.whatsapp.net", "77011112233", "77011112233"),  # a linked device of the number
    ("77011112233@c.us", "77011112233", "77011112233"),
    ("123456789012345@lid", "123456789012345@lid", None),
    ("123456789012345:7@lid", "123456789012345@lid", None),
    ("98765432109876@hosted.lid", "98765432109876@hosted.lid", None),
])
def test_whatsapp_addresses(jid: str, identity: str, phone: str | None) -> None:
    data = payload("chatflow_text.json")
    data["metadata"]["remoteJid"] = jid
    message = only("chatflow", data)
    assert (message.identity, message.phone) == (identity, phone)


@pytest.mark.parametrize("jid", ["status@broadcast", "1234567890@broadcast", "120363025@newsletter",
                                 "120363025-1735@g.us"])
def test_chats_that_are_not_a_person_are_acknowledged_and_skipped(jid: str) -> None:
    data = payload("chatflow_text.json")
    data["metadata"]["remoteJid"] = jid
    assert parse("chatflow", data) == []


@pytest.mark.parametrize("jid", ["abc@lid", "1@example.com", f"{'1' * 41}@lid", "77011112233@s.whatsapp.net\x00"])
def test_malformed_whatsapp_addresses_are_400(jid: str) -> None:
    data = payload("chatflow_text.json")
    data["metadata"]["remoteJid"] = jid
    refused("chatflow", data)


# --- classes of malformed input, at every parser -------------------------------------------------------


def documented(provider: str) -> dict:
    return payload(DOCUMENTED[provider])


def message_part(provider: str, data: dict) -> dict:
    """The object holding the message's id, text and sender name in each provider's payload."""
    if provider == "chatflow":
        return data
    if provider == "whatsapp":
        return data["entry"][0]["changes"][0]["value"]["messages"][0]
    return data["message"]


def set_text(provider: str, data: dict, text: str) -> None:
    if provider == "chatflow":
        data["message"] = text
    elif provider == "whatsapp":
        message_part(provider, data)["text"]["body"] = text
    else:
        message = data["message"]
        del message["contact"]
        message["text"] = text


def set_name(provider: str, data: dict, name: str) -> None:
    if provider == "chatflow":
        data["metadata"]["sender"] = name
    elif provider == "whatsapp":
        data["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = name
    else:
        data["message"]["from"]["first_name"] = name
        data["message"]["from"].pop("last_name", None)


def set_id(provider: str, data: dict, value) -> None:
    if provider == "chatflow":
        data["metadata"]["messageId"] = value
    elif provider == "whatsapp":
        message_part(provider, data)["id"] = value
    else:
        data["message"]["message_id"] = value


def set_timestamp(provider: str, data: dict, value) -> None:
    if provider == "chatflow":
        data["metadata"]["timestamp"] = value
    elif provider == "whatsapp":
        message_part(provider, data)["timestamp"] = value
    else:
        data["message"]["date"] = value


@pytest.mark.parametrize("provider", PARSERS)
def test_json_nested_100000_deep_is_400(provider: str) -> None:
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert "nested" in refused(provider, None, raw=body).detail
    body = b"[" * 100_000 + b"]" * 100_000
    refused(provider, None, raw=body)
    data = documented(provider)
    deep: dict = {}
    for _ in range(80):  # parseable by Python, deeper than any webhook
        deep = {"x": deep}
    data["extra"] = deep
    assert "nested" in refused(provider, data).detail


@pytest.mark.parametrize("provider", PARSERS)
@pytest.mark.parametrize("body", [b"\xff\xfe{\x00}\x00", b"NaN", b"{" + b"1" * 5000 + b"}",
                                  b'{"x": ' + b"9" * 5000 + b"}", b"", b"\x00", b"[1, 2]", b'"text"'])
def test_bytes_that_are_not_a_json_object_are_400(provider: str, body: bytes) -> None:
    refused(provider, None, raw=body)


@pytest.mark.parametrize("provider", PARSERS)
@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_a_message_carrying_a_number_postgresql_cannot_store_is_400(provider: str, token: bytes) -> None:
    """Python's json reads these, jsonb (where the raw event is stored) refuses them: they were a 500."""
    body = json.dumps({**documented(provider), "extra": "TOKEN"}).encode().replace(b'"TOKEN"', token)
    refused(provider, None, raw=body)


@pytest.mark.parametrize("provider", PARSERS)
@pytest.mark.parametrize("encode", [lambda text: b"\xef\xbb\xbf" + text.encode(), lambda text: text.encode("utf-16"),
                                    lambda text: text.encode("utf-32-le")], ids=["bom", "utf-16", "utf-32"])
def test_a_message_not_in_utf8_is_400(provider: str, encode) -> None:
    """Python's json detects UTF-16/32 and a BOM; the raw event is stored as the body's UTF-8 text."""
    refused(provider, None, raw=encode(json.dumps(documented(provider))))


@pytest.mark.parametrize("provider", PARSERS)
def test_nul_and_lone_surrogates_in_text_and_name_are_cleaned_and_the_message_kept(provider: str) -> None:
    data = documented(provider)
    set_text(provider, data, "Цена\x00 дома \ud800?")
    set_name(provider, data, "Ер\x00лан \udfff")
    message = only(provider, data)
    assert message.text == "Цена дома \ufffd?"
    assert message.name == "Ерлан \ufffd"
    assert_storable([message])


@pytest.mark.parametrize("provider", PARSERS)
@pytest.mark.parametrize("value,reason", [("abc\x00", "control"), ("\ud800abc", "control"), ("x" * 10_000, "long"),
                                          ("y" * 201, "long")])
def test_ids_with_nul_surrogates_or_too_long_are_400(provider: str, value: str, reason: str) -> None:
    data = documented(provider)
    if provider == "telegram":  # Telegram ids are integers: a string of any kind is refused
        reason = "integer"
    set_id(provider, data, value)
    assert reason in refused(provider, data).detail


@pytest.mark.parametrize("provider", PARSERS)
@pytest.mark.parametrize("value", [1e20, -1e20, "nan", "-inf", "1e20", "soon", [1], {"t": 1}, True, 10**30, -1])
def test_timestamps_out_of_range_or_of_another_type_are_the_time_of_receipt(provider: str, value) -> None:
    data = documented(provider)
    set_timestamp(provider, data, value)
    before = datetime.now(UTC)
    message = only(provider, data)
    if value == -1:  # one second before 1970 is a date, just an old one
        assert message.timestamp == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    else:
        assert before - timedelta(seconds=1) <= message.timestamp <= datetime.now(UTC)


def _wa(mutate) -> dict:
    data = payload("whatsapp_text.json")
    mutate(data)
    return data


def _value(data: dict) -> dict:
    return data["entry"][0]["changes"][0]["value"]


WRONG_TYPES = [
    ("whatsapp", _wa(lambda d: d["entry"][0].update(changes=5)), "entry[].changes must be a list"),
    ("whatsapp", _wa(lambda d: d.update(entry={})), "entry"),
    ("whatsapp", _wa(lambda d: d.update(entry=[5])), "entry[] must be an object"),
    ("whatsapp", _wa(lambda d: d["entry"][0].update(changes=["x"])), "entry[].changes[] must be an object"),
    ("whatsapp", _wa(lambda d: d["entry"][0]["changes"][0].update(value=[])), "value must be an object"),
    ("whatsapp", _wa(lambda d: _value(d).update(messages="x")), "value.messages must be a list"),
    ("whatsapp", _wa(lambda d: _value(d).update(messages=5)), "value.messages must be a list"),
    ("whatsapp", _wa(lambda d: _value(d).update(contacts={"wa_id": 1})), "value.contacts must be a list"),
    ("whatsapp", _wa(lambda d: _value(d).update(statuses=[1])), "statuses[] items must be objects"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(text="hi")), "messages[].text must be an object"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0]["text"].update(body=5)), "text.body must be a string"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(type=7)), "messages[].type must be a string"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(id={"a": 1})), "messages[].id must be a string"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(**{"from": [1]})), "messages[].from must be"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(**{"from": "7701abc"})), "E.164"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(type="image", image={"id": {"x": 1}})),
     "messages[].image.id must be a string"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(type="location", location={"latitude": "north"})),
     "latitude must be a number"),
    ("whatsapp", _wa(lambda d: _value(d)["messages"][0].update(type="reaction", reaction={"emoji": "x"})),
     "missing messages[].reaction.message_id"),
]


def _cf(mutate) -> dict:
    data = payload("chatflow_text.json")
    mutate(data)
    return data


WRONG_TYPES += [
    ("chatflow", _cf(lambda d: d.update(metadata=[1, 2])), "metadata"),
    ("chatflow", _cf(lambda d: d["metadata"].update(remoteJid=77011112233)), "remoteJid must be a string"),
    ("chatflow", _cf(lambda d: d["metadata"].update(messageId=[1])), "messageId must be a string"),
    ("chatflow", _cf(lambda d: d["metadata"].update(messageId=True)), "messageId must be a string"),
    ("chatflow", _cf(lambda d: d.update(messageType=5)), "messageType must be a string"),
    ("chatflow", _cf(lambda d: d.update(message=5)), "message must be a string"),
    ("chatflow", _cf(lambda d: d.update(message=["x"])), "message must be a string"),
    ("chatflow", _cf(lambda d: d.update(mediaData="x")), "mediaData must be an object"),
    ("chatflow", _cf(lambda d: d.update(messageType="image", mediaData={"url": 5})), "mediaData.url must be"),
    ("chatflow", _cf(lambda d: d.update(messageType="image", mediaData={"caption": {}})), "caption must be"),
    ("chatflow", _cf(lambda d: d.update(messageType="location", location={"latitude": 91, "longitude": 0})),
     "latitude must be a number"),
    ("chatflow", _cf(lambda d: d.update(messageType="contactMessage", contactMessage=[1])),
     "contactMessage must be an object"),
]


def _tg(mutate) -> dict:
    data = payload("telegram_contact_other.json")
    mutate(data)
    return data


WRONG_TYPES += [
    ("telegram", _tg(lambda d: d.update(update_id="1")), "update_id must be an integer"),
    ("telegram", _tg(lambda d: d.update(message=[1])), "message must be an object"),
    ("telegram", _tg(lambda d: d["message"].update(chat={"id": "555", "type": "private"})), "chat.id must be"),
    ("telegram", _tg(lambda d: d["message"].update(chat={"id": 2**60, "type": "private"})), "chat.id must be"),
    ("telegram", _tg(lambda d: d["message"].update(message_id=1.5)), "message_id must be"),
    ("telegram", _tg(lambda d: d["message"].update(message_id={})), "message_id must be"),
    ("telegram", _tg(lambda d: d["message"].update(photo=[1, 2])), "message.photo[] must be an object"),
    ("telegram", _tg(lambda d: d["message"].update(photo={"file_id": "x"})), "message.photo must be a list"),
    ("telegram", _tg(lambda d: d["message"].update(text=5)), "message.text must be a string"),
    ("telegram", _tg(lambda d: d["message"].update(voice=5)), "message.voice must be an object"),
    ("telegram", _tg(lambda d: d["message"].update(voice={"file_id": ["x"]})), "file_id must be"),
    ("telegram", _tg(lambda d: d["message"].update(caption=5)), "message.caption must be a string"),
    ("telegram", _tg(lambda d: d["message"].update(contact="x")), "message.contact must be an object"),
    ("telegram", _tg(lambda d: d["message"].update(**{"from": "me"})), "message.from must be an object"),
    ("telegram", _tg(lambda d: d.update(message_reaction={"chat": {"id": 1}, "message_id": "x"})),
     "message_reaction.message_id must be"),
]


@pytest.mark.parametrize("provider,data,reason", WRONG_TYPES,
                         ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(WRONG_TYPES)])
def test_wrong_types_are_400_with_a_clear_detail(provider: str, data: dict, reason: str) -> None:
    assert reason in refused(provider, data).detail


def test_names_of_another_type_are_ignored_not_refused() -> None:
    """A display name is a hint: numbers or objects where a name should be lose the name, not the message."""
    data = payload("whatsapp_text.json")
    _value(data)["contacts"][0]["profile"]["name"] = 5
    assert only("whatsapp", data).name is None
    data = payload("telegram_contact_other.json")
    data["message"]["from"]["first_name"] = {"x": 1}
    assert only("telegram", data).name == "Petrov"
    data = payload("chatflow_text.json")
    data["metadata"]["sender"] = 5
    assert only("chatflow", data).name is None
    data["metadata"]["pushName"] = "x" * 1000
    assert only("chatflow", data).name == "x" * 150


def test_load_json_object_refusals_name_the_problem() -> None:
    with pytest.raises(WebhookError) as info:
        load_json_object(b"\xff")
    assert "UTF-8" in info.value.detail
    with pytest.raises(WebhookError) as info:
        load_json_object(b'{"t": NaN}')
    assert "NaN" in info.value.detail


# --- property-based: arbitrary input, at every parser -------------------------------------------------

# Values the classes above are made of, mixed into arbitrary JSON.
NASTY = st.sampled_from([
    "\x00", "a\x00b", "\ud800", "x\udfff", "😀", "9" * 40, "7" * 16, "1e20", "nan", "", " ", "x" * 10_000,
    "123456789012345@lid", "77011112233@s.whatsapp.net", "status@broadcast", 1e20, -1e20, 10**30, -(2**63), 2**53,
    0, -1, 1.5, True, False, None, [], {}, [1, 2], {"id": 1}, "BEGIN:VCARD\nFN:X\nTEL:+1\nEND:VCARD",
])
TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "\ud800", "\udc00"]), max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT | NASTY,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT | NASTY.filter(
        lambda v: isinstance(v, str)), children, max_size=4),
    max_leaves=25,
)


def paths(value, prefix=()) -> list[tuple]:
    """Every place in a JSON value (keys of objects, indexes of lists)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(data, path: tuple, value):
    if not path:
        return value
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


DOCUMENTED_BY_PROVIDER = {
    "chatflow": ["chatflow_text.json", "chatflow_lid.json", "chatflow_contact_message.json", "chatflow_reaction.json"],
    "whatsapp": ["whatsapp_text.json", "whatsapp_contacts.json", "whatsapp_reaction.json",
                 "whatsapp_interactive_button_reply.json", "whatsapp_statuses.json"],
    "telegram": ["telegram_contact_own.json", "telegram_contact_other.json", "telegram_message_reaction.json"],
}


@st.composite
def mutated(draw, provider: str) -> bytes:
    """A documented payload of `provider` with a few of its places replaced by arbitrary JSON."""
    data = payload(draw(st.sampled_from(DOCUMENTED_BY_PROVIDER[provider])))
    for _ in range(draw(st.integers(1, 3))):
        data = replaced(data, draw(st.sampled_from(paths(data))), draw(JSON))
    return json.dumps(data, allow_nan=True).encode()


def assert_raw_storable(body: bytes) -> None:
    """The raw event of an accepted body is stored as its own text in a jsonb column: UTF-8 without a BOM,
    JSON without NaN/Infinity or numbers beyond float range (escaped NUL and lone surrogates are cleaned on
    the way, see conversations.services._payload)."""
    text = body.decode("utf-8")
    assert not text.startswith("\ufeff")

    def refuse(token):
        raise AssertionError(f"{token} reached storage")

    def finite(token):
        assert math.isfinite(float(token)), token
        return float(token)

    json.loads(text, parse_constant=refuse, parse_float=finite)


def answer(provider: str, body: bytes) -> list | None:
    """The parser's answer: items (checked storable, and the body with them), or None for a 400/403 refusal;
    any other exception fails the test."""
    try:
        items = parse_body(provider, body)
    except WebhookError as exc:
        assert exc.status_code in (400, 403)
        return None
    assert_raw_storable(body)
    assert_storable(items)
    return items


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nested(body: bytes, depth: int) -> bytes:
    return b'{"a":' * depth + body + b"}" * depth


# Arbitrary bytes, alone or around a documented payload, sometimes in another encoding or nested deep.
BYTES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda head, name, tail: head + json.dumps(payload(name)).encode() + tail,
              st.binary(max_size=8), st.sampled_from(sorted(p.name for p in PAYLOADS.glob("*.json"))),
              st.binary(max_size=8)),
    st.builds(lambda name, codec: json.dumps(payload(name)).encode(codec),
              st.sampled_from(sorted(p.name for p in PAYLOADS.glob("*.json"))),
              st.sampled_from(["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])),
)


@pytest.mark.parametrize("provider", PARSERS)
@PROPERTY
@given(body=BYTES)
def test_arbitrary_bytes(provider: str, body: bytes) -> None:
    answer(provider, body)


@pytest.mark.parametrize("provider", PARSERS)
@PROPERTY
@given(data=JSON, depth=st.sampled_from([0, 0, 1, 70, 2_000, 100_000]))
def test_arbitrary_json(provider: str, data, depth: int) -> None:
    answer(provider, nested(json.dumps(data, allow_nan=True).encode(), depth))


@pytest.mark.parametrize("provider", PARSERS)
@PROPERTY
@given(data=st.data())
def test_documented_payloads_with_arbitrary_parts(provider: str, data) -> None:
    answer(provider, data.draw(mutated(provider)))


def test_the_strategies_reach_both_answers() -> None:
    """The property tests are not vacuous: mutated payloads yield both accepted items and refusals."""
    seen = set()

    @settings(max_examples=200, deadline=None, database=None)
    @given(body=mutated("whatsapp"))
    def run(body: bytes) -> None:
        seen.add(answer("whatsapp", body) is not None)

    run()
    assert seen == {True, False}


def test_floats_in_a_body_stay_finite() -> None:
    """What a parser accepted, PostgreSQL's jsonb accepts too: no NaN or infinity gets past load_json_object."""
    data = load_json_object(b'{"a": 1.5e300, "b": -2.5e-300}')
    assert all(math.isfinite(v) for v in data.values())
