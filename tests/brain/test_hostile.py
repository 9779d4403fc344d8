"""The brain on hostile text (issue 12): linear on any input, a deadline checked between its stages, replies
that never echo a huge text. No timing assertions: before the fix each of these ran for hours (a 65 KB text
took 20 s in guess_language, 1 MiB a worker's whole afternoon); now they return in seconds. Figures:
bench/nlu_hostile.py. Every pattern of the brain and aiagent together: tests/aiagent/test_hostile.py.
"""
from __future__ import annotations

import time

import pytest

from brain import nlu
from brain.offline import DialogState, plan_turn
from tenants.presets import get_preset
from tests.brain.hostile import hostile_text

FIELDS = get_preset("construction") + get_preset("generic_b2b")
ALL_KEYS = [f["key"] for f in FIELDS] + ["name", "preferred_time", "call"]
MIB = 1024 * 1024
# The shapes, each 1 MiB: runs of digits, letters, '@', '.', spaces, and mixed scripts.
BRIEF_FAMILIES = ["digits", "latin letters", "@", ".", "spaces", "mixed scripts"]
# The worst case of each pattern or loop that rescanned its input, 1 MiB, through the entry that ran it: hours
# each before the fix (e-mail-like runs, "operator" repeated, a needs trigger followed by newlines, a needs text
# with a long run of spaces inside).
AIMED = [("e-mail-ish", "guess_language"), ("a@ repeated", "guess_language"), ("operator, human, repeated", "extract"),
         ("needs trigger + newlines", "extract"), ("needs + a run of spaces", "extract")]


@pytest.mark.parametrize("family", BRIEF_FAMILIES)
def test_the_brain_returns_on_a_mebibyte_of_hostile_text(family):
    text = hostile_text(family, MIB)
    assert nlu.guess_language(text) in ("ru", "en", None)
    # plan_turn reads it with guess_language and extract (every field type, a bare answer awaited for each key).
    plan = plan_turn(DialogState(fields=FIELDS, awaiting=ALL_KEYS), text)
    assert plan.language in ("ru", "en") and isinstance(plan.extraction.data, dict)
    assert all(len(r) < 2000 for r in plan.replies)


@pytest.mark.parametrize(("family", "entry"), AIMED)
def test_the_brain_returns_on_texts_aimed_at_single_patterns(family, entry):
    text = hostile_text(family, MIB)
    if entry == "guess_language":
        assert nlu.guess_language(text) in ("ru", "en", None)
    else:
        assert isinstance(nlu.extract(text, FIELDS, awaiting=ALL_KEYS).data, dict)


def test_replies_never_echo_a_huge_text():
    state = DialogState(fields=get_preset("generic_b2b"), awaiting=["preferred_time"], call_requested=True)
    plan = plan_turn(state, "позвоните завтра " * 3000)
    assert plan.extraction.preferred_time.startswith("завтра") and len(plan.extraction.preferred_time) <= 100
    assert all(len(r) < 1000 for r in plan.replies)
    plan = plan_turn(DialogState(fields=get_preset("generic_b2b")), "Нужно " + "очень " * 3000 + "много клиентов")
    assert plan.extraction.data["needs"].startswith("очень очень")
    assert all(len(r) < 1000 for r in plan.replies)


def test_a_deadline_stops_the_brain_between_stages():
    with pytest.raises(nlu.BrainTimeout):
        plan_turn(DialogState(fields=FIELDS), "Здравствуйте, дом 10 на 12 в Алматы", deadline=time.monotonic() - 1)
    with pytest.raises(nlu.BrainTimeout):
        nlu.extract("Дом 10 на 12", FIELDS, deadline=time.monotonic() - 1)
    plan = plan_turn(DialogState(fields=FIELDS), "Дом 10 на 12", deadline=time.monotonic() + 60)
    assert plan.extraction.data["dimensions"] == {"length": 10, "width": 12}
