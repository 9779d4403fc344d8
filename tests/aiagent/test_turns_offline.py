"""Full dialogs with the offline brain through the sandbox channel and a real Celery worker."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.aiagent.conftest import Chat, configure

pytestmark = pytest.mark.live


def text_of(messages: list[dict]) -> str:
    return " ".join(m["text"] or m["caption"] or "" for m in messages)


def test_greeting_qualification_complete_then_call(chat):
    c = chat()
    first = c.say("Здравствуйте")
    assert len(first) == 1 and first[0]["author_kind"] == "ai" and first[0]["purpose"] == "reply"
    assert "ПанельСтрой" in first[0]["text"] and "?" in first[0]["text"]
    lead = c.lead()
    assert lead.stage.kind == "in_dialog" and lead.ai_state["greeted"]

    reply = c.say("Строим в Алматы, дом 10 на 12, высота 3")
    lead = c.lead()
    assert lead.city == "Алматы" and lead.data["dimensions"] == {"length": 10, "width": 12, "height": 3}
    assert lead.stage.kind == "incomplete"  # seed 002: foundation, windows, doors and project still unknown
    assert "склад в Алматы" in text_of(reply)  # the tenant's fact for Almaty
    c.say("Фундамент закрываем, окон 8, дверей 2, проекта нет")
    lead = c.lead()
    assert lead.stage.kind == "complete"
    assert lead.score > 0 and any(r["quote"] for r in lead.score_reasons)
    warm_score = lead.score

    reply = c.say("Можете набрать завтра после обеда? Меня зовут Айгуль")
    lead = c.lead()
    assert lead.stage.kind == "requests_call" and lead.call_requested
    assert lead.name == "Айгуль" and "завтра" in lead.preferred_time
    assert lead.score > warm_score and lead.temperature == "hot"
    call = next(r for r in lead.score_reasons if r["reason"] == "Просит звонок")
    assert "набрать" in call["quote"]
    assert "Айгуль" in text_of(reply)
    with tenant_context(c.tenant):
        kinds = list(lead.events.values_list("kind", flat=True))
    assert "call_requested" in kinds and "stage_changed" in kinds


def test_refusal_stops_the_ai_and_flags(chat):
    c = chat()
    c.say("Добрый день, интересует дом в Астане")
    reply = c.say("Нет, уже не интересно, спасибо")
    assert reply and "Понял" in text_of(reply) or "Хорошо" in text_of(reply) or "Спасибо" in text_of(reply)
    lead = c.lead()
    assert lead.refused and lead.needs_human and lead.needs_human_reason.startswith("Отказ")
    assert lead.stage.kind not in ("won", "lost") and lead.temperature == "cold"
    count = len(c.ai_messages())
    turn = c.wait_turn(c.post("А вообще, сколько стоит?"))
    assert turn.status == "skipped" and "refused" in turn.detail
    assert len(c.ai_messages()) == count


def test_human_request_hands_off(chat):
    c = chat()
    reply = c.say("Позовите, пожалуйста, живого менеджера")
    assert reply and "менеджер" in text_of(reply).lower() or "коллег" in text_of(reply).lower()
    lead = c.lead()
    assert lead.needs_human and not lead.ai_enabled
    count = len(c.ai_messages())
    turn = c.wait_turn(c.post("Алло?"))
    assert turn.status == "skipped" and len(c.ai_messages()) == count


def test_price_asked_twice_requests_a_call(chat):
    c = chat()
    first = c.say("Сколько стоит дом?")
    assert "звон" in text_of(first).lower() or "позвон" in text_of(first).lower()
    assert c.lead().stage.kind == "in_dialog" and not c.lead().call_requested
    c.say("Ну а цена какая? Просто скажите сколько стоит")
    lead = c.lead()
    assert lead.call_requested and lead.stage.kind == "requests_call"


def test_language_follows_the_client(chat):
    c = chat()
    reply = c.say("Hi! I want to build a house in Astana, 10x8 meters")
    english = text_of(reply).replace("ПанельСтрой", "")
    assert reply and not any("\u0400" <= ch <= "\u04ff" for ch in english), text_of(reply)
    assert c.lead().ai_state["language"] == "en"
    reply = c.say("А если по-русски? Высота 3 метра")
    assert any("а" <= ch <= "я" for ch in text_of(reply).lower())


def test_facts_follow_the_city(chat):
    almaty, astana = chat(), chat()
    assert "склад в Алматы" in text_of(almaty.say("Здравствуйте, я из Алматы"))
    reply = astana.say("Здравствуйте, мы в Астане")
    assert "по всему Казахстану" in text_of(reply) and "склад" not in text_of(reply)


def test_quick_messages_are_answered_once(chat, ai_tenant):
    configure(ai_tenant, {"ai": {"debounce_seconds": 1.0}})
    c = chat()
    c.post("Здравствуйте")
    c.post("Строим в Караганде")
    last = c.post("Дом 9 на 11")
    turn = c.wait_turn(last)
    assert turn.status == "ok" and turn.message_id == last
    # Older messages' tasks can never answer once a newer one exists; a 4th message proves they are done.
    c.wait_turn(c.post("Высота 3"))
    replies = [m for m in c.dialog() if m["author_kind"] == "ai"]
    assert len(replies) == 2
    lead = c.lead()
    assert lead.city == "Караганда" and lead.data["dimensions"]["length"] == 9
    assert [t.message_id for t in c.turns()] == [last, last + 1] or len(c.turns()) == 2


def test_ai_off_for_the_tenant_says_nothing(chat, ai_tenant):
    configure(ai_tenant, {"ai": {"enabled": False}})
    c = chat()
    turn = c.wait_turn(c.post("Здравствуйте, сколько стоит дом?"))
    assert turn.status == "skipped" and "tenant" in turn.detail
    assert c.ai_messages() == [] and c.lead().stage.kind == "new"


def test_ai_off_for_the_lead_and_human_in_charge(chat, ai_tenant, client_for):
    from accounts.models import User

    c = chat()
    c.say("Здравствуйте")
    owner = client_for(ai_tenant, "owner")
    assert owner.patch(f"/api/leads/{c.lead_id}/", {"ai_enabled": False}, format="json").status_code == 200
    count = len(c.ai_messages())
    assert c.wait_turn(c.post("Алматы")).status == "skipped"
    assert len(c.ai_messages()) == count

    d = chat()
    d.say("Здравствуйте")
    manager = client_for(ai_tenant, "owner")
    assert manager.post(f"/api/leads/{d.lead_id}/takeover/").status_code == 200
    turn = d.wait_turn(d.post("Дом 10 на 10 в Алматы"))
    assert turn.status == "skipped" and "person" in turn.detail
    assert [m["author_kind"] for m in d.dialog()].count("ai") == 1
    with tenant_context(ai_tenant):
        assert User.objects.filter(email__startswith="owner@").exists()


def test_a_stage_placed_by_a_person_is_not_moved(chat, ai_tenant, client_for):
    from leads.models import Stage

    c = chat()
    c.say("Здравствуйте")
    with tenant_context(ai_tenant):
        custom = Stage.objects.get(kind="incomplete").pk
    owner = client_for(ai_tenant, "owner")
    assert owner.patch(f"/api/leads/{c.lead_id}/", {"stage": custom}, format="json").status_code == 200
    assert c.lead().stage_locked
    c.say("Строим в Алматы, дом 10 на 12")
    c.say("Позвоните мне завтра в 10, меня зовут Ерлан")
    lead = c.lead()
    assert lead.stage.pk == custom and lead.call_requested and lead.score > 0


def test_new_lead_gets_the_chain_with_the_answer(chat, ai_tenant):
    configure(ai_tenant, {"first_contact": [
        {"type": "text", "text": "Здравствуйте{name_comma}! Мы строим дома из СИП-панелей. Что вас интересует?"},
        {"type": "image", "url": "https://cdn.example.com/house.jpg", "caption": "Наш дом 10×12"},
        {"type": "link", "url": "https://example.com/catalog", "text": "Каталог проектов"},
    ]})
    bare = chat(name="Жанна")
    out = bare.say("Добрый день")
    assert [m["kind"] for m in out] == ["text", "image", "link"]
    assert out[0]["text"].startswith("Здравствуйте, Жанна! Мы строим") and out[1]["caption"] == "Наш дом 10×12"
    assert all(m["purpose"] == "first_contact" for m in out)

    busy = chat()
    out = busy.say("Сколько стоит дом 8 на 10 в Шымкенте?")
    assert [m["kind"] for m in out] == ["text", "image", "link"]
    assert out[0]["purpose"] == "reply" and out[0]["text"].startswith("Здравствуйте")
    assert busy.lead().data["dimensions"]["width"] == 10
    assert busy.lead().stage.kind in ("incomplete", "complete")


def test_first_contact_for_a_lead_that_did_not_write(ai_tenant, worker):
    from aiagent.services import ai_first_contact
    from conversations.models import Message
    from leads.models import Lead
    from leads.services import SYSTEM, lead_create

    configure(ai_tenant, {"first_contact": [
        {"type": "text", "text": "Здравствуйте{name_comma}! Это {company}."},
        {"type": "album", "items": [{"url": "https://cdn.example.com/1.jpg", "caption": "Фасад"},
                                    {"url": "https://cdn.example.com/2.jpg"}]},
        {"type": "voice", "url": "https://cdn.example.com/hello.ogg"},
    ]})
    with tenant_context(ai_tenant):
        lead = lead_create(actor=SYSTEM, name="Марат", phone="77015550011", channel="sandbox", provider="sandbox",
                           source="amocrm", source_info="Дом 10х12 под Алматы, нужен расчёт")
        ids = ai_first_contact(lead_id=lead.pk)
        assert ai_first_contact(lead_id=lead.pk) == []  # idempotent
        sent = list(Message.objects.filter(pk__in=ids).order_by("id"))
        lead = Lead.objects.select_related("stage").get(pk=lead.pk)
    assert [m.kind for m in sent] == ["text", "album", "voice"]
    assert sent[0].text == ("Здравствуйте, Марат! Это ПанельСтрой. "
                            "Вы оставляли заявку: «Дом 10х12 под Алматы, нужен расчёт».")
    assert sent[1].items[0] == {"url": "https://cdn.example.com/1.jpg", "caption": "Фасад"}
    assert lead.stage.kind == "new" and lead.ai_state["greeted"]


def test_first_contact_default_text_and_ai_off(ai_tenant, worker):
    from aiagent.services import ai_first_contact
    from leads.services import SYSTEM, lead_create

    with tenant_context(ai_tenant):
        lead = lead_create(actor=SYSTEM, name="Ольга", phone="77015550012", channel="sandbox", provider="sandbox",
                           source_info="Интересует баня 6 на 4")
        ids = ai_first_contact(lead_id=lead.pk)
        from conversations.models import Message

        text = Message.objects.get(pk=ids[0]).text
    assert "Ольга" in text and "баня 6 на 4" in text and "ПанельСтрой" in text
    configure(ai_tenant, {"ai": {"enabled": False}})
    with tenant_context(ai_tenant):
        other = lead_create(actor=SYSTEM, name="Пётр", phone="77015550013", channel="sandbox", provider="sandbox")
        assert ai_first_contact(lead_id=other.pk) == []
        assert ai_first_contact(lead_id=999999) == []


def test_followup_text_offline(ai_tenant, worker):
    from followups.services import followup_text
    from leads.services import SYSTEM, lead_create

    with tenant_context(ai_tenant):
        lead = lead_create(actor=SYSTEM, name="Дана", phone="77015550014", channel="sandbox", provider="sandbox")
        text = followup_text(lead=lead, template="Подскажите, актуально?")
        named = followup_text(lead=lead, template="{name}, когда удобно созвониться?")
    assert "актуально" in text
    assert named == "Дана, когда удобно созвониться?"


def test_tenants_do_not_see_each_other(chat, client_for):
    from tenants.models import Tenant

    c = chat()
    c.say("Здравствуйте")
    beta = Tenant.objects.get(slug="beta")
    other = Chat(client_for(beta, "owner"), beta)
    other.phone = c.phone
    assert other.dialog() == []
    assert client_for(beta, "owner").get(f"/api/leads/{c.lead_id}/").status_code == 404


def test_sweep_answers_a_message_whose_turn_was_never_queued(chat, ai_tenant):
    from datetime import timedelta

    from django.utils import timezone

    from aiagent.tasks import sweep_unanswered
    from conversations.models import Message
    from leads.models import Lead

    c = chat()
    c.say("Здравствуйте")
    with tenant_context(ai_tenant):
        lead = Lead.objects.get(pk=c.lead_id)
        # Stored, but the broker was down at commit: no turn was queued for it.
        lost = Message.objects.create(lead=lead, direction="in", text="Строим в Алматы", status="received",
                                      provider="sandbox", author_kind="client", purpose="client")
        Lead.objects.filter(pk=lead.pk).update(last_outbound_at=timezone.now() - timedelta(minutes=3),
                                               last_inbound_at=timezone.now() - timedelta(minutes=2))
        assert sweep_unanswered() == 1
    turn = c.wait_turn(lost.pk)
    assert turn.status == "ok" and c.lead().city == "Алматы"
    with tenant_context(ai_tenant):
        assert sweep_unanswered() == 0  # answered now: nothing to replay
