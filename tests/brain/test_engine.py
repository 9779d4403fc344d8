"""The stage/score engine and the prompt budget (pure, no database)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from brain import engine, prompts
from tenants.presets import get_preset

CONSTRUCTION = get_preset("construction")
B2B = get_preset("generic_b2b")


def target(current="new", locked=False, replied=True, data=None, city=None, call=False, fields=CONSTRUCTION):
    return engine.stage_target(current=current, locked=locked, client_replied=replied, fields=fields,
                               data=data or {}, city=city, call_requested=call)


def test_first_reply_moves_new_to_in_dialog():
    assert target() == "in_dialog"
    assert target(replied=False) is None
    assert target(current="in_dialog") is None


def test_some_required_fields_make_incomplete_all_make_complete():
    assert target(city="Алматы") == "incomplete"
    assert target(data={"city": "Алматы"}) == "incomplete"
    assert target(data={"dimensions": {"length": 10}}, current="in_dialog") is None  # half a size is not known
    assert target(data={"dimensions": {"length": 10, "width": 8}}, city="Алматы") == "complete"
    assert target(current="incomplete", data={"dimensions": {"length": 10, "width": 8}}, city="Алматы") == "complete"
    # optional fields alone never count
    assert target(data={"windows": 5, "doors": 2}) == "in_dialog"


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
    full, t1, _ = score(city="Алматы", data={"dimensions": {"length": 10, "width": 12}}, name="Айгуль")
    assert full >= 45 and t1 == "warm"
    hot, t2, reasons = score(city="Алматы", data={"dimensions": {"length": 10, "width": 12}}, name="Айгуль",
                             call_requested=True, preferred_time="завтра", intents={"call_request"},
                             quotes={"call_request": "наберите завтра"})
    assert hot > full and t2 == "hot"
    assert {"points": 20, "reason": "Просит звонок", "quote": "наберите завтра"} in reasons
    assert all(set(r) == {"points", "reason", "quote"} for r in reasons)


def test_score_is_bounded_and_refusal_cools_down():
    everything = {f["key"]: 1 for f in CONSTRUCTION}
    everything["dimensions"] = {"length": 1, "width": 1}
    top, temp, _ = score(data=everything, city="X", name="A", call_requested=True, preferred_time="t", meeting=True,
                         intents={"price_question"}, client_messages=9)
    assert top == 100 and temp == "hot"
    zero, temp, reasons = score(data=everything, city="X", refused=True, quotes={"refusal": "не надо"})
    assert (zero, temp) == (0, "cold") and reasons[-1]["reason"] == "Отказался" and reasons[-1]["quote"] == "не надо"


def test_b2b_urgency_and_price_interest_score():
    base, _, _ = score(fields=B2B, data={"needs": "CRM"})
    urgent, _, reasons = score(fields=B2B, data={"needs": "CRM", "urgency": "now"}, intents={"price_question"},
                               quotes={"urgency": "нужно срочно"})
    assert urgent > base and any(r["quote"] == "нужно срочно" for r in reasons)


def msg(i, direction="in", text=None, kind="text", author="client"):
    text = f"сообщение номер {i} " + "слово " * 20 if text is None else text
    return SimpleNamespace(id=i, direction=direction, text=text,
                           caption="", kind=kind, media_url="", author_kind=author)


def test_summary_is_bounded_however_long_the_dialog():
    summary = ""
    for start in range(0, 400, 10):
        summary = prompts.summary_fold(summary, [msg(i, "in" if i % 2 else "out", author="client" if i % 2 else "ai")
                                                 for i in range(start, start + 10)])
    assert len(summary) <= prompts.SUMMARY_CHARS
    assert summary.startswith("(+") and "Клиент:" in summary and "Мы:" in summary
    assert "399" in summary  # the newest folded message is kept


def test_window_merges_consecutive_turns_and_marks_people():
    turns = prompts.window_messages([msg(1, text="привет"), msg(2, text="дом 10 на 12"),
                                     msg(3, "out", "Здравствуйте!", author="ai"),
                                     msg(4, "out", "Я менеджер", author="user"), msg(5, kind="image", text="")])
    assert turns == [{"role": "user", "content": "привет\nдом 10 на 12"},
                     {"role": "assistant", "content": "Здравствуйте!\n[a human manager wrote] Я менеджер"},
                     {"role": "user", "content": "[image]"}]
    assert prompts.estimate_tokens("abcd" * 10) == 10
