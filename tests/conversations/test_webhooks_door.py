"""The webhook door: a URL's token opens only its own provider, only once the tenant configured that provider;
a rotated token closes the old URL at once; each URL is rate-limited in Redis (429 with Retry-After), and a
Redis that is down or hanging never refuses or fails a webhook."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from conversations.models import InboundEvent, Message
from core.redis_client import redis_client
from integrations import retell
from tenants.models import WebhookToken
from tenants.selectors import WEBHOOK_PROVIDERS
from tenants.services import tenant_config_import, webhook_token_rotate
from tests.conftest import webhook_path
from tests.conversations.test_webhooks import (
    APP_SECRET,
    TG_SECRET,
    VERIFY_TOKEN,
    chatflow_event,
    tg_update,
    wa_envelope,
    wa_sign,
)

pytestmark = pytest.mark.django_db
AMO_BODY = "leads[add][0][id]=4101&leads[add][0][status_id]=142&account[subdomain]=buildco&account[id]=30000001"


IG_ACCOUNT = "17841400000000001"
RETELL_KEY = "key_door_retell"
BRIDGE_SECRET = "b" * 64


@pytest.fixture
def web():
    return Client(HTTP_HOST=settings.PUBLIC_DOMAIN)


@pytest.fixture
def every_provider(tenant_a):
    tenant_config_import(tenant_a, {
        "channels": {
            "chatflow": {"api_url": "http://127.0.0.1:9/api/v1", "token": "cf-token", "instance_id": "inst-1"},
            "whatsapp_cloud": {"api_url": "http://127.0.0.1:9", "phone_number_id": "1099", "access_token": "EAAG",
                               "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
            "telegram": {"api_url": "http://127.0.0.1:9", "bot_token": "1:abc", "secret_token": TG_SECRET},
            "instagram": {"api_url": "http://127.0.0.1:9", "ig_account_id": IG_ACCOUNT, "app_secret": APP_SECRET,
                          "verify_token": VERIFY_TOKEN},
            "wwebjs": {"bridge_url": "http://127.0.0.1:9", "session": "door", "secret": BRIDGE_SECRET}},
        "amocrm": {"base_url": "https://buildco.amocrm.ru", "account_id": 30000001, "access_token": "amo"},
        "voice_calls": {"retell": {"api_key": RETELL_KEY}},
    })
    return tenant_a


@pytest.fixture
def rate_keys():
    """The rate limit's Redis keys start empty (earlier tests posted to the same tenants' URLs)."""
    client = redis_client()
    for key in client.scan_iter("webhook-rate:*"):
        client.delete(key)
    yield
    for key in client.scan_iter("webhook-rate:*"):
        client.delete(key)


def send(web, provider: str, path: str, n: int = 1):
    """A valid webhook of `provider` (signed where the provider signs) posted to `path`."""
    if provider == "chatflow":
        return web.post(path, json.dumps(chatflow_event(f"DOOR-{n}")), content_type="application/json")
    if provider == "whatsapp":
        body = json.dumps(wa_envelope([{"from": "77011112233", "id": f"wamid.DOOR-{n}", "type": "text",
                                        "text": {"body": "hi"}}])).encode()
        return web.generic("POST", path, body, content_type="application/json", **wa_sign(body))
    if provider == "telegram":
        return web.post(path, json.dumps(tg_update(message_id=n)), content_type="application/json",
                        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET)
    if provider == "retell":
        body = json.dumps({"event": "call_started", "call": {"call_id": f"call-DOOR-{n}"}}).encode()
        return web.generic("POST", path, body, content_type="application/json",
                           HTTP_X_RETELL_SIGNATURE=retell.sign(body, RETELL_KEY))
    if provider == "instagram":
        body = json.dumps({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1735000000, "messaging": [
            {"sender": {"id": "1234567890123456"}, "recipient": {"id": IG_ACCOUNT}, "timestamp": 1735000000000,
             "message": {"mid": f"ig-DOOR-{n}", "text": "hi"}}]}]}).encode()
        return web.generic("POST", path, body, content_type="application/json", **wa_sign(body))
    if provider == "wwebjs":
        body = json.dumps({"event": "message", "message": {"id": f"false_77011112233@c.us_DOOR{n}", "type": "chat",
                                                          "from": "77011112233@c.us", "body": "hi",
                                                          "timestamp": 1735000000}}).encode()
        signature = hmac.new(BRIDGE_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return web.generic("POST", path, body, content_type="application/json", HTTP_X_BRIDGE_SIGNATURE=signature)
    return web.post(path, AMO_BODY.replace("4101", str(4100 + n)), content_type="application/x-www-form-urlencoded")


def stored(tenant) -> int:
    with tenant_context(tenant):
        return Message.objects.count() + InboundEvent.objects.count()


def token_of(tenant, provider: str) -> str:
    return WebhookToken.objects.get(tenant=tenant, provider=provider).token


# --- tokens and configuration -----------------------------------------------------------------------------


def test_every_provider_has_its_own_token(every_provider):
    tokens = {p: token_of(every_provider, p) for p in WEBHOOK_PROVIDERS}
    assert len(set(tokens.values())) == len(WEBHOOK_PROVIDERS)
    assert every_provider.webhook_key not in tokens.values()


@pytest.mark.parametrize("provider", list(WEBHOOK_PROVIDERS))
def test_a_token_opens_only_its_own_providers_url(web, every_provider, provider):
    """Whoever saw one provider's URL cannot post as another provider: 404, nothing stored."""
    assert send(web, provider, webhook_path(every_provider, provider)).status_code == 200
    before = stored(every_provider)
    for other in WEBHOOK_PROVIDERS:
        if other != provider:
            path = f"/webhooks/{other}/{token_of(every_provider, provider)}/"
            res = send(web, other, path, n=2)
            assert res.status_code == 404, (provider, other)
            assert res.json()["detail"] == "unknown webhook key"
    assert stored(every_provider) == before


def test_the_tenants_old_webhook_key_opens_nothing(web, every_provider):
    for provider in WEBHOOK_PROVIDERS:
        assert send(web, provider, f"/webhooks/{provider}/{every_provider.webhook_key}/").status_code == 404
    assert stored(every_provider) == 0


@pytest.mark.parametrize("provider,section,missing", [
    ("chatflow", {"channels": {"chatflow": {"token": "cf-token"}}}, "instance_id"),
    ("chatflow", {"channels": {"chatflow": {"instance_id": "inst-1"}}}, "token"),
    ("whatsapp", {"channels": {"whatsapp_cloud": {"phone_number_id": "1", "access_token": "a"}}}, "app_secret"),
    ("telegram", {"channels": {"telegram": {"secret_token": TG_SECRET}}}, "bot_token"),
    ("telegram", {"channels": {"telegram": {"bot_token": "1:abc"}}}, "secret_token"),
    ("instagram", {"channels": {"instagram": {"app_secret": APP_SECRET}}}, "ig_account_id"),
    ("instagram", {"channels": {"instagram": {"ig_account_id": IG_ACCOUNT}}}, "app_secret"),
    ("wwebjs", {"channels": {"wwebjs": {"bridge_url": "http://b", "session": "door"}}}, "secret"),
    ("wwebjs", {"channels": {"wwebjs": {"secret": BRIDGE_SECRET, "session": "door"}}}, "bridge_url"),
    ("amocrm", {"amocrm": {"account_id": 30000001, "access_token": "amo"}}, "base_url"),
    ("retell", {"voice_calls": {"retell": {"enabled": True, "agent_id": "a"}}}, "api_key"),
])
def test_a_half_configured_provider_is_404(web, tenant_a, provider, section, missing):
    tenant_config_import(tenant_a, section)
    res = send(web, provider, webhook_path(tenant_a, provider))
    assert res.status_code == 404, missing
    assert stored(tenant_a) == 0


def test_whatsapp_verification_needs_the_verify_token_configured(web, tenant_a):
    tenant_config_import(tenant_a, {"channels": {"whatsapp_cloud": {"app_secret": APP_SECRET}}})
    path = webhook_path(tenant_a, "whatsapp")
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42"}
    assert web.get(path, query).status_code == 404  # signed POSTs may come, the handshake may not
    assert send(web, "whatsapp", path).status_code == 200
    tenant_config_import(tenant_a, {"channels": {"whatsapp_cloud": {"verify_token": VERIFY_TOKEN}}})
    ok = web.get(path, {**query, "hub.verify_token": VERIFY_TOKEN})
    assert ok.status_code == 200 and ok.content == b"42"


def test_a_rotated_token_closes_the_old_url_at_once(web, every_provider):
    old = webhook_path(every_provider, "chatflow")
    others = {p: token_of(every_provider, p) for p in WEBHOOK_PROVIDERS if p != "chatflow"}
    assert send(web, "chatflow", old, n=1).status_code == 200
    webhook_token_rotate(tenant=every_provider, provider="chatflow", by="test")
    new = webhook_path(every_provider, "chatflow")
    assert new != old
    assert send(web, "chatflow", old, n=2).status_code == 404
    assert send(web, "chatflow", new, n=3).status_code == 200
    assert {p: token_of(every_provider, p) for p in others} == others  # the other URLs stay as they were
    with tenant_context(every_provider):
        assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == ["DOOR-1", "DOOR-3"]


def test_a_token_of_another_tenant_stores_only_into_that_tenant(web, every_provider, tenant_b):
    tenant_config_import(tenant_b, {"channels": {"chatflow": {"token": "b", "instance_id": "b"}}})
    assert send(web, "chatflow", webhook_path(tenant_b, "chatflow"), n=7).status_code == 200
    assert stored(every_provider) == 0
    with tenant_context(tenant_b):
        assert Message.objects.filter(provider_message_id="DOOR-7").count() == 1


# --- rate limit -------------------------------------------------------------------------------------------


def test_too_many_webhooks_on_one_url_get_429_with_retry_after(web, every_provider, tenant_b, rate_keys, settings):
    settings.WEBHOOK_RATE_PER_SECOND = 0.5  # one every 2 s …
    settings.WEBHOOK_RATE_BURST = 3  # … after a burst of 3
    path = webhook_path(every_provider, "chatflow")
    answers = [send(web, "chatflow", path, n=n) for n in range(1, 6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3]["Retry-After"] == "2" and "too many" in answers[3].json()["detail"]
    with tenant_context(every_provider):
        assert Message.objects.count() == 3  # a refused webhook stores nothing
    # The limit is per URL: the tenant's other providers and other tenants are not held up.
    assert send(web, "telegram", webhook_path(every_provider, "telegram"), n=1).status_code == 200
    tenant_config_import(tenant_b, {"channels": {"chatflow": {"token": "b", "instance_id": "b"}}})
    assert send(web, "chatflow", webhook_path(tenant_b, "chatflow"), n=9).status_code == 200


def test_unknown_tokens_and_unconfigured_providers_are_404_not_counted(web, tenant_a, rate_keys, settings):
    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 0.5, 1
    for _ in range(3):
        assert send(web, "chatflow", "/webhooks/chatflow/no-such-token/").status_code == 404
        assert send(web, "chatflow", webhook_path(tenant_a, "chatflow")).status_code == 404
    assert list(redis_client().scan_iter("webhook-rate:*")) == []


class CountingRedisProxy:
    """A TCP proxy in front of the test Redis that records the name of every command sent through it."""

    def __init__(self, upstream: str) -> None:
        from urllib.parse import urlsplit

        target = urlsplit(upstream)
        self.target, self.db = (target.hostname, target.port), target.path
        self.commands: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}{self.db}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        buffer = b""
        while chunk := source.recv(65536):
            sink.sendall(chunk)
            if requests:
                buffer = self._parse(buffer + chunk)

    def _parse(self, data: bytes) -> bytes:
        """Takes whole RESP arrays (`*N` then N bulk strings) off `data`, records each one's first word."""
        while data.startswith(b"*") and b"\r\n" in data:
            head, rest = data.split(b"\r\n", 1)
            words = []
            for _ in range(int(head[1:])):
                if b"\r\n" not in rest:
                    return data
                size, tail = rest.split(b"\r\n", 1)
                length = int(size[1:])
                if len(tail) < length + 2:
                    return data
                words.append(tail[:length])
                rest = tail[length + 2:]
            self.commands.append(words[0].decode().upper())
            data = rest
        return data

    def close(self) -> None:
        self.server.close()


def test_one_redis_round_trip_per_webhook(web, every_provider, rate_keys, settings):
    proxy = CountingRedisProxy(settings.REDIS_URL)
    try:
        settings.REDIS_URL = proxy.url  # what the webhook's Redis traffic goes through
        send(web, "chatflow", webhook_path(every_provider, "chatflow"), n=100)  # connects, loads the script
        proxy.commands.clear()
        for n in range(5):
            assert send(web, "chatflow", webhook_path(every_provider, "chatflow"), n=101 + n).status_code == 200
        assert proxy.commands == ["EVALSHA"] * 5
    finally:
        proxy.close()


def test_redis_down_lets_webhooks_through(web, every_provider, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 0.5, 1
    answers = [send(web, "chatflow", webhook_path(every_provider, "chatflow"), n=n).status_code for n in range(3)]
    assert answers == [200, 200, 200]


def test_a_hanging_redis_lets_webhooks_through(web, every_provider, settings):
    """A Redis that accepts and never answers: the limiter gives up after its short timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        settings.REDIS_URL = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
        settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 0.5, 1
        answers = [send(web, "chatflow", webhook_path(every_provider, "chatflow"), n=n).status_code
                   for n in range(2)]
        assert answers == [200, 200]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()

