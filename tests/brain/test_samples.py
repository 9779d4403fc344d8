"""Score the offline brain on sample dialogs exactly as /work/shared/samples/README.md describes.

Each dialog is played through plan_turn message by message (so `awaiting` is what a real dialog would
pass), applying update_lead to the lead card; intents are collected from every turn's extraction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from brain.offline import DialogState, plan_turn
from tenants.presets import get_preset

HERE = Path(__file__).parent


def load(name: str) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def play(dialog: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Run a dialog through the brain; return the recorded fields (name, city, data) and the intents."""
    state = DialogState(fields=get_preset(dialog["preset"]))
    intents: set[str] = set()
    for msg in dialog["client"]:
        plan = plan_turn(state, msg)
        intents |= plan.extraction.intents
        for call in plan.tool_calls:
            if call.name == "update_lead":
                state.data.update(call.arguments.get("data", {}))
                state.name = call.arguments.get("name", state.name)
                state.city = call.arguments.get("city", state.city)
            elif call.name == "request_call":
                state.call_requested = True
                state.preferred_time = call.arguments.get("preferred_time", state.preferred_time)
        if "price_question" in plan.extraction.intents:
            state.price_asked_count += 1
        state.awaiting = plan.awaiting
        state.language = plan.language
        state.facts_used += plan.facts_used
        state.turn += 1
    recorded: dict[str, Any] = dict(state.data)
    if state.name:
        recorded["name"] = state.name
    if state.city:
        recorded["city"] = state.city
    return recorded, intents


def _norm(s: Any) -> str:
    return str(s).strip().lower()


def value_ok(expected: Any, got: Any, ftype: str) -> bool:
    if got is None:
        return False
    if ftype == "dimensions" or isinstance(expected, dict):
        return isinstance(got, dict) and all(
            k in got and abs(float(got[k]) - float(v)) <= 0.01 for k, v in expected.items()
        )
    if isinstance(expected, bool) or ftype == "boolean":
        return got is expected
    if isinstance(expected, (int, float)):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - expected) <= 0.01
    if ftype == "text":
        # Expected words must appear in the recorded text in that order.
        pos, low = 0, _norm(got)
        for w in _norm(expected).split():
            i = low.find(w, pos)
            if i < 0:
                return False
            pos = i + len(w)
        return True
    return _norm(expected) == _norm(got)


def score(dialogs: list[dict[str, Any]], verbose: bool = True) -> dict[str, float]:
    tp_f = rec_f = exp_f = 0
    tp_i = rec_i = exp_i = 0
    rows = []
    for d in dialogs:
        fields = {f["key"]: f for f in get_preset(d["preset"])}
        recorded, intents = play(d)
        exp = d["expect"]["fields"]
        ok = 0
        bad: list[str] = []
        for key, value in exp.items():
            ftype = "text" if key in ("name", "city") else fields.get(key, {}).get("type", "text")
            if key in ("name", "city"):
                ftype = "choice"  # compared trimmed, case-insensitively
            if value_ok(value, recorded.get(key), ftype):
                ok += 1
            else:
                bad.append(f"{key}={recorded.get(key)!r}≠{value!r}")
        extra = [k for k in recorded if k not in exp]
        bad += [f"+{k}={recorded[k]!r}" for k in extra]
        tp_f += ok
        exp_f += len(exp)
        rec_f += len([k for k in exp if k in recorded]) + len(extra)
        ei = set(d["expect"]["intents"])
        tp_i += len(ei & intents)
        exp_i += len(ei)
        rec_i += len(intents)
        if ei != intents:
            bad.append(f"intents {sorted(intents)}≠{sorted(ei)}")
        rows.append((d["id"], ok, len(exp), "; ".join(bad)))
    res = {
        "field_precision": tp_f / rec_f if rec_f else 1.0,
        "field_recall": tp_f / exp_f if exp_f else 1.0,
        "intent_precision": tp_i / rec_i if rec_i else 1.0,
        "intent_recall": tp_i / exp_i if exp_i else 1.0,
    }
    if verbose:
        print(f"\n{'id':<6}{'ok':>4}/{'exp':<4} problems")
        for rid, ok, n, bad in rows:
            print(f"{rid:<6}{ok:>4}/{n:<4} {bad}")
        print("  ".join(f"{k}={v:.3f}" for k, v in res.items()))
    return res


def test_samples_score() -> None:
    res = score(load("dialogs.jsonl"))
    for k, v in res.items():
        assert v >= 0.9, (k, v)


def test_extra_dialogs_score() -> None:
    path = HERE / "dialogs_extra.jsonl"
    if not path.exists():
        pytest.skip("no held-out dialogs")
    res = score(load("dialogs_extra.jsonl"))
    assert len(load("dialogs_extra.jsonl")) >= 20
    for k, v in res.items():
        assert v >= 0.85, (k, v)
