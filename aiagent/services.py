"""The AI manager's turns: debounced, one at a time per lead, with two brains behind one interface.

    client message processed → (on commit, the listener of messages.received) ai_on_client_message: enqueue a turn
      `debounce` s later
    → (worker) ai_turn_run: a newer client message? exit, its own task answers · lock the lead (a PostgreSQL
      advisory lock: one turn per lead, released by the server if the worker dies)
      → AI off / human in charge / refused / won·lost? record a skip, no message
      → brain, outside any transaction and row lock, reading a bounded prefix of the client's text
        (AI_TEXT_PREFIX_CHARS per message) within AI_TURN_BUDGET_SECONDS: offline plan_turn, or the LLM tool
        loop (failure or budget → offline answers + flag); the offline brain over budget → no reply + flag
      → one short transaction under the lead's row lock: re-check (a newer message? a person took over?),
        tools applied through aiagent.tools → stage/score engine → reply queued (message_send)

`lead.ai_state` is the AI's working memory: answered_upto (newest client message answered), awaiting,
language, turns, price_asked, facts_used, intents, quotes (the client's words per field), summary.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from aiagent.models import AiTurn
from aiagent.tools import ToolRunner, tool_schemas
from brain import engine, prompts, texts
from brain import llm as llm_mod
from brain.nlu import BrainTimeout, Extraction, extract, guess_language
from brain.offline import DialogState, TurnPlan, first_contact_text, plan_turn
from conversations.models import Direction, Message
from conversations.selectors import dialog_context
from conversations.services import message_send
from core import metrics
from core.db import advisory_lock
from core.events import emit
from core.tasks import enqueue
from followups.selectors import campaign_joined
from followups.services import campaign_on_new_lead, content_send
from leads import services as lead_services
from leads.models import Lead, Stage, StageKind
from leads.selectors import ai_silence_reason
from tenants.config import default_config
from tenants.selectors import ai_llm_settings, tenant_config_current

log = logging.getLogger("buildcrm.aiagent")

LOCK_MARGIN_SECONDS = 60  # a turn holds its lead at most its brain's budget and this: applying, queueing replies
OFFLINE_RESERVE_SECONDS = 5.0  # of the budget kept from the LLM so the offline brain can still answer
TURN_TEXT_MESSAGES = 4  # a turn reads at most this many messages' worth of prefixes in all
BUSY_RETRY_SECONDS = 0.4
MAX_DEBOUNCE = 30.0


# ---------------------------------------------------------------------------------------------------------
# Configuration and infrastructure

def ai_config() -> dict:
    """The current tenant's full decrypted configuration (cached per process by the stored document)."""
    return tenant_config_current()


def turn_budget() -> float:
    """Seconds the brain may think in one turn (AI_TURN_BUDGET_SECONDS): the offline brain, or the LLM tool
    loop and the offline answer after it."""
    return max(0.0, float(settings.AI_TURN_BUDGET_SECONDS))


def _offline_reserve() -> float:
    return min(OFFLINE_RESERVE_SECONDS, turn_budget() / 4)


def lock_seconds() -> float:
    """The longest a turn holds its lead: the brain's budget plus the time to apply the result."""
    return turn_budget() + LOCK_MARGIN_SECONDS


def busy_retries() -> int:
    """How often a turn finding the lead busy tries again: long enough for the turn holding it to end."""
    return int(lock_seconds() / BUSY_RETRY_SECONDS) + 10


def brain_text(messages: list[Message]) -> str:
    """What the brain reads of a turn's client messages: the first AI_TEXT_PREFIX_CHARS characters of each,
    TURN_TEXT_MESSAGES times that in all (a 900 KB message is read as its first few KB; it is stored whole)."""
    per_message = max(1, int(settings.AI_TEXT_PREFIX_CHARS))
    left = per_message * TURN_TEXT_MESSAGES
    parts: list[str] = []
    for m in messages:
        text = prompts.message_text(m, limit=per_message)[:left]
        if text:
            parts.append(text)
            left -= len(text) + 1
        if left <= 0:
            break
    return "\n".join(parts)


def _debounce(ai: dict) -> float:
    try:
        value = float(ai.get("debounce_seconds", 3))
    except (TypeError, ValueError):
        value = 3.0
    return max(0.0, min(value, MAX_DEBOUNCE))


# ---------------------------------------------------------------------------------------------------------
# Entry points


def ai_on_client_message(*, lead_id: int, message_id: int, new_lead: bool) -> None:
    """A client message was stored (runs on commit: only enqueues). The turn runs `ai.debounce_seconds` later and
    answers only if no newer client message arrived meanwhile."""
    ai = (connection.tenant.config or {}).get("ai") or {}
    delay = _debounce(ai)
    try:
        enqueue("aiagent.reply", lead_id=lead_id, message_id=message_id, countdown=delay or None)
    except Exception:  # the broker is down: the unanswered sweep (aiagent.tasks.sweep_unanswered) picks it up
        log.exception("lead=%s ai turn not queued message=%s", lead_id, message_id)
        return
    log.info("lead=%s ai turn queued message=%s in=%.1fs new=%s", lead_id, message_id, delay, new_lead)


def ai_turn_run(*, lead_id: int, message_id: int) -> str:
    """One debounced turn. Returns what happened: ok | superseded | busy | answered | skipped | gone."""
    newest = (Message.objects.filter(lead_id=lead_id, direction=Direction.IN).order_by("-id")
              .values_list("id", flat=True).first())
    if newest is None:
        return "gone"
    if newest > message_id:
        return "superseded"  # the later message's own task answers everything at once
    # A PostgreSQL lock, not a Redis one: a worker killed mid-turn (or a Redis restart) must neither block the
    # lead's next turn for minutes nor let two turns answer at once.
    with advisory_lock(f"aiturn:{connection.schema_name}:{lead_id}") as held:
        if not held:
            return "busy"
        started, result = time.monotonic(), "error"
        try:
            result = _turn(lead_id=lead_id, trigger_id=message_id)
            return result
        finally:
            metrics.ai_turn_observed(result=result, seconds=time.monotonic() - started)


def ai_turn_failed(*, lead_id: int, message_id: int, error: str) -> None:
    """A turn crashed on our side: never silently — record it, flag the lead for a person, and mark the
    messages as seen so a sweep does not replay a broken turn forever."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
        if lead is None:
            return
        newest = (Message.objects.filter(lead=lead, direction=Direction.IN).order_by("-id")
                  .values_list("id", flat=True).first()) or 0
        lead.ai_state = {**(lead.ai_state or {}), "answered_upto": max(newest, message_id)}
        lead.save(update_fields=["ai_state", "updated_at"])
        lead_services.lead_flag_human(lead=lead, reason=f"AI не смог ответить: {error}"[:300], actor=lead_services.AI)
        AiTurn.objects.create(lead=lead, message_id=message_id, status="failed", detail=error[:300])
    log.error("lead=%s ai turn failed message=%s: %s", lead_id, message_id, error)


# ---------------------------------------------------------------------------------------------------------
# The turn


@dataclass
class Turn:
    """One AI turn of one lead, from the trigger to the reply: what it read, what the brain made of it, what is
    applied. Filled in step by step by `_turn` (read) → `_think` (the brain, no lock) → `_conclude` (the plan
    applied under the row lock, bookkeeping) → `_finish` (engine, memory, replies)."""

    lead_id: int
    trigger_id: int
    started: float
    deadline: float
    lead: Lead | None = None
    mem: dict = field(default_factory=dict)
    pending: list[Message] = field(default_factory=list)
    upto: int = 0
    cfg: dict = field(default_factory=dict)
    fields: list = field(default_factory=list)
    client_text: str = ""
    first_turn: bool = False
    took: bool = False  # a campaign took the lead: its material is the answer
    runner: ToolRunner | None = None
    brain: str = "offline"  # offline | openai | fallback (the offline brain after an LLM failure) | campaign
    failure: str = ""  # why the LLM failed, when it did
    llm: llm_mod.LlmResult | None = None
    plan: TurnPlan | None = None
    replies: list[str] = field(default_factory=list)
    extraction: Extraction | None = None
    updates: dict[str, Any] = field(default_factory=dict)  # for lead.ai_state

    def record(self, *, lead: Lead, status: str, detail: str = "", **fields: Any) -> AiTurn:
        return AiTurn.objects.create(lead=lead, message_id=self.trigger_id, brain=self.brain, status=status,
                                     detail=detail[:300], **fields)


def _turn(*, lead_id: int, trigger_id: int) -> str:
    started = time.monotonic()
    turn = Turn(lead_id=lead_id, trigger_id=trigger_id, started=started, deadline=started + turn_budget())
    lead = Lead.objects.select_related("stage").filter(pk=lead_id).first()
    if lead is None:
        return "gone"
    turn.lead, turn.mem = lead, dict(lead.ai_state or {})
    turn.pending = list(Message.objects.filter(lead=lead, direction=Direction.IN,
                                               id__gt=turn.mem.get("answered_upto", 0)).order_by("id")[:50])
    if not turn.pending:
        return "answered"  # an earlier turn already read this message
    turn.upto = turn.pending[-1].id
    turn.cfg = ai_config()
    reason = ai_silence_reason(cfg=turn.cfg, lead=lead)
    if reason:
        with transaction.atomic():
            fresh = Lead.objects.select_for_update().get(pk=lead.pk)
            fresh.ai_state = {**(fresh.ai_state or {}), "answered_upto": turn.upto}
            fresh.save(update_fields=["ai_state", "updated_at"])
            AiTurn.objects.create(lead=lead, message_id=turn.upto, status="skipped", detail=reason)
        log.info("lead=%s ai silent: %s", lead.pk, reason)
        return "skipped"
    turn.fields = list(turn.cfg.get("qualification") or [])
    turn.client_text = brain_text(turn.pending)
    turn.first_turn = not turn.mem.get("greeted")
    # A campaign takes a new lead when its first message carries the code (the followups listener of
    # messages.received, committed before this turn was queued): then its material is the answer, not the brain's.
    turn.took = turn.first_turn and campaign_joined(lead_id=lead.pk)
    turn.runner = ToolRunner(lead=lead, fields=turn.fields, timezone=turn.cfg.get("timezone") or "UTC")
    if not _think(turn):
        return _turn_over_budget(turn)
    # Applying the result is one short transaction: an offline turn applies all or nothing, and the websocket
    # pushes and deliveries its writes schedule run once, after the reply is queued.
    with transaction.atomic():
        return _conclude(turn)


def _think(turn: Turn) -> bool:
    """The brain thinks here, outside any transaction and row lock (a person's takeover, the inbound drain and the
    lead's other writers never wait on it); only its result is applied, under the lock, later. False when the
    offline brain ran out of the turn's budget."""
    if turn.took:
        turn.brain = "campaign"
    elif (turn.cfg.get("ai") or {}).get("provider", "offline") == "openai":
        try:
            # The model gets the budget minus a reserve in which the offline brain can still answer.
            turn.llm = _llm_turn(turn, deadline=turn.deadline - _offline_reserve())
            turn.brain, turn.replies = "openai", [turn.llm.text]
            lang = guess_language(turn.client_text) or turn.mem.get("language") or turn.cfg.get("language") or "ru"
            turn.updates.update(language=lang, awaiting=[])
        except llm_mod.LlmFailure as exc:
            turn.failure = exc.reason
            metrics.llm_failed(exc.reason)
            log.warning("lead=%s llm failed, offline brain answers: %s", turn.lead_id, turn.failure)
    if not turn.took and turn.brain == "offline":
        if turn.failure:  # the offline answer keeps its reserve even when the model ran over its share
            turn.deadline = max(turn.deadline, time.monotonic() + _offline_reserve())
        try:
            turn.plan = plan_turn(_dialog_state(turn), turn.client_text, deadline=turn.deadline)
        except BrainTimeout:
            return False
        turn.brain = "fallback" if turn.failure else "offline"
    else:
        try:
            turn.extraction = extract(turn.client_text, turn.fields, awaiting=turn.mem.get("awaiting") or [],
                                      deadline=turn.deadline)
        except BrainTimeout:  # bookkeeping only (intents, quotes): the model's answer still goes out
            turn.extraction = Extraction()
    return True


def _conclude(turn: Turn) -> str:
    """The offline plan applied under the lead's row lock after re-checking what may have changed while the brain
    thought; then the bookkeeping of the client's words (both brains)."""
    runner, mem = turn.runner, turn.mem
    if turn.plan is not None:
        lead = Lead.objects.select_for_update().select_related("stage").get(pk=turn.lead_id)
        if Message.objects.filter(lead=lead, direction=Direction.IN, id__gt=turn.upto).exists():
            # A newer client message: its own turn (waiting on the lead's lock) answers everything at once.
            turn.record(lead=lead, status="superseded", detail="a newer client message arrived during the turn")
            log.info("lead=%s ai turn superseded during the turn message=%s", lead.pk, turn.trigger_id)
            return "superseded"
        # A person took over, AI switched off, refused or closed meanwhile (not by the model's own tool calls
        # before it failed: those are the turn's, and _finish handles them as always).
        reason = "" if runner.handoff or runner.refused else ai_silence_reason(cfg=turn.cfg, lead=lead)
        if reason:
            detail = "a person took over during the turn" if lead.handler_id else f"{reason} (during the turn)"
            lead.ai_state = {**(lead.ai_state or {}), "answered_upto": turn.upto}
            lead.save(update_fields=["ai_state", "updated_at"])
            turn.record(lead=lead, status="skipped", detail=detail)
            log.info("lead=%s ai silent: %s", lead.pk, detail)
            return "skipped"
        runner.lead = lead
        for call in turn.plan.tool_calls:
            runner.run(call.name, call.arguments)
        turn.extraction = turn.plan.extraction
        turn.replies = [r for r in turn.plan.replies if r.strip()]
        turn.updates.update(language=turn.plan.language, awaiting=turn.plan.awaiting,
                            facts_used=list(mem.get("facts_used") or []) + list(turn.plan.facts_used))
        if turn.first_turn and turn.replies and not texts.greets(turn.replies[0]):
            turn.replies[0] = _greeting_line(lead=lead, cfg=turn.cfg, lang=turn.plan.language) + " " + turn.replies[0]

    # Bookkeeping from the client's words (both brains): intents, quotes for the score reasons.
    extraction = turn.extraction
    intents = set(mem.get("intents") or []) | set(extraction.intents)
    quotes = dict(mem.get("quotes") or {})
    for key, quote in extraction.quotes.items():
        if quote:
            quotes[key] = quote[:200]
    fallback_quote = " ".join(turn.client_text.split())[:150]
    for key in runner.updated:
        quotes.setdefault(key, fallback_quote)
    if runner.call_requested:
        intents.add("call_request")
        quotes.setdefault("call_request", fallback_quote)
    if runner.refused:
        quotes.setdefault("refusal", fallback_quote)
    turn.updates.update(
        answered_upto=turn.upto, turns=int(mem.get("turns", 0)) + 1, greeted=True, intents=sorted(intents),
        quotes=quotes, price_asked=int(mem.get("price_asked", 0)) + (1 if "price_question" in extraction.intents
                                                                    else 0),
        client_messages=int(mem.get("client_messages", 0)) + len(turn.pending),
    )
    return _finish(turn)


def _turn_over_budget(turn: Turn) -> str:
    """The brain ran past AI_TURN_BUDGET_SECONDS: the turn ends without a reply and nothing of the plan is
    applied, the lead is flagged for a person (as when the LLM fails), and its messages count as seen so the
    unanswered sweep does not replay a turn that cannot finish."""
    budget = turn_budget()
    detail = f"the AI turn's time budget ({budget:g} s) ran out in the offline brain" + (
        f"; LLM: {turn.failure}" if turn.failure else "")
    turn.brain = "fallback" if turn.failure else "offline"
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=turn.lead_id).first()
        if lead is None:
            return "gone"
        lead.ai_state = {**(lead.ai_state or {}), "answered_upto": turn.upto}
        lead.save(update_fields=["ai_state", "updated_at"])
        lead_services.lead_flag_human(lead=lead, reason=f"AI не успел ответить за {budget:g} с — ответьте клиенту",
                                      actor=lead_services.AI)
        turn.record(lead=lead, status="timeout", detail=detail, tool_calls=turn.runner.calls,
                    latency_ms=int((time.monotonic() - turn.started) * 1000))
    log.warning("lead=%s ai turn over budget %.1fs message=%s: %s", turn.lead_id, budget, turn.trigger_id, detail)
    return "timeout"


def _finish(turn: Turn) -> str:
    """Engine + memory + reply, in one transaction under the lead's row lock."""
    runner, fields, llm = turn.runner, turn.fields, turn.llm
    with transaction.atomic():
        lead = Lead.objects.select_for_update().select_related("stage").get(pk=turn.lead_id)
        if lead.handler_id and not runner.handoff:
            # A person took over while the brain was thinking: their word wins, ours is not sent.
            lead.ai_state = {**(lead.ai_state or {}), "answered_upto": turn.updates["answered_upto"]}
            lead.save(update_fields=["ai_state", "updated_at"])
            turn.record(lead=lead, status="skipped", detail="a person took over during the turn",
                        tool_calls=runner.calls)
            return "skipped"
        before_kind = lead.stage.kind
        target = engine.stage_target(current=before_kind, locked=lead.stage_locked, client_replied=True,
                                     fields=fields, data=lead.data, city=lead.city,
                                     call_requested=lead.call_requested)
        if target:
            stage = Stage.objects.filter(kind=target).order_by("position").first()
            if stage is not None:
                lead_services.lead_move(lead=lead, stage=stage, actor=lead_services.AI)
        mem = {**(lead.ai_state or {}), **turn.updates}
        # The running summary folds messages as they leave the prompt's window (kept for both brains).
        dialog = dialog_context(lead_id=lead.pk, upto=turn.updates["answered_upto"], summary=mem.get("summary", ""),
                                summary_upto=int(mem.get("summary_upto", 0)))
        mem.update(summary=dialog.summary, summary_upto=dialog.summary_upto)
        score, temperature, reasons = engine.score_compute(engine.ScoreInput(
            fields=fields, data=lead.data, city=lead.city, name=lead.name, call_requested=lead.call_requested,
            preferred_time=lead.preferred_time, refused=lead.refused, meeting=bool(mem.get("meeting")),
            quotes=mem.get("quotes") or {}, intents=set(mem.get("intents") or []),
            client_messages=int(mem.get("client_messages", 0))))
        lead_services.lead_set_score(lead=lead, score=score, temperature=temperature, reasons=reasons)
        lead.ai_state = mem
        lead.save(update_fields=["ai_state", "updated_at"])
        if turn.failure:
            lead_services.lead_flag_human(lead=lead, actor=lead_services.AI,
                                          reason=f"LLM недоступна, ответил офлайн-мозг: {turn.failure}"[:300])
        sent: list[Message] = []
        if turn.first_turn and not turn.took:
            sent += _first_turn_chain(lead=lead, cfg=turn.cfg, replies=turn.replies, extraction=turn.extraction)
        else:
            sent += [message_send(lead=lead, author_kind="ai", text=text, purpose="reply") for text in turn.replies]
        if lead.stage.kind == StageKind.COMPLETE and before_kind != StageKind.COMPLETE:
            emit("lead.qualified", lead_id=lead.pk, text=_qualified_text(lead, fields))
        latency = int((time.monotonic() - turn.started) * 1000)
        usage = {"prompt_tokens": llm.prompt_tokens, "completion_tokens": llm.completion_tokens,
                 "llm_calls": llm.calls, "llm_attempts": llm.attempts} if llm else {}
        turn.record(lead=lead, status="ok", detail=turn.failure, tool_calls=runner.calls, latency_ms=latency,
                    reply_ids=[m.pk for m in sent], **usage)
    log.info("lead=%s ai turn brain=%s stage=%s score=%s replies=%s %sms", lead.pk, turn.brain, lead.stage.kind,
             score, len(sent), latency)
    return "ok"


def _dialog_state(turn: Turn) -> DialogState:
    lead, cfg, mem = turn.lead, turn.cfg, turn.mem
    ai = cfg.get("ai") or {}
    return DialogState(
        fields=turn.fields, data=dict(lead.data or {}), name=lead.name or None, city=lead.city or None,
        language=mem.get("language"), stage_kind=lead.stage.kind, call_requested=lead.call_requested,
        preferred_time=lead.preferred_time or None, price_asked_count=int(mem.get("price_asked", 0)),
        awaiting=list(mem.get("awaiting") or []), facts=list(ai.get("facts") or []), turn=int(mem.get("turns", 0)),
        source_info=(lead.source_info or "")[: max(1, int(settings.AI_TEXT_PREFIX_CHARS))],
        company=cfg.get("company") or "",
        facts_used=list(mem.get("facts_used") or []))


def _llm_turn(turn: Turn, *, deadline: float) -> llm_mod.LlmResult:
    lead, mem, cfg = turn.lead, turn.mem, turn.cfg
    dialog = dialog_context(lead_id=lead.pk, upto=turn.upto, summary=mem.get("summary") or "",
                            summary_upto=int(mem.get("summary_upto", 0)))
    now = timezone.now().astimezone(ZoneInfo(cfg.get("timezone") or "UTC"))
    system, history = prompts.dialog_prompt(cfg=cfg, lead=lead, stage_kind=lead.stage.kind, fields=turn.fields,
                                            window=dialog.window, summary=dialog.summary, now=now,
                                            first_turn=turn.first_turn)
    return llm_mod.run_turn(s=ai_llm_settings(cfg), system=system, history=history, tools=tool_schemas(turn.fields),
                            runner=turn.runner, deadline=deadline)


def _qualified_text(lead: Lead, fields: list) -> str:
    items = []
    for f in fields:
        value = lead.data.get(f.get("key"))
        if value not in (None, "", {}, []):
            items.append(f"{f.get('label') or f['key']}: {prompts._value_text(value)}")
    head = f"Квалифицирован AI: {lead.name or 'клиент'}"
    if lead.city:
        head += f", {lead.city}"
    return head + (". " + "; ".join(items) if items else "") + f". Оценка {lead.score} ({lead.temperature})."


# ---------------------------------------------------------------------------------------------------------
# First contact


def _greeting_line(*, lead: Lead, cfg: dict, lang: str) -> str:
    name, company = lead.name, cfg.get("company") or ""
    if lang == "en":
        return f"Hello{', ' + name if name else ''}!" + (f" This is {company}." if company else "")
    return f"Здравствуйте{', ' + name if name else ''}!" + (f" Это {company}." if company else "")


def _campaign_took(lead: Lead, text: str) -> bool:
    """A lead that did not write first (amoCRM) whose request carries a campaign's code joins it at first contact."""
    try:
        return bool(campaign_on_new_lead(lead=lead, text=text))
    except Exception:
        log.exception("lead=%s campaign check failed", lead.pk)
        return False


def _render(template: str, *, lead: Lead, cfg: dict, with_source: bool = True) -> str:
    """A tenant's template filled in for this lead (brain.texts)."""
    values = texts.TemplateValues(name=lead.name or "", company=cfg.get("company") or "",
                                  source_info=lead.source_info or "", city=lead.city or "",
                                  language=cfg.get("language") or "ru")
    return texts.template_render(template, values, with_source=with_source)


def chain_messages(*, lead: Lead, cfg: dict, include_text: bool = True) -> list[dict[str, Any]]:
    """The tenant's first-contact chain as message_send keyword sets (content steps as {"content_id"})."""
    default_text = default_config()["first_contact"][0]["text"]
    ai = cfg.get("ai") or {}
    out: list[dict[str, Any]] = []
    steps = list(cfg.get("first_contact") or [])
    if include_text and not any(s.get("type") == "text" for s in steps):
        steps.insert(0, {"type": "text", "text": default_text})
    for step in steps:
        kind = step.get("type")
        if kind == "text":
            if not include_text:
                continue
            if step.get("text") == default_text or not step.get("text"):
                text = first_contact_text(name=lead.name or None, source_info=lead.source_info or "",
                                          company=cfg.get("company") or "", offer=ai.get("offer") or "",
                                          language=cfg.get("language") or "ru")
            else:
                text = _render(step["text"], lead=lead, cfg=cfg)
            out.append({"kind": "text", "text": text})
        elif kind in ("image", "video", "document"):
            out.append({"kind": kind, "media_url": step["url"],
                        "caption": _render(step.get("caption") or "", lead=lead, cfg=cfg, with_source=False)
                        if step.get("caption") else ""})
        elif kind == "album":
            out.append({"kind": "album", "items": [{"url": i["url"], "caption": i.get("caption") or ""}
                                                   for i in step.get("items") or []]})
        elif kind == "link":
            out.append({"kind": "link", "media_url": step["url"], "text": step.get("text") or ""})
        elif kind == "voice":
            out.append({"kind": "voice", "media_url": step["url"]})
        elif kind == "content" and step.get("content_id"):
            out.append({"content_id": int(step["content_id"])})
    return out


def _send_chain(*, lead: Lead, items: list[dict[str, Any]], purpose: str) -> list[Message]:
    sent: list[Message] = []
    for item in items:
        if "content_id" in item:
            try:
                message = content_send(lead=lead, content_id=item["content_id"], actor=lead_services.AI)
                if isinstance(message, Message):
                    sent.append(message)
            except ValueError as exc:
                log.warning("lead=%s first-contact content %s skipped: %s", lead.pk, item["content_id"], exc)
            continue
        sent.append(message_send(lead=lead, author_kind="ai", purpose=purpose, **item))
    return sent


def _first_turn_chain(*, lead: Lead, cfg: dict, replies: list[str], extraction) -> list[Message]:
    """A new lead that wrote first. A bare greeting gets the tenant's whole first-contact chain when the tenant
    wrote its own greeting text (it asks what they need); a message with substance gets the brain's answer
    (with a greeting) and then the chain's media, link and voice steps — the chain's own greeting text would
    ignore what they already said."""
    default_text = default_config()["first_contact"][0]["text"]
    bare = not (extraction.data or extraction.name or extraction.city or extraction.intents - {"greeting"})
    own_text = any(s.get("type") == "text" and s.get("text") not in ("", default_text)
                   for s in cfg.get("first_contact") or [])
    if bare and own_text:
        return _send_chain(lead=lead, items=chain_messages(lead=lead, cfg=cfg), purpose="first_contact")
    sent = [message_send(lead=lead, author_kind="ai", text=text, purpose="reply") for text in replies]
    return sent + _send_chain(lead=lead, items=chain_messages(lead=lead, cfg=cfg, include_text=False),
                              purpose="first_contact")


def ai_first_contact(*, lead_id: int) -> list[int]:
    """Greets a lead that did not write first (amoCRM, manual): the tenant's chain goes out at once, in
    order. Idempotent; silent when the AI may not write. The lead stays in `new` until the client answers.
    Returns the ids of the queued messages."""
    cfg = ai_config()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().select_related("stage").filter(pk=lead_id).first()
        if lead is None:
            return []
        mem = dict(lead.ai_state or {})
        reason = ai_silence_reason(cfg=cfg, lead=lead)
        if reason or mem.get("greeted"):
            log.info("lead=%s first contact skipped: %s", lead_id, reason or "already greeted")
            return []
        took = _campaign_took(lead, lead.source_info or "")
        sent = [] if took else _send_chain(lead=lead, items=chain_messages(lead=lead, cfg=cfg),
                                           purpose="first_contact")
        lead.ai_state = {**mem, "greeted": True, "first_contact_at": timezone.now().isoformat()}
        lead.save(update_fields=["ai_state", "updated_at"])
        AiTurn.objects.create(lead=lead, kind="first_contact", brain="campaign" if took else "chain", status="ok",
                              reply_ids=[m.pk for m in sent])
    log.info("lead=%s first contact messages=%s campaign=%s by=ai", lead_id, len(sent), took)
    return [m.pk for m in sent]
