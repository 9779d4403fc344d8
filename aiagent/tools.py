"""The AI manager's tools (contract section 6): JSON schemas for the LLM and their application to a lead.

Both brains act only through `ToolRunner.run(name, arguments)`. Arguments are validated here, never
trusted: a bad argument becomes an error *result* the model can read and correct, not an exception.
What happened (call asked, handoff, refusal, meeting) is kept on the runner for the stage/score engine.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from brain.money import money_parse
from core.events import emit
from followups.services import content_send
from leads import services as lead_services
from leads.models import Lead
from meetings import services as meetings
from tasks.services import call_due_at

log = logging.getLogger("buildcrm.aiagent")

TOOL_NAMES = ("update_lead", "request_call", "handoff_to_human", "mark_not_interested", "check_availability",
              "book_meeting", "send_content", "note_question")


class ToolError(ValueError):
    """Arguments the tool cannot use; the message goes back to the model as the tool result."""


# ---------------------------------------------------------------------------------------------------------
# Schemas


def _field_schema(f: dict[str, Any]) -> dict[str, Any]:
    desc = " — ".join(str(x) for x in (f.get("label"), f.get("hint")) if x)
    ftype = f.get("type", "text")
    if ftype == "number":
        schema: dict[str, Any] = {"type": "number"}
    elif ftype == "boolean":
        schema = {"type": "boolean"}
    elif ftype == "choice":
        schema = {"type": "string", "enum": [_choice_value(c) for c in f.get("choices") or []]}
    elif ftype == "dimensions":
        schema = {"type": "object", "properties": {k: {"type": "number", "description": f"{k}, metres"}
                                                   for k in ("length", "width", "height")},
                  "required": ["length", "width"], "additionalProperties": False}
    else:
        schema = {"type": "string"}
    if desc:
        schema["description"] = desc
    return schema


def tool_schemas(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 7 tools as OpenAI function tools; update_lead's `data` lists the tenant's qualification keys."""
    data_props = {f["key"]: _field_schema(f) for f in fields if f.get("key")}

    def fn(name: str, description: str, properties: dict, required: list[str]) -> dict:
        return {"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required,
                           "additionalProperties": False}}}

    return [
        fn("update_lead", "Record what the client told you: their name, city and qualification values. "
                          "Call it whenever the client gives any of these; only values the client actually said.",
           {"name": {"type": "string", "description": "Client's name"},
            "city": {"type": "string", "description": "Client's city"},
            "data": {"type": "object", "properties": data_props, "additionalProperties": False,
                     "description": "Qualification values by key"}},
           ["data"]),
        fn("request_call", "The client wants a phone call (asked directly or accepted your offer).",
           {"name": {"type": "string"}, "preferred_time": {"type": "string",
                                                           "description": "When to call, in the client's words"}},
           []),
        fn("handoff_to_human", "The client asks for a person, or you cannot help: a manager takes the dialog.",
           {"reason": {"type": "string"}}, ["reason"]),
        fn("mark_not_interested", "The client clearly refuses / is not interested any more.",
           {"reason": {"type": "string", "description": "The client's words"}}, ["reason"]),
        fn("check_availability", "Free meeting slots in the calendar between two dates (tenant time zone).",
           {"date_from": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
            "date_to": {"type": "string", "format": "date", "description": "YYYY-MM-DD"}},
           ["date_from", "date_to"]),
        fn("book_meeting", "Book a meeting slot the client agreed to.",
           {"start": {"type": "string", "format": "date-time",
                      "description": "ISO date-time, tenant time zone (e.g. 2025-01-15T11:00)"},
            "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 480},
            "email": {"type": "string", "description": "Client's e-mail for the invitation"},
            "summary": {"type": "string"}},
           ["start"]),
        fn("send_content", "Send an item of the content library (photos, catalogue, video) by its id.",
           {"content_id": {"type": "integer"}}, ["content_id"]),
        fn("note_question", "Put a client's question you cannot answer from the company's knowledge on the lead's "
           "card for a manager (then tell the client you will check).",
           {"question": {"type": "string", "description": "The client's question, in their words"}}, ["question"]),
    ]


# ---------------------------------------------------------------------------------------------------------
# Validation of values


def _choice_value(c: Any) -> str:
    return str(c.get("value", c.get("label"))) if isinstance(c, dict) else str(c)


def _number(v: Any, what: str) -> int | float:
    if isinstance(v, bool):
        raise ToolError(f"{what}: a number is expected, got a boolean")
    if isinstance(v, (int, float)):
        num = float(v)
    elif isinstance(v, str):
        s = v.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            num = float(s)
        except ValueError:
            raise ToolError(f"{what}: a number is expected, got {v!r}") from None
    else:
        raise ToolError(f"{what}: a number is expected, got {type(v).__name__}")
    if num != num or num in (float("inf"), float("-inf")):
        raise ToolError(f"{what}: not a finite number")
    return int(num) if num.is_integer() else num


_TRUE = {"true", "yes", "да", "1", "y"}
_FALSE = {"false", "no", "нет", "0", "n"}


_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")


def field_value(f: dict[str, Any], value: Any) -> Any:
    """The value coerced to the field's type, or ToolError naming what is wrong."""
    key, ftype = f["key"], f.get("type", "text")
    if ftype == "number" and key == lead_services.BUDGET_KEY and isinstance(value, str):
        amount = money_parse(value)  # a model passing on the client's "2 млн" as it was said
        if amount is not None:
            value = int(amount) if amount == amount.to_integral_value() else float(amount)
    if ftype == "number":
        num = _number(value, key)
        if num < 0:
            raise ToolError(f"{key}: must not be negative")
        return num
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ToolError(f"{key}: true or false expected, got {value!r}")
    if ftype == "choice":
        options = [_choice_value(c) for c in f.get("choices") or []]
        labels = {str(c.get("label", "")).lower(): _choice_value(c) for c in f.get("choices") or []
                  if isinstance(c, dict)}
        text = str(value).strip()
        if text in options:
            return text
        if text.lower() in labels:
            return labels[text.lower()]
        raise ToolError(f"{key}: one of {options} expected, got {value!r}")
    if ftype == "dimensions":
        if isinstance(value, str):
            nums = _NUMBER_RE.findall(value)
            if len(nums) < 2:
                raise ToolError(f"{key}: an object {{length, width, height}} in metres expected")
            value = dict(zip(("length", "width", "height"), nums, strict=False))
        if not isinstance(value, dict):
            raise ToolError(f"{key}: an object {{length, width, height}} in metres expected")
        unknown = set(value) - {"length", "width", "height"}
        if unknown:
            raise ToolError(f"{key}: unknown parts {sorted(unknown)}; use length, width, height")
        dims = {}
        for part in ("length", "width", "height"):
            if value.get(part) is None:
                continue
            num = _number(value[part], f"{key}.{part}")
            if not 0 < num <= 1000:
                raise ToolError(f"{key}.{part}: metres between 0 and 1000 expected")
            dims[part] = num
        if not dims:
            raise ToolError(f"{key}: length and width are needed")
        return dims
    if isinstance(value, (dict, list)):
        raise ToolError(f"{key}: text expected")
    text = str(value).strip()
    if not text:
        raise ToolError(f"{key}: empty text")
    return text[:500]


def _text_arg(args: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ToolError(f"{name} is required")
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ToolError(f"{name}: text expected")
    return str(value).strip()[:limit]


def _date_arg(args: dict, name: str) -> date:
    value = args.get(name)
    if not isinstance(value, str):
        raise ToolError(f"{name}: an ISO date (YYYY-MM-DD) is required")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ToolError(f"{name}: an ISO date (YYYY-MM-DD) expected, got {value!r}") from None


# ---------------------------------------------------------------------------------------------------------
# Application


@dataclass
class ToolRunner:
    """Applies tool calls to one lead in the current tenant. Each call commits on its own (an LLM turn
    may take seconds between calls and must not hold locks), and is recorded in `calls`."""

    lead: Lead
    fields: list[dict[str, Any]]
    timezone: str = "UTC"
    quotes: dict[str, str] = field(default_factory=dict)  # the client's words per key (score reasons)
    calls: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    call_requested: bool = False
    handoff: bool = False
    refused: bool = False
    meeting: dict[str, Any] | None = None
    updated: set[str] = field(default_factory=set)

    def run(self, name: str, arguments: Any) -> dict[str, Any]:
        try:
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments) if arguments.strip() else {}
                except ValueError:
                    raise ToolError("arguments are not valid JSON") from None
            if not isinstance(arguments, dict):
                raise ToolError("arguments must be a JSON object")
            handler = getattr(self, f"_{name}", None) if name in TOOL_NAMES else None
            if handler is None:
                raise ToolError(f"unknown tool {name!r}; tools: {', '.join(TOOL_NAMES)}")
            with transaction.atomic():
                result = handler(arguments)
        except ToolError as exc:
            self.errors += 1
            result = {"ok": False, "error": str(exc)}
        self.calls.append({"name": name, "arguments": arguments if isinstance(arguments, dict) else str(arguments),
                           "ok": bool(result.get("ok"))})
        log.info("lead=%s tool=%s ok=%s", self.lead.pk, name, result.get("ok"))
        return result

    def _fresh(self) -> Lead:
        lead = Lead.objects.select_for_update().get(pk=self.lead.pk)
        self.lead = lead
        return lead

    # -- tools --------------------------------------------------------------------------------------

    def _update_lead(self, args: dict) -> dict:
        unknown = set(args) - {"name", "city", "data"}
        if unknown:
            raise ToolError(f"unknown arguments {sorted(unknown)}; use name, city, data")
        data_in = args.get("data") or {}
        if not isinstance(data_in, dict):
            raise ToolError("data must be an object {qualification key: value}")
        by_key = {f["key"]: f for f in self.fields if f.get("key")}
        data: dict[str, Any] = {}
        errors: list[str] = []
        for key, value in data_in.items():
            if value is None:
                continue
            f = by_key.get(key)
            if f is None:
                errors.append(f"unknown field {key!r}; fields: {', '.join(by_key)}")
                continue
            try:
                data[key] = field_value(f, value)
            except ToolError as exc:
                errors.append(str(exc))
        name = _text_arg(args, "name", 150)
        city = _text_arg(args, "city", 100)
        city_fields = [k for k, f in by_key.items() if k == "city" and f.get("type", "text") == "text"]
        if city and city_fields and "city" not in data:
            data["city"] = city
        if data.get("city") and not city and isinstance(data.get("city"), str) and city_fields:
            city = data["city"][:100]
        if not (data or name or city):
            if errors:
                raise ToolError("; ".join(errors))
            return {"ok": True, "saved": {}}
        lead = self._fresh()
        for key, value in list(data.items()):
            old = lead.data.get(key)
            if isinstance(value, dict) and isinstance(old, dict):
                data[key] = {**old, **value}  # partial dimensions refine, never erase
        lead_services.lead_update(lead=lead, actor=lead_services.AI, data=data or None, name=name, city=city)
        self.updated |= set(data) | ({"name"} if name else set()) | ({"city"} if city else set())
        saved = {**({"name": name} if name else {}), **({"city": city} if city else {}), "data": data}
        if errors:
            self.errors += 1
            return {"ok": False, "saved": saved, "error": "; ".join(errors)}
        return {"ok": True, "saved": saved}

    def _request_call(self, args: dict) -> dict:
        name = _text_arg(args, "name", 150)
        when = _text_arg(args, "preferred_time", 100)
        lead = self._fresh()
        first = not lead.call_requested
        lead_services.lead_update(lead=lead, actor=lead_services.AI, call_requested=True, preferred_time=when,
                                  name=name if name and not lead.name else None)
        if first or when:
            # The time the client named, read in the tenant's zone (unread: as soon as possible in working hours);
            # tasks makes the manager's call task of it, follow-ups wait until after it.
            due, named = call_due_at(preferred_time=lead.preferred_time)
            lead_services.event_add(lead=lead, actor=lead_services.AI, kind="call_requested",
                                    after={"preferred_time": lead.preferred_time, "due_at": due.isoformat(),
                                           "named": named},
                                    text=f"Клиент просит звонок{': ' + when if when else ''}")
            emit("lead.call_requested", lead_id=lead.pk, preferred_time=lead.preferred_time or "",
                 due_at=due.isoformat())
        self.call_requested = True
        missing = [k for k, v in (("name", lead.name), ("preferred_time", lead.preferred_time)) if not v]
        return {"ok": True, "call_requested": True, "still_unknown": missing}

    def _handoff_to_human(self, args: dict) -> dict:
        reason = _text_arg(args, "reason", 250, required=True)
        lead = self._fresh()
        lead_services.lead_flag_human(lead=lead, reason=f"Просит человека: {reason}", actor=lead_services.AI)
        lead_services.lead_update(lead=lead, actor=lead_services.AI, ai_enabled=False)
        lead_services.event_add(lead=lead, actor=lead_services.AI, kind="handoff", text=reason)
        self.handoff = True
        return {"ok": True, "handed_off": True, "note": "A manager takes over; tell the client politely."}

    def _note_question(self, args: dict) -> dict:
        """The question goes on the card (timeline entry `question`) for the manager; the dialog stays with the AI."""
        question = _text_arg(args, "question", 500, required=True)
        lead_services.event_add(lead=self._fresh(), actor=lead_services.AI, kind="question", text=question)
        return {"ok": True, "noted": True, "note": "A manager will answer it; tell the client you will check."}

    def _mark_not_interested(self, args: dict) -> dict:
        reason = _text_arg(args, "reason", 250, required=True)
        lead = self._fresh()
        lead_services.lead_update(lead=lead, actor=lead_services.AI, refused=True)  # also cancels follow-ups
        lead_services.lead_flag_human(lead=lead, reason=f"Отказ: {reason}", actor=lead_services.AI)
        self.refused = True
        return {"ok": True, "refused": True, "note": "No more follow-ups. Say goodbye politely, no pressure."}

    def _check_availability(self, args: dict) -> dict:
        date_from, date_to = _date_arg(args, "date_from"), _date_arg(args, "date_to")
        if date_to < date_from:
            raise ToolError("date_to is before date_from")
        if date_to - date_from > timedelta(days=31):
            raise ToolError("at most 31 days at once")
        try:
            found = meetings.calendar_availability(lead=self.lead, date_from=date_from, date_to=date_to)
        except meetings.CalendarUnavailable as exc:
            return {"ok": False, "error": f"calendar unavailable: {_detail(exc)}; apologise and offer a call"}
        return {"ok": True, "slots": list(found.get("slots") or []), "text": found.get("text", "")}

    def _book_meeting(self, args: dict) -> dict:
        raw = args.get("start")
        if not isinstance(raw, str) or not raw.strip():
            raise ToolError("start: an ISO date-time is required")
        try:
            start = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ToolError(f"start: an ISO date-time expected, got {raw!r}") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(self.timezone or "UTC"))
        duration = args.get("duration_minutes")
        if duration is not None:
            duration = _number(duration, "duration_minutes")
            if not isinstance(duration, int) or not 5 <= duration <= 480:
                raise ToolError("duration_minutes: whole minutes between 5 and 480")
        email = _text_arg(args, "email", 200)
        if email and not _is_email(email):
            raise ToolError(f"email: not an e-mail address: {email!r}")
        summary = _text_arg(args, "summary", 200)
        try:
            booked = meetings.calendar_book(lead=self.lead, start=start, duration_minutes=duration, email=email,
                                            summary=summary)
        except meetings.SlotTaken as exc:
            return {"ok": False, "error": f"slot taken: {_detail(exc)}",
                    "alternatives": getattr(exc, "alternatives_text", "")}
        except meetings.CalendarUnavailable as exc:
            return {"ok": False, "error": f"calendar unavailable: {_detail(exc)}; apologise and offer a call"}
        # calendar_book already wrote the lead's e-mail, the `meeting_booked` event and the amoCRM note.
        lead = self._fresh()
        # Seed 000: the calendar keeps the meeting; the AI's memory its id and link only.
        lead.ai_state = {**(lead.ai_state or {}), "meeting": {
            "event_id": booked.get("event_id"), "link": booked.get("meet_link") or booked.get("html_link")}}
        lead.save(update_fields=["ai_state", "updated_at"])
        self.meeting = booked
        return {"ok": True, **{k: v for k, v in booked.items() if isinstance(v, (str, int, float, type(None)))}}

    def _send_content(self, args: dict) -> dict:
        content_id = args.get("content_id")
        if isinstance(content_id, str) and content_id.strip().isdigit():
            content_id = int(content_id)
        if not isinstance(content_id, int) or isinstance(content_id, bool) or content_id <= 0:
            raise ToolError("content_id: a positive integer is required")
        try:
            sent = content_send(lead=self.lead, content_id=content_id, actor=lead_services.AI)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        return {"ok": True, "sent": True, "content_id": content_id,
                **({"message_id": sent.pk} if hasattr(sent, "pk") else {})}


def _is_email(text: str) -> bool:
    """name@host.tld: one '@', no spaces, a dot inside the host — checked without a regex that would
    backtrack over the host's dots."""
    local, at, host = text.partition("@")
    return bool(at and local and "@" not in host and "." in host[1:-1] and not any(c.isspace() for c in text))


def _detail(exc: Exception) -> str:
    return str(getattr(exc, "detail", "") or exc)[:200]
