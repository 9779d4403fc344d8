"""The `openai` brain against a local OpenAI-compatible stand-in, through the sandbox and a real worker:
the tools schema and prompt we send, the tool-result loop, and failure → retries → offline answer + flag."""
from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from tests.aiagent.conftest import configure
from tests.aiagent.openai_standin import OpenAIStandin

pytestmark = pytest.mark.live

PROMPT = "Мы строим дома из СИП-панелей под ключ. Всегда предлагай бесплатный выезд замерщика."


@pytest.fixture
def llm(ai_tenant):
    with OpenAIStandin() as standin:
        configure(ai_tenant, {"ai": {"provider": "openai", "base_url": standin.url, "api_key": "sk-standin",
                                     "model": "standin-model", "prompt": PROMPT, "timeout_seconds": 2,
                                     "max_retries": 2}})
        yield standin


# Everything the construction preset requires for "Полные данные" (seed 002).
FULL = {"dimensions": {"length": 10, "width": 12, "height": 3}, "foundation_closed": True, "windows": 8, "doors": 2,
        "has_project": False}


def system_of(request: dict) -> str:
    assert request["messages"][0]["role"] == "system"
    return request["messages"][0]["content"]


def test_tools_prompt_and_tool_result_loop(chat, llm):
    llm.script(
        llm.tool_calls(("update_lead", {"city": "Алматы", "name": "Айгуль", "data": FULL})),
        llm.text("Отлично, Айгуль! Дом 10×12 в Алматы — хороший выбор. Когда удобно созвониться?"),
    )
    c = chat()
    reply = c.say("Здравствуйте, я Айгуль, строим в Алматы дом 10 на 12, высота 3; фундамент закрываем, 8 окон, "
                  "2 двери, проекта нет")
    assert [m["text"] for m in reply] == [
        "Отлично, Айгуль! Дом 10×12 в Алматы — хороший выбор. Когда удобно созвониться?"]

    first, second = llm.requests
    assert first["model"] == "standin-model" and llm.headers[0]["authorization"] == "Bearer sk-standin"
    assert [t["function"]["name"] for t in first["tools"]] == [
        "update_lead", "request_call", "handoff_to_human", "mark_not_interested", "check_availability",
        "book_meeting", "send_content", "note_question"]
    update = first["tools"][0]["function"]["parameters"]
    assert update["required"] == ["data"]
    assert set(update["properties"]["data"]["properties"]) == {"city", "dimensions", "foundation_closed", "windows",
                                                                "doors", "has_project"}
    assert first["tool_choice"] == "auto"
    system = system_of(first)
    assert "Reply in the client's language" in system and "no questionnaires" in system  # platform guardrails
    assert PROMPT in system and "Company: ПанельСтрой" in system  # the tenant's prompt
    assert "склад в Алматы" in system and "only when city eq Алматы" in system  # facts with conditions
    assert "Phase: QUALIFY" in system and "dimensions (Размеры дома)" in system  # phase and what is missing
    assert "first reply to a new client" in system
    assert first["messages"][-1] == {"role": "user", "content": "Здравствуйте, я Айгуль, строим в Алматы дом 10 на 12, "
                                     "высота 3; фундамент закрываем, 8 окон, 2 двери, проекта нет"}

    # The loop: our assistant message with the model's tool call, then the tool result with its id.
    assistant, tool = second["messages"][-2:]
    call_id = assistant["tool_calls"][0]["id"]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["function"]["name"] == "update_lead"
    assert tool["role"] == "tool" and tool["tool_call_id"] == call_id
    assert json.loads(tool["content"])["ok"] is True

    lead = c.lead()
    assert lead.name == "Айгуль" and lead.city == "Алматы" and lead.data["dimensions"]["width"] == 12
    assert lead.stage.kind == "complete" and lead.score >= 45  # the engine, not the model, moved it
    assert any("Алматы" in r["quote"] for r in lead.score_reasons)
    turn = c.turns()[-1]
    assert turn.brain == "openai" and turn.llm_calls == 2 and turn.prompt_tokens > 500
    assert turn.tool_calls == [{"name": "update_lead", "ok": True, "arguments": {
        "city": "Алматы", "name": "Айгуль", "data": FULL}}]

    # All required data in: the next prompt sells, with the collected data in the profile.
    llm.script(llm.tool_calls(("request_call", {"preferred_time": "завтра в 10"})),
               llm.text("Договорились, менеджер позвонит завтра в 10."))
    c.say("Наберите меня завтра в 10")
    system = system_of(llm.requests[2])
    assert "Phase: SELL" in system and "dimensions (Размеры дома, dimensions): 10×12×3 m" in system
    lead = c.lead()
    assert lead.stage.kind == "requests_call" and lead.preferred_time == "завтра в 10"
    assert lead.temperature == "hot"


def test_bad_tool_arguments_go_back_to_the_model(chat, llm):
    llm.script(
        llm.tool_calls(("update_lead", {"data": {"windows": "много", "colour": "red"}}),
                       ("send_content", "{not json")),
        llm.tool_calls(("update_lead", {"data": {"windows": 6}})),
        llm.text("Записал: 6 окон."),
    )
    c = chat()
    assert [m["text"] for m in c.say("Окон будет штук шесть")] == ["Записал: 6 окон."]
    results = [json.loads(m["content"]) for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert results[0]["ok"] is False and "windows" in results[0]["error"] and "colour" in results[0]["error"]
    assert results[1] == {"ok": False, "error": "arguments are not valid JSON"}
    lead = c.lead()
    assert lead.data["windows"] == 6 and not lead.needs_human


def test_handoff_and_refusal_tools(chat, llm):
    llm.script(llm.tool_calls(("handoff_to_human", {"reason": "хочет поговорить с человеком"})),
               llm.text("Конечно, подключаю коллегу."))
    c = chat()
    c.say("Дайте человека")
    lead = c.lead()
    assert not lead.ai_enabled and lead.needs_human and "человек" in lead.needs_human_reason
    assert c.wait_turn(c.post("Алло")).status == "skipped" and len(llm.requests) == 2

    llm.script(llm.tool_calls(("mark_not_interested", {"reason": "уже купили"})), llm.text("Понял, всего доброго!"))
    d = chat()
    d.say("Уже купили у других, не пишите")
    lead = d.lead()
    assert lead.refused and lead.needs_human and lead.temperature == "cold"


def test_calendar_errors_are_tool_results(chat, llm):
    llm.script(llm.tool_calls(("check_availability", {"date_from": "2030-01-10", "date_to": "2030-01-12"}),
                              ("check_availability", {"date_from": "2030-01-12", "date_to": "2030-01-10"}),
                              ("book_meeting", {"start": "завтра"})),
               llm.text("Извините, календарь сейчас недоступен — давайте я попрошу менеджера позвонить?"))
    c = chat()
    c.say("Можно встречу на следующей неделе?")
    results = [json.loads(m["content"]) for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert [r["ok"] for r in results] == [False, False, False]
    assert "calendar" in results[0]["error"]
    assert "before" in results[1]["error"] and "ISO" in results[2]["error"]
    assert not c.lead().needs_human


def test_llm_failure_retries_then_offline_answers_and_flags(chat, llm):
    llm.script(llm.error(500), llm.error(502), llm.error(503))
    c = chat()
    reply = c.say("Здравствуйте, дом 10 на 12 высота 3 в Алматы, фундамент закроем, 8 окон, 2 двери, проект есть, "
                  "сколько стоит?")
    assert len(llm.requests) == 3  # one call + two retries, then we give up on the model
    assert reply and reply[0]["author_kind"] == "ai" and reply[0]["text"]
    lead = c.lead()
    assert lead.needs_human and "LLM" in lead.needs_human_reason
    assert lead.city == "Алматы" and lead.stage.kind == "complete"  # the offline brain did the turn fully
    turn = c.turns()[-1]
    assert turn.brain == "fallback" and turn.status == "ok" and "503" in turn.detail

    # The model is back: the next turn is its again.
    llm.script(llm.text("Рады помочь!"))
    assert [m["text"] for m in c.say("Спасибо")] == ["Рады помочь!"]


def test_timeouts_and_endless_bad_arguments_fall_back(chat, llm, ai_tenant):
    configure(ai_tenant, {"ai": {"timeout_seconds": 0.5, "max_retries": 1}})
    llm.script(llm.slow(llm.text("поздно"), 2.0), llm.slow(llm.text("поздно"), 2.0))
    c = chat()
    assert c.say("Здравствуйте")
    assert c.turns()[-1].brain == "fallback" and "Timeout" in c.turns()[-1].detail

    bad = llm.tool_calls(("update_lead", {"data": {"windows": "x"}}))
    llm.script(bad, bad, bad)
    d = chat()
    assert d.say("Окна три")
    assert d.turns()[-1].brain == "fallback" and "bad tool arguments" in d.turns()[-1].detail
    assert d.lead().needs_human


def test_platform_settings_are_the_default_endpoint(chat, ai_tenant, settings):
    with OpenAIStandin() as platform_llm:
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.OPENAI_MODEL = platform_llm.url, "sk-pl", "pl-m"
        configure(ai_tenant, {"ai": {"provider": "openai", "base_url": "", "api_key": "", "model": ""}})
        platform_llm.script(platform_llm.text("Здравствуйте! Чем помочь?"))
        c = chat()
        assert [m["text"] for m in c.say("Привет")] == ["Здравствуйте! Чем помочь?"]
        assert platform_llm.requests[0]["model"] == "pl-m"
        assert platform_llm.headers[0]["authorization"] == "Bearer sk-pl"


def test_followup_text_from_the_model(chat, llm, ai_tenant):
    from followups.services import followup_text
    from leads.models import Lead

    llm.script(llm.text("Айгуль, подскажите, актуален ли ещё расчёт дома?"))
    c = chat()
    c.say("Здравствуйте")
    llm.script(llm.text("Айгуль, ещё думаете над домом 10×12?"))
    with tenant_context(ai_tenant):
        text = followup_text(lead=Lead.objects.get(pk=c.lead_id), template="напомнить о расчёте")
    assert text == "Айгуль, ещё думаете над домом 10×12?"
    request = llm.requests[-1]
    assert "tools" not in request and "напомнить о расчёте" in system_of(request)
    llm.script(llm.error(500), llm.error(500), llm.error(500))
    with tenant_context(ai_tenant):
        assert followup_text(lead=Lead.objects.get(pk=c.lead_id), template="Подскажите, актуально?")
