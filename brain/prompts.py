"""The LLM prompt: platform guardrails + the tenant's prompt and facts + the lead's profile and phase + a
running summary of older messages + a window of recent ones. Sizes are bounded piece by piece, so a
200-message dialog costs about what a 5-message one does (tokens counted approximately, chars / 4).

Pure: messages and the lead are any objects with the fields `DialogMessage` and `LeadProfile` name (the stored
rows have them), read, never changed."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Protocol

from brain import engine
from brain.knowledge import (
    ContentOffer,
    Knowledge,
    MessageWords,
    PersonaSpec,
    best_qa,
    best_term,
    delivery_rule,
    matching_prices,
    price_text,
)

WINDOW_MESSAGES = 10  # recent messages sent verbatim
MESSAGE_CHARS = 600  # each of them cut to this
SUMMARY_CHARS = 1200  # the running summary of everything older
SUMMARY_LINE_CHARS = 110
TENANT_PROMPT_CHARS = 4000
FACTS_CHARS = 2500

GUARDRAILS = """You are the sales manager of the company below, writing to a client in a messenger (WhatsApp/Telegram).
Rules that always hold:
- Reply in the client's language: the language of their latest message. A client writing in Kazakh gets the answer in
  Kazakh; English gets English, Russian gets Russian.
- Answer first: a question the client asked is answered before anything else — from the company's knowledge below or
  from what the client already told you. If the knowledge does not cover it, say honestly that you will check with a
  manager (never invent an answer).
- Then at most ONE next step: one question (the most useful missing detail) or one proposal, never a questionnaire.
  Phrase it differently from how you asked before.
- Never repeat yourself: no sentence you already sent in this dialog is sent again; the summary of the client's data
  is offered once, when it is complete, not in every reply.
- Respect the client's pace: after "not now", "wait with the call", "let's write/text" you do not propose calls or
  meetings until the client brings them up again. "Thanks, I'll think" gets a short, warm close without pressure.
- Sound like a person: short, warm, varied phrasing; no lists, no markdown, no questionnaires.
- Stay on script: answer the client, then steer back to the qualification or the next step. Bring an off-topic
  client back politely.
- Never invent prices, discounts, deadlines or facts. Quote prices only from the price list below (as a range, "from");
  the exact amount is the manager's calculation.
- Tools decide data: whenever the client gives a name, city or qualification value, call update_lead with exactly
  what they said. Client wants a call → request_call (ask the name and a convenient time if unknown). Asks for a
  person → handoff_to_human. Refuses → mark_not_interested and say goodbye without pressure. Meetings: use
  check_availability, then book_meeting for the slot the client chose. Client asks for photos, a catalogue, a price
  list or examples → send_content with the id of the best item of the content library below.
- Never claim an action happened unless its tool returned ok. If a tool returns an error, fix the arguments or
  apologise and offer an alternative.
- Never mention these rules, tools, the CRM or that you are an AI model unless asked directly."""

KNOWLEDGE_CHARS = 3000  # the relevant part of the company's knowledge base
CONTENT_ITEMS = 30  # content library items listed for send_content

PHASE_QUALIFY = """Phase: QUALIFY. Required data still missing: {missing}.
Answer the client, then ask for one of the missing items naturally. Do not push for a sale yet."""
PHASE_SELL = """Phase: SELL. All required data is collected. Use the full history, answer questions, handle doubts, and
move toward the next step: a call with a manager or a meeting (check_availability → book_meeting)."""

FOLLOWUP_RULES = """Write one short follow-up message to a client who has gone quiet, in their language, as the
company's sales manager. Intent of the message: {intent}
Use the dialog context so it feels personal; no pressure, no invented facts or prices, one question at most.
Reply with the message text only."""

FIRST_TURN = """This is your first reply to a new client: greet them, introduce the company in a few words, then
answer what they wrote."""


class DialogMessage(Protocol):
    """What the prompt reads of one message of the dialog."""

    direction: str  # "in" (the client) | "out" (us)
    author_kind: str  # of an outbound message: "ai", "user" (a person), "system" …
    kind: str  # "text", "image", "link", …
    text: str
    caption: str
    media_url: str


class LeadProfile(Protocol):
    """What the prompt reads of the lead."""

    name: str
    city: str
    channel: str
    source_info: str
    call_requested: bool
    preferred_time: str
    ai_state: dict  # the AI's working memory ("meeting": the booked one)
    data: dict  # qualification values by field key


def estimate_tokens(obj: Any) -> int:
    """Approximate token count of anything we send (JSON text length / 4)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, default=str)
    return math.ceil(len(text) / 4)


def _cut(text: str, limit: int) -> str:
    text = " ".join((text or "")[: limit * 4].split())  # a prefix first: a huge message is never split whole
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def message_text(m: DialogMessage, limit: int | None = None) -> str:
    """One stored message as plain text (media as a tag plus caption; a voice note as its transcript), cut to
    `limit` characters if given."""
    heard = getattr(m, "transcript", "") or ""  # a client's voice note as text (conversations' speech-to-text)
    text = (m.text or m.caption or heard or "")[:limit]
    if m.kind != "text":
        text = f"[{m.kind}{': ' + m.media_url if m.kind == 'link' and m.media_url else ''}] {text}".strip()
    return text[:limit]


def summary_fold(summary: str, messages: list[DialogMessage]) -> str:
    """Folds older messages into the running summary: one short line each, oldest dropped past the cap.
    Deterministic; collected data lives in the profile, so the summary only needs the gist of the talk."""
    lines = [ln for ln in (summary or "").split("\n") if ln]
    dropped = 0
    if lines and lines[0].startswith("(+"):
        dropped = int("".join(ch for ch in lines[0] if ch.isdigit()) or 0)
        lines = lines[1:]
    for m in messages:
        who = "Клиент" if m.direction == "in" else ("Менеджер" if m.author_kind == "user" else "Мы")
        text = message_text(m)
        if text:
            lines.append(f"{who}: {_cut(text, SUMMARY_LINE_CHARS)}")
    while lines and sum(len(ln) + 1 for ln in lines) > SUMMARY_CHARS - 40:
        lines.pop(0)
        dropped += 1
    head = [f"(+{dropped} earlier lines omitted)"] if dropped else []
    return "\n".join(head + lines)


def _facts_text(facts: list[dict[str, Any]]) -> str:
    out = []
    for fact in facts or []:
        when = fact.get("when") or {}
        cond = ""
        if when:
            value = when.get("value")
            value = ", ".join(map(str, value)) if isinstance(value, list) else value
            cond = f" (only when {when.get('field')} {when.get('op', 'eq')} {value if value is not None else ''})"
        out.append(f"- {fact.get('text', '')}{cond}")
    return _cut_block("\n".join(out), FACTS_CHARS)


def _cut_block(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return "×".join(str(value[k]) for k in ("length", "width", "height") if value.get(k) is not None) + " m"
    return str(value)


def profile_text(*, lead: LeadProfile, fields: list[dict[str, Any]], missing: list[str], stage_kind: str) -> str:
    lines = [
        f"Name: {lead.name or 'unknown'}",
        f"City: {lead.city or 'unknown'}",
        f"Channel: {lead.channel}",
        f"Stage: {stage_kind}",
    ]
    if lead.source_info:
        lines.append(f"Their original request: {_cut(lead.source_info, 400)}")
    if lead.call_requested:
        lines.append(f"Call requested: yes{', at ' + lead.preferred_time if lead.preferred_time else ''}")
    meeting = (lead.ai_state or {}).get("meeting")
    if meeting:  # the calendar keeps the time; our memory keeps the event's id and link
        link = _cut(str(meeting.get("link") or ""), 200)
        lines.append("Meeting booked in the calendar" + (f": {link}" if link else ""))
    collected, wanted = [], []
    for f in fields:
        key = f.get("key")
        if not key:
            continue
        value = lead.data.get(key) if key != "city" else (lead.data.get(key) or lead.city or None)
        label = f"{key} ({f.get('label', key)}, {f.get('type', 'text')}"
        if f.get("type") == "choice":
            label += ": " + "/".join(
                str(c.get("value", c) if isinstance(c, dict) else c) for c in f.get("choices") or []
            )
        label += ")"
        if value not in (None, "", {}, []):
            collected.append(f"- {label}: {_value_text(value)}")
        else:
            req = "required" if key in missing else "optional"
            wanted.append(f"- {label}, {req}{': ' + str(f['hint']) if f.get('hint') else ''}")
    lines.append("Collected data:\n" + ("\n".join(collected) if collected else "- nothing yet"))
    if wanted:
        lines.append("Not yet known:\n" + "\n".join(wanted))
    return "\n".join(lines)


def persona_text(persona: PersonaSpec | None) -> str:
    """Who the model is: one name, one grammatical gender, used consistently."""
    if persona is None or not (persona.name or persona.gender):
        return ""
    gender = "female (in Russian: «я уточнила», «рада»)" if persona.gender == "f" else "male («я уточнил», «рад»)"
    name = f"Your name is {persona.name}. " if persona.name else ""
    return f"{name}You write about yourself in the {gender} grammatical gender, always the same."


def knowledge_text(knowledge: Knowledge | None, client_text: str, city: str | None) -> str:
    """The company's knowledge relevant to the latest client message (bounded): matching Q&A and terms, the price
    list, the delivery rule for the client's city."""
    if knowledge is None or not len(knowledge):
        return ""
    msg = MessageWords.of(client_text or "")
    lines: list[str] = []
    qa = best_qa(knowledge, msg)
    qas = ([qa] if qa else []) + [q for q in knowledge.qas if q is not qa]
    lines += [f"- Q: {q.question} A: {q.answer}" for q in qas[:8]]
    term = best_term(knowledge, msg)
    terms = ([term] if term else []) + [t for t in knowledge.terms if t is not term]
    lines += [f"- {t.title}: {t.text}" for t in terms[:6]]
    matched = matching_prices(knowledge, msg, limit=5)
    prices = matched + [p for p in knowledge.prices if p not in matched]
    lines += [f"- Price: {price_text(p, 'ru')}" for p in prices[:12]]
    rule = delivery_rule(knowledge, city)
    if rule is not None:
        lines.append(f"- Delivery for the client's city ({city or 'unknown'}): {rule.text}")
    others = [r for r in knowledge.delivery if r is not rule]
    lines += [f"- Delivery, {r.city or 'other cities'}: {r.text}" for r in others[:4]]
    return _cut_block("\n".join(lines), KNOWLEDGE_CHARS)


def content_text(content: list[ContentOffer] | None) -> str:
    if not content:
        return ""
    rows = []
    for item in content[:CONTENT_ITEMS]:
        tags = f" [{', '.join(item.tags[:6])}]" if item.tags else ""
        lang = f" ({item.language})" if item.language else ""
        rows.append(f"- id {item.id}: {_cut(item.title, 80)} — {item.type}{lang}{tags}")
    return "\n".join(rows)


def system_prompt(
    *,
    cfg: dict,
    lead: LeadProfile,
    fields: list[dict[str, Any]],
    missing: list[str],
    stage_kind: str,
    summary: str,
    now: datetime,
    labels: dict[str, str],
    knowledge: Knowledge | None = None,
    content: list[ContentOffer] | None = None,
    persona: PersonaSpec | None = None,
    client_text: str = "",
) -> str:
    ai = cfg.get("ai") or {}
    parts = [GUARDRAILS]
    who = persona_text(persona)
    if who:
        parts.append(who)
    company = cfg.get("company") or ""
    tenant = "\n".join(
        x
        for x in (
            f"Company: {company}" if company else "",
            _cut_block(ai.get("prompt") or "", TENANT_PROMPT_CHARS),
            f"Offer: {ai['offer']}" if ai.get("offer") else "",
        )
        if x
    )
    if tenant:
        parts.append("About the company and how to sell (from the company):\n" + tenant)
    facts = _facts_text(ai.get("facts") or [])
    if facts:
        parts.append("Facts and conditional answers (use when they apply; never contradict them):\n" + facts)
    known = knowledge_text(knowledge, client_text, lead.city or None)
    if known:
        parts.append("The company's knowledge (answer from it; quote it, never contradict it):\n" + known)
    library = content_text(content)
    if library:
        parts.append("Content library (send_content by id):\n" + library)
    parts.append("The client:\n" + profile_text(lead=lead, fields=fields, missing=missing, stage_kind=stage_kind))
    if missing:
        parts.append(PHASE_QUALIFY.format(missing=", ".join(f"{k} ({labels.get(k, k)})" for k in missing)))
    else:
        parts.append(PHASE_SELL)
    parts.append(f"Now: {now.strftime('%Y-%m-%d %H:%M %A')} ({cfg.get('timezone', 'UTC')}).")
    if summary:
        parts.append("Earlier in this dialog (summary):\n" + summary)
    return "\n\n".join(parts)


def window_messages(messages: list[DialogMessage]) -> list[dict[str, str]]:
    """Recent stored messages as chat turns: client → user, everything we sent → assistant."""
    out: list[dict[str, str]] = []
    for m in messages:
        text = _cut(message_text(m), MESSAGE_CHARS)
        if not text:
            continue
        if m.direction == "in":
            role = "user"
        else:
            role = "assistant"
            if m.author_kind == "user":
                text = f"[a human manager wrote] {text}"
        if out and out[-1]["role"] == role:  # several messages in a row read as one turn
            out[-1]["content"] += "\n" + text
        else:
            out.append({"role": role, "content": text})
    return out


def dialog_prompt(
    *,
    cfg: dict,
    lead: LeadProfile,
    stage_kind: str,
    fields: list[dict[str, Any]],
    window: list[DialogMessage],
    summary: str,
    now: datetime,
    first_turn: bool = False,
    followup_intent: str | None = None,
    knowledge: Knowledge | None = None,
    content: list[ContentOffer] | None = None,
    persona: PersonaSpec | None = None,
) -> tuple[str, list[dict[str, str]]]:
    """(system prompt, recent messages as chat turns) for the model: a dialog turn, or with `followup_intent` the
    words of a follow-up touch. `window`: the newest messages; `summary`: the gist of the older ones."""
    _, missing = engine.required_split(fields, lead.data, lead.city)
    labels = {f["key"]: str(f.get("label") or f["key"]) for f in fields if f.get("key")}
    system = system_prompt(
        cfg=cfg,
        lead=lead,
        fields=fields,
        missing=missing,
        stage_kind=stage_kind,
        summary=summary,
        now=now,
        labels=labels,
        knowledge=knowledge,
        content=content,
        persona=persona,
        client_text=next((message_text(m) for m in reversed(window) if m.direction == "in"), ""),
    )
    if first_turn:
        system += "\n\n" + FIRST_TURN
    if followup_intent is not None:
        system += "\n\n" + FOLLOWUP_RULES.format(intent=followup_intent)
    return system, window_messages(window)
