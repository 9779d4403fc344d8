"""Behaviour of the offline brain's turn planner (pure function, no Django)."""

from __future__ import annotations

from brain.offline import DialogState, ToolCall, TurnPlan, first_contact_text, plan_turn
from tenants.presets import get_preset

FACTS = [
    {
        "when": {"field": "city", "op": "eq", "value": "Алматы"},
        "keywords": ["самовывоз"],
        "text": "У нас склад в Алматы — заберёте сами или привезём.",
        "text_en": "We have a warehouse in Almaty.",
    },
    {
        "when": {"field": "city", "op": "ne", "value": "Алматы"},
        "keywords": ["доставка", "delivery"],
        "text": "Доставляем по всему Казахстану.",
    },
    {"when": None, "keywords": ["рассрочка", "installment"], "text": "Есть рассрочка на 12 месяцев."},
]


def state(preset: str = "construction", **kw) -> DialogState:
    return DialogState(fields=get_preset(preset), facts=kw.pop("facts", FACTS), company="ПанельСтрой", **kw)


def tools(plan: TurnPlan) -> dict[str, dict]:
    return {c.name: c.arguments for c in plan.tool_calls}


def apply(st: DialogState, plan: TurnPlan) -> None:
    """What the Django service will do with a plan (enough for multi-turn tests)."""
    for c in plan.tool_calls:
        if c.name == "update_lead":
            st.data.update(c.arguments["data"])
            st.name = c.arguments.get("name", st.name)
            st.city = c.arguments.get("city", st.city)
        elif c.name == "request_call":
            st.call_requested = True
            st.preferred_time = c.arguments.get("preferred_time", st.preferred_time)
    if "price_question" in plan.extraction.intents:
        st.price_asked_count += 1
    st.awaiting, st.language = plan.awaiting, plan.language
    st.facts_used += plan.facts_used
    st.turn += 1


def talk(st: DialogState, *msgs: str) -> list[TurnPlan]:
    plans = []
    for m in msgs:
        p = plan_turn(st, m)
        apply(st, p)
        plans.append(p)
    return plans


def test_update_lead_with_extracted_values_and_acknowledgement() -> None:
    p = plan_turn(state(), "Дом 10 на 12, высота 3 метра")
    assert tools(p)["update_lead"] == {"data": {"dimensions": {"length": 10, "width": 12, "height": 3}}}
    assert "10×12" in p.replies[0]
    assert p.awaiting == ["city"]


def test_partial_dimensions_are_merged() -> None:
    st = state(data={"dimensions": {"length": 10, "width": 12}})
    p = plan_turn(st, "высота потолков 2,7")
    assert tools(p)["update_lead"]["data"]["dimensions"] == {"length": 10, "width": 12, "height": 2.7}


def test_call_request_asks_name_and_time_then_confirms() -> None:
    st = state()
    p1, p2 = talk(st, "наберите меня пожалуйста", "Ерлан, после 18:00")
    assert "request_call" in tools(p1)
    assert p1.awaiting == ["name", "preferred_time"]
    assert "обращаться" in p1.replies[0]
    assert tools(p2)["request_call"] == {"name": "Ерлан", "preferred_time": "после 18:00"}
    assert tools(p2)["update_lead"]["name"] == "Ерлан"
    assert "после 18:00" in p2.replies[0] and "Ерлан" in p2.replies[0]


def test_call_request_with_known_name_asks_only_time() -> None:
    p = plan_turn(state(name="Айгуль"), "Можете мне перезвонить?")
    assert tools(p)["request_call"] == {"name": "Айгуль"}
    assert p.awaiting == ["preferred_time"]


def test_price_rule_and_insisting() -> None:
    st = state()
    p1, p2 = talk(st, "сколько стоит?", "ну скажите цену, не хочу ничего заполнять")
    assert "request_call" not in tools(p1)
    assert "зависит" in p1.replies[0]
    assert {"city", "dimensions"} & set(p1.awaiting)
    assert "request_call" in tools(p2)
    assert "менеджер" in p2.replies[0] and "расч" in p2.replies[0]


def test_price_with_all_required_offers_a_call() -> None:
    st = state(data={"city": "Шымкент", "dimensions": {"length": 8, "width": 9, "height": 3}, "foundation_closed": True,
                     "windows": 6, "doors": 2, "has_project": False}, city="Шымкент")
    p = plan_turn(st, "сколько стоит?")
    assert "preferred_time" in p.awaiting and "call" in p.awaiting
    assert "8×9×3" in p.replies[0]


def test_refusal() -> None:
    p = plan_turn(state(), "Спасибо, не интересно, не пишите больше")
    assert tools(p)["mark_not_interested"]["reason"]
    assert "не интересно" in tools(p)["mark_not_interested"]["reason"]
    assert p.awaiting == [] and "?" not in p.replies[0]


def test_no_project_is_not_a_refusal() -> None:
    p = plan_turn(state(), "проекта пока нет")
    assert "mark_not_interested" not in tools(p)
    assert tools(p)["update_lead"]["data"] == {"has_project": False}


def test_handoff() -> None:
    p = plan_turn(state(), "а можно с живым менеджером поговорить?")
    assert "живым менеджером" in tools(p)["handoff_to_human"]["reason"]
    assert "колле" in p.replies[0] or "менеджер" in p.replies[0]


def test_phase_two_summarises_and_pushes_to_a_call() -> None:
    st = state(data={"dimensions": {"length": 10, "width": 12, "height": 3}, "foundation_closed": True, "windows": 8,
                     "doors": 2, "has_project": True})
    p = plan_turn(st, "Мы в Алматы")
    reply = p.replies[0]
    assert "Алматы" in reply and "10×12" in reply
    assert "звон" in reply
    assert "preferred_time" in p.awaiting
    p2 = plan_turn(_after(st, p), "давайте, завтра в 10:00")
    assert tools(p2)["request_call"]["preferred_time"].startswith("завтра")


def _after(st: DialogState, p: TurnPlan) -> DialogState:
    apply(st, p)
    return st


def test_language_follows_the_client() -> None:
    p = plan_turn(state(language="ru"), "Hi, I'm Daniel from Astana")
    assert p.language == "en"
    assert "Daniel" in tools(p)["update_lead"]["name"]
    # Everything but the tenant's own texts (company name, a fact without text_en) is in English.
    rest = p.replies[0].replace("Доставляем по всему Казахстану.", "").replace("ПанельСтрой", "")
    assert not any(0x400 <= ord(ch) <= 0x4FF for ch in rest), rest
    # A bare number keeps the dialog's language.
    st = state(language="en", awaiting=["windows"])
    assert plan_turn(st, "5").language == "en"
    assert plan_turn(state(), "5").language == "ru"


def test_facts_by_condition_once_and_by_keyword() -> None:
    st = state()
    p1 = plan_turn(st, "Мы в Алматы")
    assert "склад в Алматы" in p1.replies[0] and p1.facts_used == [0]
    apply(st, p1)
    p2 = plan_turn(st, "дом 10 на 12")
    assert "склад" not in p2.replies[0]
    p3 = plan_turn(st, "а рассрочка есть?")
    assert "рассрочка на 12 месяцев" in p3.replies[0]
    p4 = plan_turn(state(), "Мы в Шымкенте")
    assert "Доставляем" in p4.replies[0] and "склад" not in p4.replies[0]
    p5 = plan_turn(state(), "а доставка есть?")  # city unknown: the "ne Алматы" fact does not apply yet
    assert "Доставляем" not in p5.replies[0]


def test_fact_text_en() -> None:
    p = plan_turn(state(), "We are in Almaty")
    assert "warehouse in Almaty" in p.replies[0]


def test_never_more_than_two_questions_and_two_fields() -> None:
    msgs = [
        "Здравствуйте",
        "сколько стоит?",
        "ну цену скажите",
        "какая погода?",
        "Дом 10 на 12",
        "позвоните",
        "Hello",
        "how much?",
        "нет",
        "ok",
    ]
    for preset in ("construction", "generic_b2b"):
        st = state(preset)
        for p in talk(st, *msgs):
            assert p.replies[0].count("?") <= 2, p.replies[0]
            assert len([k for k in p.awaiting if k != "call"]) <= 2


def test_off_topic_returns_gently_to_the_script() -> None:
    p = plan_turn(state(), "какая у вас погода сегодня?")
    assert p.extraction.off_topic
    assert p.tool_calls == []
    assert p.awaiting and p.replies[0].endswith("?")


def test_variety_across_turns() -> None:
    replies = {plan_turn(state(turn=t), "какая у вас погода?").replies[0] for t in range(4)}
    assert len(replies) >= 3
    acks = {plan_turn(state(turn=t), "окон 5").replies[0] for t in range(4)}
    assert len(acks) >= 3


def test_deterministic() -> None:
    a = plan_turn(state(turn=3), "Дом 8 на 9 в Шымкенте, сколько стоит?")
    b = plan_turn(state(turn=3), "Дом 8 на 9 в Шымкенте, сколько стоит?")
    assert a.replies == b.replies and a.tool_calls == b.tool_calls


def test_source_info_is_read_on_the_first_turn() -> None:
    p = plan_turn(state(source_info="Дом 8х10, Алматы, нужен расчёт"), "Здравствуйте")
    assert tools(p)["update_lead"]["data"]["dimensions"] == {"length": 8, "width": 10}
    assert tools(p)["update_lead"]["city"] == "Алматы"


def test_b2b_flow() -> None:
    st = state("generic_b2b")
    p1, p2 = talk(st, "Привет", "нас 10 человек, нужна CRM для продаж, срочно")
    assert p1.awaiting == ["company_size"]  # one question at a time (issue 14)
    assert tools(p2)["update_lead"]["data"] == {
        "company_size": 10,
        "needs": "CRM для продаж",
        "urgency": "now",
    }
    assert "call" in p2.awaiting  # all required in: push to a call
    p3 = plan_turn(st, "нет, не надо звонить")
    assert "request_call" not in tools(p3)


def test_toolcall_shape() -> None:
    p = plan_turn(state(), "позвоните мне")
    assert all(isinstance(c, ToolCall) and isinstance(c.arguments, dict) for c in p.tool_calls)


def test_first_contact_text() -> None:
    t = first_contact_text(
        name="Иван", source_info="Дом 8х10, Алматы", company="ПанельСтрой", offer="Сейчас скидка 10%."
    )
    assert t.startswith("Здравствуйте, Иван!") and "ПанельСтрой" in t and "Дом 8х10" in t and "скидка" in t
    assert t.count("?") == 1
    en = first_contact_text(name=None, source_info="", company="PanelBuild", offer="", language="en")
    assert en.startswith("Hello!") and "PanelBuild" in en
    long = first_contact_text(name=None, source_info="x" * 500, company="", offer="")
    assert len(long) < 300
