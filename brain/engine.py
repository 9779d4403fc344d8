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


DIMENSION_PARTS = ("length", "width", "height")


def _known(f: dict[str, Any], value: Any) -> bool:
    if f.get("type") == "dimensions":
        # A size is known with its height (seed 002): length × width alone cannot be quoted.
        return isinstance(value, dict) and all(bool(value.get(part)) for part in DIMENSION_PARTS)
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


def stage_target(
    *,
    current: str,
    locked: bool,
    client_replied: bool,
    fields: list[dict[str, Any]],
    data: dict[str, Any],
    city: str | None,
    call_requested: bool,
) -> str | None:
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
    stage_kind: str = ""  # the lead's stage kind now (hot needs "complete" reached: complete or requests_call)
    thinking: bool = False  # the client's latest word was "подумаю": the lead cools down until they come back
    silent_days: float = 0.0  # days since the client last wrote while our message waits (0 when they answered)
    call_soon: bool = False  # the call is wanted now, today or tomorrow (brain.when read the client's words)


# Points a day of the client's silence takes off (after the first day), and how far decay may go.
DECAY_PER_DAY = 5
DECAY_MAX = 40
THINKING_POINTS = -15
# A lead that has been silent this long is no longer warm: it asked and went quiet.
COLD_AFTER_DAYS = 7
# A hot lead cools to warm after this much silence.
HOT_SILENCE_DAYS = 2
URGENT_KINDS = ("complete", "requests_call")

# The texts of the reasons in Russian (stored for old readers and the admin); the PWA renders `key` + `params`
# in the UI's language (frontend/src/lib/dict.ts, `reason.*`).
REASON_TEXTS = {
    "known": "Известно: {label}",
    "clarified": "Уточнено: {label}",
    "introduced": "Представился",
    "engaged": "Активно отвечает",
    "price_interest": "Интересуется ценой",
    "urgent_now": "Нужно срочно",
    "urgent_month": "Нужно в течение месяца",
    "call_request": "Просит звонок",
    "preferred_time": "Удобное время: {time}",
    "meeting": "Назначена встреча",
    "thinking": "Взял паузу подумать",
    "silence": "Молчит {days} дн.",
    "refused": "Отказался",
}


def _label(f: dict[str, Any]) -> str:
    return str(f.get("label") or f.get("key"))


def _reason(key: str, points: int, quote: str = "", **params: Any) -> dict[str, Any]:
    return {
        "points": points,
        "key": key,
        "params": params,
        "reason": REASON_TEXTS[key].format(**params),
        "quote": (quote or "")[:200],
    }


def score_compute(s: ScoreInput) -> tuple[int, str, list[dict[str, Any]]]:
    """(score 0–100, temperature hot|warm|cold, reasons [{points, key, params, reason, quote}]).

    The points rank leads; the temperature follows the seed's rules: hot = urgent + wants a call + all details +
    already in "Полные данные"; warm = interested or thinking it over; cold = just asked and went silent. Silence
    takes points off day by day and "подумаю" takes some at once; each says so in a reason. The result depends only
    on the input, so recomputing it (each turn, each decay sweep) is idempotent."""
    reasons: list[dict[str, Any]] = []

    def add(points: int, key: str, quote_key: str, **params: Any) -> None:
        if points:
            reasons.append(_reason(key, points, s.quotes.get(quote_key) or "", **params))

    required = [f for f in s.fields if f.get("required") and f.get("key")]
    optional = [f for f in s.fields if not f.get("required") and f.get("key")]
    all_required = bool(required)
    for group, total, key in ((required, REQUIRED_POINTS, "known"), (optional, OPTIONAL_POINTS, "clarified")):
        known = [f for f in group if _known(f, field_value(f, s.data, s.city))]
        if group is required and len(known) < len(required):
            all_required = False
        for i, f in enumerate(known):
            # Spread `total` over the group; the last known one takes the rounding remainder when all are in.
            share = total // len(group) + (total % len(group) if i == len(group) - 1 else 0)
            add(share, key, f["key"], field=f["key"], label=_label(f), label_en=str(f.get("label_en") or ""))
    if s.name:
        add(5, "introduced", "name")
    if s.client_messages >= 3:
        add(5, "engaged", "engaged")
    if "price_question" in s.intents:
        add(10, "price_interest", "price_question")
    urgency = s.data.get("urgency")
    urgent = urgency == "now" or "urgent" in s.intents or s.call_soon or s.meeting
    if urgency == "now":
        add(10, "urgent_now", "urgency")
    elif urgency == "month":
        add(5, "urgent_month", "urgency")
    if s.call_requested:
        add(20, "call_request", "call_request")
        if s.preferred_time:
            add(5, "preferred_time", "preferred_time", time=s.preferred_time[:100])
    if s.meeting:
        add(25, "meeting", "meeting")
    if s.thinking:
        add(THINKING_POINTS, "thinking", "thinking")
    days = int(s.silent_days)
    if days >= 1:
        add(-min(DECAY_MAX, DECAY_PER_DAY * days), "silence", "", days=days)
    total = sum(r["points"] for r in reasons)
    if s.refused:
        reasons.append(_reason("refused", -max(0, total), s.quotes.get("refusal") or ""))
        total = 0
    total = max(0, min(100, total))
    interested = (
        s.client_messages >= 2
        or any(_known(f, field_value(f, s.data, s.city)) for f in s.fields if f.get("key"))
        or bool(s.intents - {"greeting"})
        or s.call_requested
    )
    if s.refused:
        temperature = "cold"
    elif (
        urgent
        and (s.call_requested or s.meeting)
        and all_required
        and s.stage_kind in URGENT_KINDS
        and not s.thinking
        and s.silent_days < HOT_SILENCE_DAYS
    ):
        temperature = "hot"
    elif (s.thinking or interested or total >= WARM) and s.silent_days < COLD_AFTER_DAYS:
        temperature = "warm"
    else:
        temperature = "cold"
    return total, temperature, reasons
