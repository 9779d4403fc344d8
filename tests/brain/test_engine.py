"""The stage/score engine and the prompt budget (pure, no database)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from brain import engine, prompts
from tenants.presets import get_preset

CONSTRUCTION = get_preset("construction")
B2B = get_preset("generic_b2b")


def target(current="new", locked=False, replied=True, data=None, city=None, call=False, fields=CONSTRUCTION):
    return engine.stage_target(
        current=current,
        locked=locked,
        client_replied=replied,
        fields=fields,
        data=data or {},
        city=city,
        call_requested=call,
    )


def test_first_reply_moves_new_to_in_dialog():
    assert target() == "in_dialog"
    assert target(replied=False) is None
    assert target(current="in_dialog") is None


ALL = {
    "dimensions": {"length": 10, "width": 8, "height": 3},
    "foundation_closed": False,
    "windows": 10,
    "doors": 2,
    "has_project": True,
}


def test_some_required_fields_make_incomplete_all_make_complete():
    assert target(city="Алматы") == "incomplete"
    assert target(data={"city": "Алматы"}) == "incomplete"
    assert target(data={"dimensions": {"length": 10}}, current="in_dialog") is None  # half a size is not known
    assert target(data=ALL, city="Алматы") == "complete"
    assert target(current="incomplete", data=ALL, city="Алматы") == "complete"
    # optional fields alone never count
    optional = [{**f, "required": f["key"] == "city"} for f in CONSTRUCTION]
    assert target(fields=optional, data={"windows": 5, "doors": 2}) == "in_dialog"


def test_construction_needs_every_detail_and_the_height_for_complete():
    """Seed 002: city, the size with its height, foundation, windows, doors and project (yes/no) — all of them."""
    assert {f["key"] for f in CONSTRUCTION if f["required"]} == {
        "city",
        "dimensions",
        "foundation_closed",
        "windows",
        "doors",
        "has_project",
    }
    no_height = {**ALL, "dimensions": {"length": 10, "width": 8}}
    assert target(data=no_height, city="Алматы") == "incomplete"
    for key in ("foundation_closed", "windows", "doors", "has_project"):
        partial = {k: v for k, v in ALL.items() if k != key}
        assert target(data=partial, city="Алматы") == "incomplete", key
    # "no project" and "no doors" are answers: a known False or 0 counts
    assert target(data={**ALL, "has_project": False, "doors": 0}, city="Алматы") == "complete"
    assert engine.required_split(CONSTRUCTION, no_height, "Алматы")[1] == ["dimensions"]


def test_call_request_wins_and_nothing_goes_backwards():
    assert target(call=True) == "requests_call"
    assert target(current="complete", call=True) == "requests_call"
    assert target(current="requests_call", data={"dimensions": {"length": 1, "width": 1}}, city="X") is None
    assert target(current="complete", data={}) is None  # data vanished: the stage stays


@pytest.mark.parametrize("current", ["won", "lost", "custom"])
def test_engine_never_touches_won_lost_or_custom(current):
    assert target(current=current, call=True) is None


def test_a_locked_stage_is_never_moved():
    assert target(current="new", locked=True, call=True) is None
    assert target(current="in_dialog", locked=True, city="Алматы") is None


def test_no_required_fields_means_no_complete():
    optional = [{**f, "required": False} for f in CONSTRUCTION]
    assert target(fields=optional, data={"windows": 3}, city="Алматы") == "in_dialog"


def score(**kw):
    kw.setdefault("fields", CONSTRUCTION)
    kw.setdefault("data", {})
    return engine.score_compute(engine.ScoreInput(**kw))


def test_score_grows_with_data_and_a_call_and_quotes_the_client():
    cold, t0, _ = score()
    assert (cold, t0) == (0, "cold")
    half, _, reasons = score(city="Алматы", quotes={"city": "строим в Алматы"})
    assert 0 < half < 30 and reasons[0]["quote"] == "строим в Алматы"
    assert reasons[0]["key"] == "known" and reasons[0]["params"]["field"] == "city"
    full, t1, _ = score(city="Алматы", data=ALL, name="Айгуль", client_messages=3, stage_kind="complete")
    assert full >= 45 and t1 == "warm"
    hot, t2, reasons = score(
        city="Алматы",
        data=ALL,
        name="Айгуль",
        call_requested=True,
        preferred_time="завтра",
        intents={"call_request"},
        quotes={"call_request": "наберите завтра"},
        call_soon=True,
        stage_kind="requests_call",
    )
    assert hot > full and t2 == "hot"
    call = next(r for r in reasons if r["key"] == "call_request")
    assert (call["points"], call["reason"], call["quote"], call["params"]) == (
        20,
        "Просит звонок",
        "наберите завтра",
        {},
    )
    assert all(set(r) == {"points", "key", "params", "reason", "quote"} for r in reasons)


HOT = {
    "city": "Алматы",
    "data": ALL,
    "name": "Айгуль",
    "call_requested": True,
    "call_soon": True,
    "stage_kind": "requests_call",
    "client_messages": 4,
}


def test_hot_needs_urgency_a_call_all_details_and_complete_reached():
    """Seed 003: hot = urgent + wants a call + all details + already in "Полные данные"."""
    assert score(**HOT)[1] == "hot"
    assert score(**{**HOT, "call_soon": False})[1] == "warm"  # a call "some day" is not urgent
    assert score(**{**HOT, "call_soon": False, "data": {**ALL, "urgency": "now"}})[1] == "hot"
    assert score(**{**HOT, "call_requested": False})[1] == "warm"
    assert score(**{**HOT, "data": {**ALL, "doors": None}})[1] == "warm"
    assert score(**{**HOT, "stage_kind": "in_dialog"})[1] == "warm"  # the data never made it to "Полные данные"


def test_thinking_cools_and_silence_decays_with_reasons():
    hot, _, _ = score(**HOT)
    thinking, temp, reasons = score(**HOT, thinking=True, quotes={"thinking": "спасибо, подумаю"})
    assert thinking < hot and temp == "warm"
    assert any(r["key"] == "thinking" and r["points"] < 0 and r["quote"] == "спасибо, подумаю" for r in reasons)
    one_day, temp1, _ = score(**HOT, silent_days=1.5)
    three_days, temp3, reasons = score(**HOT, silent_days=3.2)
    assert hot > one_day > three_days and (temp1, temp3) == ("hot", "warm")
    assert {"key": "silence", "params": {"days": 3}, "points": -15} == {
        k: v for k, v in reasons[-1].items() if k in ("key", "params", "points")
    }
    # warm = interested; cold = asked and went silent for a week
    interested = {"city": "Алматы", "client_messages": 2}
    assert score(**interested)[1] == "warm"
    assert score(**interested, silent_days=8)[1] == "cold"
    assert score(client_messages=1, intents={"greeting"})[1] == "cold"
    # the same input gives the same answer: recomputing is idempotent
    assert score(**HOT, silent_days=3.2) == (three_days, temp3, reasons)


def test_score_is_bounded_and_refusal_cools_down():
    everything = {**ALL, "urgency": "now"}
    top, temp, _ = score(
        data=everything,
        city="X",
        name="A",
        call_requested=True,
        preferred_time="t",
        meeting=True,
        intents={"price_question"},
        client_messages=9,
        stage_kind="requests_call",
    )
    assert top == 100 and temp == "hot"
    zero, temp, reasons = score(data=everything, city="X", refused=True, quotes={"refusal": "не надо"})
    assert (zero, temp) == (0, "cold") and reasons[-1]["reason"] == "Отказался" and reasons[-1]["quote"] == "не надо"


def test_b2b_urgency_and_price_interest_score():
    base, _, _ = score(fields=B2B, data={"needs": "CRM"})
    urgent, _, reasons = score(
        fields=B2B,
        data={"needs": "CRM", "urgency": "now"},
        intents={"price_question"},
        quotes={"urgency": "нужно срочно"},
    )
    assert urgent > base and any(r["quote"] == "нужно срочно" for r in reasons)


def msg(i, direction="in", text=None, kind="text", author="client"):
    text = f"сообщение номер {i} " + "слово " * 20 if text is None else text
    return SimpleNamespace(
        id=i, direction=direction, text=text, caption="", kind=kind, media_url="", author_kind=author
    )


def test_summary_is_bounded_however_long_the_dialog():
    summary = ""
    for start in range(0, 400, 10):
        summary = prompts.summary_fold(
            summary,
            [msg(i, "in" if i % 2 else "out", author="client" if i % 2 else "ai") for i in range(start, start + 10)],
        )
    assert len(summary) <= prompts.SUMMARY_CHARS
    assert summary.startswith("(+") and "Клиент:" in summary and "Мы:" in summary
    assert "399" in summary  # the newest folded message is kept


def test_window_merges_consecutive_turns_and_marks_people():
    turns = prompts.window_messages(
        [
            msg(1, text="привет"),
            msg(2, text="дом 10 на 12"),
            msg(3, "out", "Здравствуйте!", author="ai"),
            msg(4, "out", "Я менеджер", author="user"),
            msg(5, kind="image", text=""),
        ]
    )
    assert turns == [
        {"role": "user", "content": "привет\nдом 10 на 12"},
        {"role": "assistant", "content": "Здравствуйте!\n[a human manager wrote] Я менеджер"},
        {"role": "user", "content": "[image]"},
    ]
    assert prompts.estimate_tokens("abcd" * 10) == 10
