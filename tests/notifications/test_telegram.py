"""Telegram linking through the real webhook: the user's one-time code, sent to the tenant's bot as "/start CODE" (or
the bare code), links their chat — and never becomes a client's message or a lead. Codes are single use, expire after
10 minutes and belong to their tenant. Then notifications go to the chat as the bot's sendMessage."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from conversations.models import Message
from core.events import emit
from leads.models import Lead
from notifications.models import NotificationPrefs, TelegramLinkCode
from notifications.services import telegram_code_new
from tenants.services import tenant_config_import
from tests.conftest import user_of, webhook_path
from tests.integrations.standin import StandIn, standin  # noqa: F401
from tests.leads.conftest import make_lead

SECRET = "tg-secret-n"
BOT = "1:abc"


@pytest.fixture
def bot(tenant_a, standin):  # noqa: F811
    tenant_config_import(tenant_a, {"channels": {"telegram": {"api_url": standin.url, "bot_token": BOT,
                                                              "secret_token": SECRET}}})
    tenant_a.refresh_from_db()
    return standin


def send_to_bot(tenant, text: str, *, chat_id: int = 777, message_id: int = 1):
    update = {"update_id": 5000 + message_id, "message": {
        "message_id": message_id, "from": {"id": chat_id, "is_bot": False, "first_name": "Manager"},
        "chat": {"id": chat_id, "type": "private"}, "date": 1735000000, "text": text}}
    return Client(HTTP_HOST="localhost").generic("POST", webhook_path(tenant, "telegram"), json.dumps(update).encode(),
                            content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET)


def chat_of(tenant, role: str) -> int | None:
    with tenant_context(tenant):
        prefs = NotificationPrefs.objects.filter(user=user_of(tenant, role)).first()
        return prefs.telegram_chat_id if prefs else None


def nothing_stored(tenant) -> bool:
    with tenant_context(tenant):
        return not Message.objects.exists() and not Lead.objects.exists()


def code_for(tenant, role: str) -> str:
    with tenant_context(tenant):
        return telegram_code_new(user=user_of(tenant, role)).code


def test_start_with_the_code_links_the_chat_answers_and_makes_no_lead(tenant_a, bot, eager):
    code = code_for(tenant_a, "manager")
    res = send_to_bot(tenant_a, f"/start {code}")
    assert res.status_code == 200, res.content
    assert chat_of(tenant_a, "manager") == 777
    assert nothing_stored(tenant_a)
    (answer,) = [r for r in bot.requests if r.path == f"/bot{BOT}/sendMessage"]
    assert answer.json["chat_id"] == "777" and "уведомления" in answer.json["text"]
    # Single use: the same code again links nobody else and tells the chat so (still no lead).
    assert send_to_bot(tenant_a, f"/start {code}", chat_id=888, message_id=2).status_code == 200
    assert chat_of(tenant_a, "manager") == 777 and nothing_stored(tenant_a)
    assert "истёк" in bot.requests[-1].json["text"] and bot.requests[-1].json["chat_id"] == "888"


def test_the_bare_code_links_but_another_number_is_a_clients_message(tenant_a, bot, eager):
    code = code_for(tenant_a, "head")
    assert send_to_bot(tenant_a, code).status_code == 200
    assert chat_of(tenant_a, "head") == 777
    assert send_to_bot(tenant_a, "12345678", chat_id=999, message_id=3).status_code == 200
    with tenant_context(tenant_a):
        assert Message.objects.get().text == "12345678"  # a client's message like any other


def test_an_expired_code_links_nobody(tenant_a, bot, eager):
    code = code_for(tenant_a, "manager")
    with tenant_context(tenant_a):
        TelegramLinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert send_to_bot(tenant_a, f"/start {code}").status_code == 200
    assert chat_of(tenant_a, "manager") is None and nothing_stored(tenant_a)


def test_another_tenants_code_does_not_link_here(tenant_a, tenant_b, bot, eager):
    code = code_for(tenant_b, "manager")
    assert send_to_bot(tenant_a, f"/start {code}").status_code == 200
    assert chat_of(tenant_a, "manager") is None and chat_of(tenant_b, "manager") is None


def test_a_linked_user_gets_notifications_in_the_chat_but_not_in_quiet_hours(
        tenant_a, bot, eager, django_capture_on_commit_callbacks):
    from datetime import time

    from notifications.services import prefs_update

    send_to_bot(tenant_a, f"/start {code_for(tenant_a, 'manager')}")
    manager = user_of(tenant_a, "manager")
    lead = make_lead(tenant_a, name="Ерлан", assignee=manager)
    before = len(bot.requests)
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        emit("lead.needs_human", lead_id=lead.pk, reason="просит скидку")
    (sent,) = bot.requests[before:]
    assert sent.path == f"/bot{BOT}/sendMessage"
    assert (sent.json["chat_id"], sent.json["text"]) == ("777", "AI просит подключиться\nЕрлан: просит скидку")
    with tenant_context(tenant_a):
        prefs_update(user=manager, quiet_start=time(0, 0), quiet_end=time(23, 59))
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        emit("lead.needs_human", lead_id=lead.pk, reason="ещё раз")
    assert len(bot.requests) == before + 1
