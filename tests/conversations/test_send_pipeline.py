"""The one send pipeline with a real Celery worker against a local stand-in provider:
message row → task → adapter → provider; retries with backoff, failures with the provider's reason,
the Cloud API 24-hour window, and duplicate deliveries of the same task."""
from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from conversations.models import Message, MessageStatus
from conversations.services import message_send, message_send_by_user
from integrations import whatsapp_cloud
from leads.models import Lead
from tenants.models import TenantHealth
from tenants.services import tenant_config_import
from tests.conftest import user_of
from tests.integrations.standin import StandIn

pytestmark = pytest.mark.live

CF_OK = {"success": True, "messageId": "CF-OUT-1"}
TG_OK = {"ok": True, "result": {"message_id": 901, "chat": {"id": 555}}}
WA_OK = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT"}]}
WAIT_SECONDS = 30  # an upper bound for the worker, not a timing assertion


@pytest.fixture
def fast_retries(settings):
    settings.SEND_RETRY_BASE_SECONDS = 0.05
    settings.SEND_MAX_ATTEMPTS = 3
    return settings


def configure(tenant, standin: StandIn) -> None:
    tenant_config_import(tenant, {"channels": {
        "chatflow": {"api_url": standin.url + "/api/v1", "token": "cf-token", "instance_id": "inst-7"},
        "whatsapp_cloud": {"api_url": standin.url + "/v21.0", "phone_number_id": "1099", "access_token": "EAAG-tok",
                           "app_secret": "s", "verify_token": "v"},
        "telegram": {"api_url": standin.url, "bot_token": "123:ABC", "secret_token": "t"},
    }})


def make_lead(tenant, provider: str, identity: str, phone: str | None) -> int:
    from leads.services import lead_for_inbound

    with tenant_context(tenant):
        lead, _ = lead_for_inbound(provider=provider, identity=identity, phone=phone, name="Ерлан")
        Lead.objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now() - timedelta(minutes=5))
        return lead.pk


def send(tenant, lead_id: int, **kwargs) -> int:
    kwargs.setdefault("author_kind", "ai")
    with tenant_context(tenant), transaction.atomic():
        lead = Lead.objects.get(pk=lead_id)
        return message_send(lead=lead, **kwargs).pk


def settled(tenant, pk: int) -> Message:
    deadline = time.monotonic() + WAIT_SECONDS
    with tenant_context(tenant):
        while True:
            message = Message.objects.get(pk=pk)
            if message.status != MessageStatus.QUEUED or time.monotonic() > deadline:
                return message
            time.sleep(0.05)


def health(tenant) -> TenantHealth:
    return TenantHealth.objects.get(tenant=tenant)


# --- exact requests per channel -------------------------------------------------------------------------


def test_ai_text_over_chatflow_goes_queued_to_sent_with_the_exact_get(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = CF_OK
    lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
    pk = send(live_tenant, lead_id, text="Здравствуйте! Какой дом вы планируете?")
    with tenant_context(live_tenant):
        assert Message.objects.get(pk=pk).status in (MessageStatus.QUEUED, MessageStatus.SENT)
    message = settled(live_tenant, pk)
    assert message.status == MessageStatus.SENT, message.error
    assert message.provider_message_id == "CF-OUT-1" and message.attempts == 1 and message.sent_at
    [request] = standin.requests
    assert (request.method, request.path) == ("GET", "/api/v1/send-text")
    assert request.query == {"token": "cf-token", "instance_id": "inst-7", "jid": "77011112233@s.whatsapp.net",
                             "msg": "Здравствуйте! Какой дом вы планируете?"}
    assert health(live_tenant).last_send_ok_at is not None


def test_human_message_over_telegram_sends_message_json(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = TG_OK
    lead_id = make_lead(live_tenant, "telegram", "555", None)
    manager = user_of(live_tenant, "manager")
    with tenant_context(live_tenant), transaction.atomic():
        pk = message_send_by_user(lead=Lead.objects.get(pk=lead_id), user=manager, text="Я менеджер, звоню?").pk
    message = settled(live_tenant, pk)
    assert message.status == MessageStatus.SENT and message.provider_message_id == "555:901"
    assert (message.author_kind, message.author_user_id, message.purpose) == ("user", manager.pk, "human")
    [request] = standin.requests
    assert (request.method, request.path) == ("POST", "/bot123:ABC/sendMessage")
    assert request.json == {"chat_id": "555", "text": "Я менеджер, звоню?"}
    with tenant_context(live_tenant):
        assert Lead.objects.get(pk=lead_id).handler_id == manager.pk  # the person took the dialog over


def test_followup_over_whatsapp_cloud_posts_json_with_bearer(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = WA_OK
    lead_id = make_lead(live_tenant, "whatsapp", "77011112233", "77011112233")
    pk = send(live_tenant, lead_id, author_kind="system", purpose="followup", text="Подскажите, актуально?")
    message = settled(live_tenant, pk)
    assert message.status == MessageStatus.SENT and message.provider_message_id == "wamid.OUT"
    [request] = standin.requests
    assert (request.method, request.path) == ("POST", "/v21.0/1099/messages")
    assert request.headers["authorization"] == "Bearer EAAG-tok"
    assert request.json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "77011112233",
                            "type": "text", "text": {"preview_url": False, "body": "Подскажите, актуально?"}}


ALBUM = [{"url": "https://cdn.example/1.jpg", "caption": "Фасад"}, {"url": "https://cdn.example/2.jpg"}]


def test_kinds_over_chatflow(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = {"success": True}
    lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
    sends = [
        dict(kind="album", items=ALBUM),
        dict(kind="image", media_url="https://cdn.example/p.jpg", caption="Проект"),
        dict(kind="link", text="Наш каталог", media_url="https://example.kz/catalog"),
        dict(kind="voice", media_url="https://cdn.example/v.ogg"),
        dict(kind="document", media_url="https://cdn.example/price.pdf", caption="Прайс"),
    ]
    for kwargs in sends:
        message = settled(live_tenant, send(live_tenant, lead_id, **kwargs))
        assert message.status == MessageStatus.SENT, message.error
    got = [(r.path.rsplit("/", 1)[1], {k: v for k, v in r.query.items() if k not in ("token", "instance_id")})
           for r in standin.requests]
    jid = "77011112233@s.whatsapp.net"
    assert got == [
        ("send-image", {"jid": jid, "imageurl": "https://cdn.example/1.jpg", "caption": "Фасад"}),
        ("send-image", {"jid": jid, "imageurl": "https://cdn.example/2.jpg"}),
        ("send-image", {"jid": jid, "imageurl": "https://cdn.example/p.jpg", "caption": "Проект"}),
        ("send-text", {"jid": jid, "msg": "Наш каталог\nhttps://example.kz/catalog"}),
        ("send-audio", {"jid": jid, "audiourl": "https://cdn.example/v.ogg"}),
        ("send-doc", {"jid": jid, "docurl": "https://cdn.example/price.pdf", "caption": "Прайс"}),
    ]


def test_kinds_over_telegram(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = TG_OK
    lead_id = make_lead(live_tenant, "telegram", "555", None)
    standin.reply(json={"ok": True, "result": [{"message_id": 1, "chat": {"id": 555}},
                                               {"message_id": 2, "chat": {"id": 555}}]})
    for message_id in range(3, 7):  # Telegram message ids are unique per chat
        standin.reply(json={"ok": True, "result": {"message_id": message_id, "chat": {"id": 555}}})
    sends = [
        dict(kind="album", items=ALBUM),
        dict(kind="image", media_url="https://cdn.example/p.jpg", caption="Проект"),
        dict(kind="link", text="Каталог", media_url="https://example.kz/c"),
        dict(kind="voice", media_url="https://cdn.example/v.ogg"),
        dict(kind="document", media_url="https://cdn.example/price.pdf", caption="Прайс"),
    ]
    pks = []
    for kwargs in sends:
        pks.append(send(live_tenant, lead_id, **kwargs))
        assert settled(live_tenant, pks[-1]).status == MessageStatus.SENT
    with tenant_context(live_tenant):
        assert Message.objects.get(pk=pks[0]).meta["provider_ids"] == ["555:1", "555:2"]
    got = [(r.path.rsplit("/", 1)[1], r.json) for r in standin.requests]
    assert got == [
        ("sendMediaGroup", {"chat_id": "555", "media": [
            {"type": "photo", "media": "https://cdn.example/1.jpg", "caption": "Фасад"},
            {"type": "photo", "media": "https://cdn.example/2.jpg"}]}),
        ("sendPhoto", {"chat_id": "555", "photo": "https://cdn.example/p.jpg", "caption": "Проект"}),
        ("sendMessage", {"chat_id": "555", "text": "Каталог\nhttps://example.kz/c"}),
        ("sendVoice", {"chat_id": "555", "voice": "https://cdn.example/v.ogg"}),
        ("sendDocument", {"chat_id": "555", "document": "https://cdn.example/price.pdf", "caption": "Прайс"}),
    ]


def test_kinds_over_whatsapp_cloud(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = WA_OK
    lead_id = make_lead(live_tenant, "whatsapp", "77011112233", "77011112233")
    for n in range(4):  # Meta gives every message its own wamid
        standin.reply(json={"messaging_product": "whatsapp", "messages": [{"id": f"wamid.K{n}"}]})
    for kwargs in (dict(kind="album", items=ALBUM), dict(kind="voice", media_url="https://cdn.example/v.ogg"),
                   dict(kind="document", media_url="https://cdn.example/price.pdf", caption="Прайс")):
        assert settled(live_tenant, send(live_tenant, lead_id, **kwargs)).status == MessageStatus.SENT
    bodies = [{k: v for k, v in r.json.items() if k not in ("messaging_product", "recipient_type", "to")}
              for r in standin.requests]
    assert bodies == [
        {"type": "image", "image": {"link": "https://cdn.example/1.jpg", "caption": "Фасад"}},
        {"type": "image", "image": {"link": "https://cdn.example/2.jpg"}},
        {"type": "audio", "audio": {"link": "https://cdn.example/v.ogg"}},
        {"type": "document", "document": {"link": "https://cdn.example/price.pdf", "caption": "Прайс",
                                          "filename": "price.pdf"}},
    ]
    assert all(r.headers["authorization"] == "Bearer EAAG-tok" for r in standin.requests)


# --- failures -------------------------------------------------------------------------------------------


def test_5xx_then_200_is_retried_then_sent(worker, fast_retries, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = CF_OK
    standin.reply(502, {"success": False, "message": "bad gateway"})
    standin.reply(503, {"success": False, "message": "try later"})
    lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
    message = settled(live_tenant, send(live_tenant, lead_id, text="Добрый день"))
    assert message.status == MessageStatus.SENT and message.error == ""
    assert message.attempts == 3
    assert len(standin.requests) == 3
    assert {r.query["msg"] for r in standin.requests} == {"Добрый день"}


def test_always_5xx_fails_with_reason_health_and_lead_keeps_stage(worker, fast_retries, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.status, standin.default.json = 500, {"ok": False, "error_code": 500,
                                                         "description": "Internal Server Error: upstream down"}
    lead_id = make_lead(live_tenant, "telegram", "555", None)
    with tenant_context(live_tenant):
        stage_before = Lead.objects.get(pk=lead_id).stage_id
    message = settled(live_tenant, send(live_tenant, lead_id, text="Здравствуйте"))
    assert message.status == MessageStatus.FAILED
    assert "upstream down" in message.error and "sendMessage" in message.error
    assert message.attempts == 3 and len(standin.requests) == 3
    assert "upstream down" in health(live_tenant).last_error
    assert health(live_tenant).last_error_source == "telegram"
    with tenant_context(live_tenant):
        assert Lead.objects.get(pk=lead_id).stage_id == stage_before


def test_timeouts_fail_after_retries(worker, fast_retries, live_tenant, standin, monkeypatch):
    from integrations import base

    monkeypatch.setattr(base, "DEFAULT_TIMEOUT", httpx.Timeout(0.3))  # the provider is slower than our limit
    configure(live_tenant, standin)
    standin.default.delay, standin.default.json = 1.0, CF_OK
    lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
    message = settled(live_tenant, send(live_tenant, lead_id, text="Алло"))
    assert message.status == MessageStatus.FAILED
    assert "timed out" in message.error and message.attempts == 3
    assert "timed out" in health(live_tenant).last_error


def test_4xx_fails_at_once_without_retries(worker, fast_retries, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.status = 400
    standin.default.json = {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}
    lead_id = make_lead(live_tenant, "whatsapp", "77011112233", "77011112233")
    message = settled(live_tenant, send(live_tenant, lead_id, text="Здравствуйте"))
    assert message.status == MessageStatus.FAILED
    assert "Invalid parameter" in message.error and "100" in message.error
    assert message.attempts == 1 and len(standin.requests) == 1


def test_cloud_api_outside_24h_window_fails_without_a_request(worker, live_tenant, standin):
    configure(live_tenant, standin)
    standin.default.json = WA_OK
    lead_id = make_lead(live_tenant, "whatsapp", "77011112233", "77011112233")
    with tenant_context(live_tenant):
        Lead.objects.filter(pk=lead_id).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    message = settled(live_tenant, send(live_tenant, lead_id, text="Вы ещё думаете?"))
    assert message.status == MessageStatus.FAILED
    assert message.error == whatsapp_cloud.WINDOW_CLOSED_DETAIL and "24-hour" in message.error
    assert standin.requests == []


def test_a_duplicate_delivery_of_the_same_task_sends_once(worker, live_tenant, standin):
    from conversations.tasks import deliver_message

    configure(live_tenant, standin)
    standin.default.json, standin.default.delay = CF_OK, 0.3  # the first copy is still sending when others run
    lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
    with tenant_context(live_tenant), transaction.atomic():
        pk = message_send(lead=Lead.objects.get(pk=lead_id), author_kind="ai", text="Один раз").pk
        transaction.on_commit(lambda: [deliver_message.delay(pk, attempt=1) for _ in range(3)])
    message = settled(live_tenant, pk)
    assert message.status == MessageStatus.SENT
    time.sleep(1.0)  # give any stray copy the chance to (wrongly) send
    assert len(standin.requests) == 1
    with tenant_context(live_tenant):
        assert Message.objects.get(pk=pk).attempts == 1
    # a late redelivery after success is a no-op as well
    with tenant_context(live_tenant):
        deliver_message.delay(pk, attempt=1)
        deliver_message.delay(pk)
    time.sleep(0.5)
    assert len(standin.requests) == 1


def test_sends_of_one_tenant_never_use_another_tenants_channel(worker, live_tenant, standin):
    other = StandIn()
    try:
        configure(live_tenant, standin)
        standin.default.json = CF_OK
        other.default.json = CF_OK
        from tenants.models import Tenant

        beta = Tenant.objects.get(slug="beta")
        before = beta.config
        lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
        assert settled(live_tenant, send(live_tenant, lead_id, text="Привет")).status == MessageStatus.SENT
        assert len(standin.requests) == 1 and other.requests == []
        assert standin.last.query["token"] == "cf-token"
        assert Tenant.objects.get(slug="beta").config == before
    finally:
        other.close()


def _stale_queued(tenant, lead_id: int, text: str, minutes_ago: float) -> int:
    """A queued message whose delivery task never reached a worker (the broker was down at commit, or lost it)."""
    with tenant_context(tenant):
        message = Message.objects.create(lead_id=lead_id, direction="out", kind="text", text=text,
                                          status=MessageStatus.QUEUED, provider="chatflow", author_kind="ai")
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
        return message.pk


def test_queued_messages_no_worker_got_are_sent_by_the_stale_sweep_once(worker, live_tenant, standin):
    from conversations.tasks import requeue_stale
    from leads.services import lead_for_inbound
    from tenants.models import Tenant

    beta = Tenant.objects.get(slug="beta")
    configure(live_tenant, standin)
    standin.default.json = CF_OK
    lead_id = make_lead(live_tenant, "chatflow", "77011112233", "77011112233")
    stale = _stale_queued(live_tenant, lead_id, "Потерянное", minutes_ago=10)
    fresh = _stale_queued(live_tenant, lead_id, "Ещё в пути", minutes_ago=1)
    with tenant_context(beta):
        other_lead, _ = lead_for_inbound(provider="chatflow", identity="77019998877", phone="77019998877", name="Б")
    other = _stale_queued(beta, other_lead.pk, "Чужое", minutes_ago=10)
    with tenant_context(live_tenant):
        requeue_stale.delay()
        requeue_stale.delay()  # two beats at once: still one send
    assert settled(live_tenant, stale).status == MessageStatus.SENT
    time.sleep(0.5)
    assert [r.query["msg"] for r in standin.requests] == ["Потерянное"]
    with tenant_context(live_tenant):
        assert Message.objects.get(pk=fresh).status == MessageStatus.QUEUED  # not stale yet: its task may come
    with tenant_context(beta):
        assert Message.objects.filter(pk=other, status=MessageStatus.QUEUED, attempts=0).exists()
        Lead.objects.filter(pk=other_lead.pk).delete()  # beta is shared by the session: leave it as found


def test_an_attempt_whose_worker_died_is_made_again_by_the_stale_sweep(worker, live_tenant, standin):
    """A worker killed mid-send leaves its message claimed (attempts=1) and queued, and a redelivered task finds
    the attempt taken: once the claim is stale the sweep hands the message over for its next attempt, which
    goes out once; a recent claim (its worker may still be sending) is left alone. (tests/faults does this with
    real workers killed by SIGKILL.)"""
    from conversations.services import messages_requeue_stale

    configure(live_tenant, standin)
    standin.default.json = CF_OK
    lead_id = make_lead(live_tenant, "chatflow", "77011112244", "77011112244")
    abandoned = _stale_queued(live_tenant, lead_id, "Оборвалось на полуслове", minutes_ago=10)
    sending = _stale_queued(live_tenant, lead_id, "Уходит прямо сейчас", minutes_ago=10)
    with tenant_context(live_tenant):
        Message.objects.filter(pk=abandoned).update(attempts=1, claimed_at=timezone.now() - timedelta(minutes=6))
        Message.objects.filter(pk=sending).update(attempts=1, claimed_at=timezone.now())
        assert messages_requeue_stale() == 1
    message = settled(live_tenant, abandoned)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert [r.query["msg"] for r in standin.requests] == ["Оборвалось на полуслове"]
    with tenant_context(live_tenant):
        assert Message.objects.filter(pk=sending, status=MessageStatus.QUEUED, attempts=1).exists()
        assert messages_requeue_stale() == 0


# --- a batch queued at once (the follow-up sweep) --------------------------------------------------------


def test_a_batch_goes_as_one_task_retries_on_its_own_and_publishes_each_lead_once(worker, fast_retries,
                                                                                    live_tenant, standin):
    from conversations.services import outbound_batch
    from conversations.tasks import deliver_messages

    configure(live_tenant, standin)
    standin.default.json = CF_OK  # the same provider id for every message: only the first keeps it
    standin.reply(503, {"success": False, "message": "try later"})  # the batch's first request only
    leads = [make_lead(live_tenant, "chatflow", f"7701555000{n}", f"7701555000{n}") for n in range(3)]
    with tenant_context(live_tenant), outbound_batch(), transaction.atomic():
        pks = [message_send(lead=Lead.objects.get(pk=lead_id), author_kind="ai", text=f"Касание {n}",
                            purpose="followup").pk for n, lead_id in enumerate(leads)]
        with pytest.raises(RuntimeError), transaction.atomic():  # a rolled-back savepoint queues nothing
            message_send(lead=Lead.objects.get(pk=leads[0]), author_kind="ai", text="не уйдёт", purpose="followup")
            raise RuntimeError
    messages = [settled(live_tenant, pk) for pk in pks]
    assert [m.status for m in messages] == [MessageStatus.SENT] * 3
    assert [m.attempts for m in messages] == [2, 1, 1]  # the first one was retried by a task of its own
    assert sorted(m.provider_message_id or "" for m in messages) == ["", "", "CF-OUT-1"]
    assert all(m.meta["provider_ids"] == ["CF-OUT-1"] for m in messages)
    assert sorted(r.query["msg"] for r in standin.requests) == ["Касание 0", "Касание 0", "Касание 1", "Касание 2"]
    with tenant_context(live_tenant):
        assert not Message.objects.filter(text="не уйдёт").exists()
        # the same batch again (a redelivered task) sends nothing twice
        assert deliver_messages(pks) == 0
    assert len(standin.requests) == 4
