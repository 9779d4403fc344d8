"""The AI turn reads the tenant's knowledge, content library, calendar and persona (issue 14): the offline plan's
tool calls go through the same ToolRunner as the LLM's (content sent, a meeting booked in a stand-in Google
Calendar), free slots come from the calendar (bounded, cached, failure → none), and the LLM's prompt carries the
relevant knowledge entries and the library's items."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from aiagent.services import FREE_SLOTS_KEY, Turn, _dialog_state, free_slots_for_turn, plan_apply
from aiagent.tools import ToolRunner
from brain.nlu import Extraction
from brain.offline import ToolCall, TurnPlan
from conversations.models import Message
from conversations.services import message_send
from followups.models import Content
from knowledge import services as knowledge
from leads import services as lead_services
from leads.models import LeadEvent
from tenants.selectors import tenant_config_current
from tenants.services import tenant_config_import
from tests.aiagent.conftest import configure
from tests.aiagent.openai_standin import OpenAIStandin
from tests.integrations.gstandin import GoogleStandin
from tests.meetings.test_calendar_flow import TZ, at, google_settings, next_workday


@pytest.fixture
def google() -> Iterator[GoogleStandin]:
    server = GoogleStandin().start()
    yield server
    server.stop()


def _lead(phone: str = "77011112233", name: str = "Айгуль"):
    found, _ = lead_services.lead_for_inbound(provider="sandbox", identity=phone, phone=phone, name=name)
    return found


def _plan(*calls: ToolCall, replies: list[str], language: str = "ru") -> TurnPlan:
    return TurnPlan(tool_calls=list(calls), replies=replies, awaiting=[], language=language, extraction=Extraction())


def _turn(lead, cfg: dict, budget: float = 30.0) -> Turn:
    started = time.monotonic()
    return Turn(
        lead_id=lead.pk,
        trigger_id=0,
        started=started,
        deadline=started + budget,
        lead=lead,
        cfg=cfg,
        fields=list(cfg.get("qualification") or []),
    )


def test_offline_plan_sends_content_and_books_through_the_tool_runner(tenant_a, google):
    tenant_config_import(tenant_a, {"timezone": TZ, "google_calendar": google_settings(google)})
    tenant_a.refresh_from_db()
    day = next_workday()
    with tenant_context(tenant_a):
        lead = _lead()
        catalogue = Content.objects.create(type="document", title="Каталог домов", url="https://cdn.kz/cat.pdf")
        runner = ToolRunner(lead=lead, fields=[], timezone=TZ)
        replies = plan_apply(
            runner=runner,
            plan=_plan(
                ToolCall("send_content", {"content_id": catalogue.pk}),
                ToolCall("book_meeting", {"start": at(day, 11).replace(tzinfo=None).isoformat()}),
                replies=["Отправляю каталог. Записала вас на встречу."],
            ),
        )
        assert [c["name"] for c in runner.calls] == ["send_content", "book_meeting"]
        assert all(c["ok"] for c in runner.calls)
        sent = Message.objects.get(lead=lead, meta__content_id=catalogue.pk)
        assert sent.kind == "document" and sent.media_url == "https://cdn.kz/cat.pdf" and sent.author_kind == "ai"
        booked = LeadEvent.objects.get(lead=lead, kind="meeting_booked")
        lead.refresh_from_db()
        assert lead.ai_state["meeting"]["event_id"] == booked.after["event_id"]
    (event,) = google.events.values()
    assert event["start"]["dateTime"] == at(day, 11).isoformat()
    assert replies == ["Отправляю каталог. Записала вас на встречу.", f"Ссылка на видеозвонок: {event['hangoutLink']}"]


def test_offline_booking_of_a_taken_slot_answers_with_other_slots(tenant_a, google):
    tenant_config_import(tenant_a, {"timezone": TZ, "google_calendar": google_settings(google)})
    tenant_a.refresh_from_db()
    day = next_workday()
    google.busy.append((at(day, 11), at(day, 12)))
    with tenant_context(tenant_a):
        lead = _lead()
        runner = ToolRunner(lead=lead, fields=[], timezone=TZ)
        replies = plan_apply(
            runner=runner,
            plan=_plan(ToolCall("book_meeting", {"start": at(day, 11).isoformat()}), replies=["Готово, записала вас."]),
        )
        assert not LeadEvent.objects.filter(lead=lead, kind="meeting_booked").exists()
    assert google.events == {}
    (reply,) = replies
    assert reply.startswith("К сожалению, это время уже занято. Могу предложить ") and "в 10:00" in reply
    assert "Готово" not in reply


def test_offline_booking_without_a_calendar_promises_a_manager_in_english(tenant_a):
    with tenant_context(tenant_a):
        lead = _lead()
        runner = ToolRunner(lead=lead, fields=[], timezone=TZ)
        replies = plan_apply(
            runner=runner,
            plan=_plan(
                ToolCall("book_meeting", {"start": "2030-01-15T11:00"}), replies=["Done, see you then."], language="en"
            ),
        )
    assert replies == ["I couldn't put the meeting into the calendar — a manager will contact you to confirm the time."]
    assert runner.calls[0]["ok"] is False


def test_unknown_content_id_is_a_failed_tool_call_not_a_crash(tenant_a):
    with tenant_context(tenant_a):
        lead = _lead()
        runner = ToolRunner(lead=lead, fields=[], timezone=TZ)
        replies = plan_apply(
            runner=runner, plan=_plan(ToolCall("send_content", {"content_id": 999999}), replies=["Вот каталог."])
        )
        assert not Message.objects.filter(lead=lead, direction="out").exists()
    assert runner.calls == [{"name": "send_content", "arguments": {"content_id": 999999}, "ok": False}]
    assert replies == ["Вот каталог."]


def test_dialog_state_carries_knowledge_content_persona_and_what_the_ai_said(tenant_a, tenant_b):
    tenant_config_import(tenant_a, {"ai": {"persona_name": "Арман", "persona_gender": "m"}})
    tenant_a.refresh_from_db()
    with tenant_context(tenant_a):
        knowledge.entry_create(
            kind="qa", actor="test", question="Какие окна?", answer="Пластиковые.", keywords=["окна"]
        )
        knowledge.entry_create(
            kind="prices",
            actor="test",
            item="Дом-комплект",
            unit="м²",
            price_from=85000,
            price_to=120000,
            keywords=["цена"],
        )
        knowledge.entry_create(kind="delivery", actor="test", city="Алматы", text="Склад на Рыскулова, 1.")
        lead = _lead()
        got = Content.objects.create(type="image", title="Фото дома", url="https://cdn.kz/1.jpg")
        offered = Content.objects.create(type="document", title="Прайс", url="https://cdn.kz/p.pdf", tags=["цена"])
        Content.objects.create(type="link", title="Off", url="https://cdn.kz/x", active=False)
        Content.objects.create(type="link", title="English only", url="https://cdn.kz/en", language="en")
        lead.ai_state = {"language": "ru"}
        lead.save(update_fields=["ai_state"])
        from followups.services import content_send

        content_send(lead=lead, content_id=got.pk, actor=lead_services.AI)
        message_send(lead=lead, author_kind="ai", text="Здравствуйте! Меня зовут Арман.", purpose="reply")
        message_send(lead=lead, author_kind="user", author_user=None, text="Я менеджер", purpose="reply")
        lead.refresh_from_db()
        state = _dialog_state(_turn(lead, tenant_config_current()))
    assert [q.answer for q in state.knowledge.qas] == ["Пластиковые."]
    assert [(p.item, int(p.price_from), int(p.price_to)) for p in state.knowledge.prices] == [
        ("Дом-комплект", 85000, 120000)
    ]
    assert [d.city for d in state.knowledge.delivery] == ["Алматы"]
    assert [(c.id, c.title, c.type, c.tags) for c in state.content] == [(offered.pk, "Прайс", "document", ("цена",))]
    assert (state.persona.name, state.persona.gender) == ("Арман", "m")
    assert state.sent_texts == ["Здравствуйте! Меня зовут Арман."]
    assert state.free_slots == [] and state.timezone == "Asia/Almaty" and state.now_iso.endswith("+05:00")
    with tenant_context(tenant_b):  # another tenant's AI knows none of it
        other = _lead("77019998877")
        state_b = _dialog_state(_turn(other, tenant_config_current()))
    assert len(state_b.knowledge) == 0 and state_b.content == [] and state_b.persona.name == "Алия"


@pytest.mark.live
def test_free_slots_come_from_the_calendar_bounded_and_cached(live_tenant, google):
    configure(live_tenant, {"timezone": TZ, "google_calendar": google_settings(google)})
    with tenant_context(live_tenant):
        lead = _lead()
        turn = _turn(lead, tenant_config_current())
        slots = free_slots_for_turn(turn)
        deadline = time.monotonic() + 30
        while not slots and time.monotonic() < deadline:  # the calendar was slower than the turn's short wait
            time.sleep(0.1)
            slots = free_slots_for_turn(turn)
        asked = len(google.requests)
        again = free_slots_for_turn(turn)
    assert slots and len(slots) <= 6 and again == slots
    assert len(google.requests) == asked  # the next turn reads the cache, not Google
    assert [r.path for r in google.requests].count("/calendar/v3/freeBusy") == 1
    for slot in slots:
        assert slot.start.endswith("+05:00") and "10:00" <= slot.start[11:16] <= "18:30" and slot.minutes == 30


@pytest.mark.live
def test_a_broken_calendar_offers_no_slots_and_never_raises(live_tenant, google):
    configure(live_tenant, {"timezone": TZ, "google_calendar": google_settings(google)})
    google.refresh_tokens.clear()  # the owner revoked the access
    with tenant_context(live_tenant):
        lead = _lead()
        turn = _turn(lead, tenant_config_current())
        assert free_slots_for_turn(turn) == []
        deadline = time.monotonic() + 30
        while cache.get(FREE_SLOTS_KEY) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cache.get(FREE_SLOTS_KEY) == [] and free_slots_for_turn(turn) == []
        # Not connected at all: no calendar call.
        asked = len(google.requests)
        assert free_slots_for_turn(_turn(lead, {**tenant_config_current(), "google_calendar": {}})) == []
    assert len(google.requests) == asked


@pytest.mark.live
def test_llm_prompt_carries_relevant_knowledge_and_the_content_library(chat, ai_tenant, worker):
    with OpenAIStandin() as llm:
        configure(
            ai_tenant,
            {
                "ai": {
                    "provider": "openai",
                    "base_url": llm.url,
                    "api_key": "sk-standin",
                    "model": "standin-model",
                    "timeout_seconds": 5,
                    "max_retries": 1,
                }
            },
        )
        with tenant_context(ai_tenant):
            knowledge.entry_create(
                kind="qa",
                actor="test",
                question="Какие окна ставите?",
                answer="Пластиковые двухкамерные окна REHAU.",
                answer_en="REHAU PVC windows.",
                keywords=["окна", "окно"],
            )
            knowledge.entry_create(
                kind="terms", actor="test", title="Гарантия", text="Гарантия 5 лет.", keywords=["гарантия"]
            )
            catalogue = Content.objects.create(
                type="document", title="Каталог домов", url="https://cdn.kz/c.pdf", tags=["каталог"]
            )
        llm.script(
            llm.tool_calls(("send_content", {"content_id": catalogue.pk})),
            llm.text("Ставим окна REHAU. Каталог отправила."),
        )
        c = chat()
        reply = c.say("Здравствуйте! Какие окна у вас? Пришлите каталог")
    system = llm.requests[0]["messages"][0]["content"]
    windows = system.index("- Q: Какие окна ставите? A: Пластиковые двухкамерные окна REHAU.")
    assert windows < system.index("- Гарантия: Гарантия 5 лет.")  # the entry the client asked about comes first
    assert f"- id {catalogue.pk}: Каталог домов — document [каталог]" in system
    assert "Your name is Алия" in system and "female" in system
    assert any(m["media_url"] == "https://cdn.kz/c.pdf" for m in c.dialog() if m["direction"] == "out")
    assert "Ставим окна REHAU. Каталог отправила." in [m["text"] for m in reply]


def test_an_unanswered_question_goes_on_the_card_and_the_dialog_stays_with_the_ai(tenant_a):
    with tenant_context(tenant_a):
        lead = _lead()
        runner = ToolRunner(lead=lead, fields=[], timezone=TZ)
        replies = plan_apply(runner=runner, plan=_plan(
            ToolCall("note_question", {"question": "А зимой монтаж делаете?"}),
            replies=["Хороший вопрос — уточню у менеджера."]))
        assert runner.calls == [{"name": "note_question", "arguments": {"question": "А зимой монтаж делаете?"},
                                 "ok": True}]
        noted = LeadEvent.objects.get(lead=lead, kind="question")
        assert noted.text == "А зимой монтаж делаете?" and noted.actor_kind == "ai"
        lead.refresh_from_db()
        assert lead.ai_enabled and lead.handler_id is None
        assert replies == ["Хороший вопрос — уточню у менеджера."]
        empty = ToolRunner(lead=lead, fields=[], timezone=TZ)
        assert empty.run("note_question", {"question": ""})["ok"] is False
