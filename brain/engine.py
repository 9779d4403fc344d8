"""The stage and score engine: deterministic, the same for both brains, pure (no Django, no I/O).

Code, not the model, decides state: the stage follows from what the tools reported (fields known, call
asked), never moves a lead a person placed (`stage_locked`), never goes to won/lost, never backwards.
The score is 0–100 with a temperature and reasons that quote the client's own words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Stages the engine may move between, in the order a lead progresses. Anything else (won, lost, custom
# stages) is a person's decision and is left alone.
RANK = {"new": 0, "in_dialog": 1, "incomplete": 2, "complete": 3, "requests_call": 4}
HOT, WARM = 60, 30

REQUIRED_POINTS = 45
OPTIONAL_POINTS = 10


def _known(f: dict[str, Any], value: Any) -> bool:
    if f.get("type") == "dimensions":
        return isinstance(value, dict) and bool(value.get("length")) and bool(value.get("width"))
    return value not in (None, "", [], {})


def field_value(f: dict[str, Any], data: dict[str, Any], city: str | None) -> Any:
    value = data.get(f["key"])
    if f["key"] == "city" and not value:
        value = city or None
    return value


def required_split(fields: list[dict[str, Any]], data: dict[str, Any], city: str | None) -> tuple[list[str], list[str]]:
    """(known, missing) keys of the required qualification fields."""
    known, missing = [], []
    for f in fields:
        if f.get("required") and f.get("key"):
            (known if _known(f, field_value(f, data, city)) else missing).append(f["key"])
    return known, missing


def stage_target(*, current: str, locked: bool, client_replied: bool, fields: list[dict[str, Any]],
                 data: dict[str, Any], city: str | None, call_requested: bool) -> str | None:
    """The stage kind the lead should move to, or None to leave it where it is."""
    if locked or current not in RANK:
        return None
    if call_requested:
        target = "requests_call"
    else:
        known, missing = required_split(fields, data, city)
        if known and not missing:
            target = "complete"
        elif known:
            target = "incomplete"
        elif client_replied:
            target = "in_dialog"
        else:
            target = "new"
    return target if RANK[target] > RANK[current] else None


@dataclass
class ScoreInput:
    fields: list[dict[str, Any]]
    data: dict[str, Any]
    city: str | None = None
    name: str | None = None
    call_requested: bool = False
    preferred_time: str | None = None
    refused: bool = False
    meeting: bool = False
    quotes: dict[str, str] = field(default_factory=dict)  # field key / intent → the client's words
    intents: set[str] = field(default_factory=set)  # intents seen in the dialog so far
    client_messages: int = 0


def _label(f: dict[str, Any]) -> str:
    return str(f.get("label") or f.get("key"))


def score_compute(s: ScoreInput) -> tuple[int, str, list[dict[str, Any]]]:
    """(score 0–100, temperature hot|warm|cold, reasons [{points, reason, quote}])."""
    reasons: list[dict[str, Any]] = []

    def add(points: int, reason: str, key: str) -> None:
        if points:
            reasons.append({"points": points, "reason": reason, "quote": (s.quotes.get(key) or "")[:200]})

    required = [f for f in s.fields if f.get("required") and f.get("key")]
    optional = [f for f in s.fields if not f.get("required") and f.get("key")]
    for group, total, word in ((required, REQUIRED_POINTS, "Известно"), (optional, OPTIONAL_POINTS, "Уточнено")):
        known = [f for f in group if _known(f, field_value(f, s.data, s.city))]
        for i, f in enumerate(known):
            # Spread `total` over the group; the last known one takes the rounding remainder when all are in.
            share = total // len(group) + (total % len(group) if i == len(group) - 1 else 0)
            add(share, f"{word}: {_label(f)}", f["key"])
    if s.name:
        add(5, "Представился", "name")
    if s.client_messages >= 3:
        add(5, "Активно отвечает", "engaged")
    if "price_question" in s.intents:
        add(10, "Интересуется ценой", "price_question")
    urgency = s.data.get("urgency")
    if urgency == "now":
        add(10, "Нужно срочно", "urgency")
    elif urgency == "month":
        add(5, "Нужно в течение месяца", "urgency")
    if s.call_requested:
        add(20, "Просит звонок", "call_request")
        if s.preferred_time:
            add(5, f"Удобное время: {s.preferred_time}", "preferred_time")
    if s.meeting:
        add(25, "Назначена встреча", "meeting")
    total = sum(r["points"] for r in reasons)
    if s.refused:
        reasons.append({"points": -total, "reason": "Отказался", "quote": (s.quotes.get("refusal") or "")[:200]})
        total = 0
    total = max(0, min(100, total))
    temperature = "hot" if total >= HOT else "warm" if total >= WARM else "cold"
    return total, temperature, reasons
