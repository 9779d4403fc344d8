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
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from aiagent.models import AiTurn
from aiagent.tools import ToolRunner, tool_schemas
from brain import engine, prompts, tagging, texts
from brain import llm as llm_mod
from brain.knowledge import ContentOffer, FreeSlot, PersonaSpec
from brain.nlu import BrainTimeout, Extraction, extract, guess_language
from brain.offline import DialogState, TurnPlan, first_contact_text, plan_turn
from conversations.models import VOICE_KINDS, Direction, Message, TranscriptStatus
from conversations.selectors import dialog_context, texts_sent_by_ai
from conversations.services import message_send
from core import metrics
from core.db import advisory_lock, insert_rows
from core.events import emit
from core.tasks import enqueue
from followups.selectors import campaign_joined, content_offerable
from followups.services import campaign_on_new_lead, content_send
from knowledge.selectors import knowledge_for_brain
from leads import services as lead_services
from leads.models import Lead, Stage, StageKind
from leads.selectors import ai_silence_reason
from meetings import services as meetings
from tenants.config import default_config
from tenants.selectors import ai_llm_settings, tenant_config_current

log = logging.getLogger("buildcrm.aiagent")

LOCK_MARGIN_SECONDS = 60  # a turn holds its lead at most its brain's budget and this: applying, queueing replies
OFFLINE_RESERVE_SECONDS = 5.0  # of the budget kept from the LLM so the offline brain can still answer
TURN_TEXT_MESSAGES = 4  # a turn reads at most this many messages' worth of prefixes in all
BUSY_RETRY_SECONDS = 0.4
MAX_DEBOUNCE = 30.0
# A turn waits for a voice note's transcript at most this long (a lost transcription task must not silence the AI):
# past it the note counts as not understood.
TRANSCRIPT_WAIT_SECONDS = 600


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


def ai_on_client_messages(*, newest: dict[int, int], new_lead_ids: list[int]) -> None:
    """A drain's batch was committed (`newest`: lead id → its newest client message): one debounced turn per lead
    that the AI may answer. A lead it may not (the tenant's AI off, or the lead's) queues no task at all: its
    skipped turn is recorded here for the whole batch — `answered_upto` moved in one UPDATE, the AiTurn rows in
    one INSERT — as the turn itself would record it."""
    if not newest:
        return
    if not ((ai_config().get("ai") or {}).get("enabled", True)):
        silent = dict.fromkeys(newest, "AI is off for the tenant")
    else:
        silent = dict.fromkeys(Lead.objects.filter(pk__in=list(newest), ai_enabled=False)
                               .values_list("id", flat=True), "AI is off for the lead")
    if silent:
        _turns_skipped({lead_id: newest[lead_id] for lead_id in silent}, silent)
    new = set(new_lead_ids)
    for lead_id, message_id in newest.items():
        if lead_id not in silent:
            ai_on_client_message(lead_id=lead_id, message_id=message_id, new_lead=lead_id in new)


def _turns_skipped(upto: dict[int, int], reasons: dict[int, str]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead SET updated_at = now(), ai_state = COALESCE(ai_state, '{}'::jsonb) || "
            "jsonb_build_object('answered_upto', GREATEST(batch.upto, "
            "COALESCE((leads_lead.ai_state->>'answered_upto')::bigint, 0))) "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS batch(id, upto) WHERE leads_lead.id = batch.id "
            "RETURNING leads_lead.id", [list(upto), list(upto.values())])
        updated = [row[0] for row in cursor.fetchall()]
        insert_rows([AiTurn(lead_id=lead_id, message_id=upto[lead_id], status="skipped", detail=reasons[lead_id])
                     for lead_id in updated])
    log.info("ai silent for %s lead(s) of a batch: %s", len(updated), ", ".join(sorted(set(reasons.values()))))


def ai_on_voice_transcribed(*, lead_id: int, message_id: int) -> None:
    """A client's voice note got its transcript (or failed to): the turn that waited for it, for the lead's newest
    client message (runs on commit: only enqueues)."""
    newest = (Message.objects.filter(lead_id=lead_id, direction=Direction.IN).order_by("-id")
              .values_list("id", flat=True).first())
    if newest is not None:
        ai_on_client_message(lead_id=lead_id, message_id=max(newest, message_id), new_lead=False)


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
    # A voice note still being transcribed: its transcript is what the brain must read, and
    # messages.transcribed queues this turn again once it is there.
    stale = timezone.now() - timedelta(seconds=TRANSCRIPT_WAIT_SECONDS)
    if any(m.transcript_status == TranscriptStatus.PENDING and m.created_at > stale for m in turn.pending):
        log.info("lead=%s ai turn waits for a voice note's transcript", lead.pk)
        return "waiting"
    unheard = [m for m in turn.pending if _unheard(m)]
    if unheard:
        if len(unheard) == len(turn.pending):
            return _voice_not_understood(turn)
        _flag_unheard(lead)  # the brain answers the rest; a person listens to the note
    turn.fields = list(turn.cfg.get("qualification") or [])
    turn.client_text = brain_text([m for m in turn.pending if not _unheard(m)])
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


def _unheard(message: Message) -> bool:
    """A client's voice note with no words we could read: not transcribed (no speech-to-text, or it failed)."""
    return (message.kind in VOICE_KINDS and message.transcript_status != TranscriptStatus.DONE
            and not (message.text or message.caption))


UNHEARD_REASON = "Голосовое сообщение не распознано — послушайте его"


def _flag_unheard(lead: Lead) -> None:
    with transaction.atomic():
        fresh = Lead.objects.select_for_update().get(pk=lead.pk)
        lead_services.lead_flag_human(lead=fresh, reason=UNHEARD_REASON, actor=lead_services.AI)


def _voice_not_understood(turn: Turn) -> str:
    """Only voice notes we could not read: the lead is flagged for a person, and the AI asks politely for text —
    once per lead (a client who keeps sending notes is not asked again and again; the person answers)."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().select_related("stage").get(pk=turn.lead_id)
        lead_services.lead_flag_human(lead=lead, reason=UNHEARD_REASON, actor=lead_services.AI)
        mem = {**(lead.ai_state or {}), "answered_upto": turn.upto}
        sent: list[Message] = []
        if not mem.get("voice_text_asked"):
            language = mem.get("language") or turn.cfg.get("language") or "ru"
            sent.append(message_send(lead=lead, author_kind="ai", text=texts.voice_text_request(language),
                                     purpose="reply"))
            mem["voice_text_asked"] = True
        lead.ai_state = mem
        lead.save(update_fields=["ai_state", "updated_at"])
        turn.record(lead=lead, status="ok", detail="voice note not transcribed: asked for text" if sent else
                    "voice note not transcribed: a person listens", reply_ids=[m.pk for m in sent])
    log.info("lead=%s ai voice note not understood asked=%s", turn.lead_id, bool(sent))
    return "voice_unheard"


def _voice_language(turn: Turn) -> str | None:
    """The language to answer in by voice: the client wrote by voice (a transcribed note in this turn) and the
    tenant enabled `ai.voice_replies`; None: answer in text."""
    if not (turn.cfg.get("ai") or {}).get("voice_replies"):
        return None
    if not any(m.kind in VOICE_KINDS and m.transcript_status == TranscriptStatus.DONE for m in turn.pending):
        return None
    return turn.updates.get("language") or turn.mem.get("language") or turn.cfg.get("language") or "ru"


def _reply_send(*, lead: Lead, text: str, voice_language: str | None) -> Message:
    """One reply of the brain: text, or a voice note spoken when it is delivered (its text kept on the message)."""
    if voice_language:
        return message_send(lead=lead, author_kind="ai", kind="voice", text=text, purpose="reply",
                            meta={"voice_language": voice_language})
    return message_send(lead=lead, author_kind="ai", text=text, purpose="reply")


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
        turn.replies = plan_apply(runner=runner, plan=turn.plan)
        turn.extraction = turn.plan.extraction
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
        # "Спасибо, подумаю" cools the lead until the client's next word (brain.engine: thinking).
        thinking="thinking" in extraction.intents and not runner.call_requested,
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
        lead.ai_state = mem
        # The score from the lead and the AI's memory (leads.services.lead_rescore: the same sum the decay sweep makes).
        lead_services.lead_rescore(lead=lead, fields=fields)
        score = lead.score
        # Tags from what the client wrote (intents, urgency, interests), marked auto on the card.
        lead_services.lead_tags_add(lead=lead, tags=tagging.tags_of(intents=turn.extraction.intents, data=lead.data),
                                    actor=lead_services.AI, auto=True)
        lead.save(update_fields=["ai_state", "updated_at"])
        if turn.failure:
            lead_services.lead_flag_human(lead=lead, actor=lead_services.AI,
                                          reason=f"LLM недоступна, ответил офлайн-мозг: {turn.failure}"[:300])
        sent: list[Message] = []
        voice_language = _voice_language(turn)
        if turn.first_turn and not turn.took:
            sent += _first_turn_chain(lead=lead, cfg=turn.cfg, replies=turn.replies, extraction=turn.extraction,
                                      voice_language=voice_language)
        else:
            sent += [_reply_send(lead=lead, text=text, voice_language=voice_language) for text in turn.replies]
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
    tz = cfg.get("timezone") or "UTC"
    return DialogState(
        # Issue 14: what the tenant taught the AI, what it may send, when it can meet, who it is, what it already said.
        knowledge=knowledge_for_brain(), content=content_offers(lead=lead), free_slots=free_slots_for_turn(turn),
        persona=persona_of(cfg), sent_texts=texts_sent_by_ai(lead_id=lead.pk, limit=SENT_TEXTS),
        timezone=tz, now_iso=timezone.now().astimezone(ZoneInfo(tz)).isoformat(timespec="seconds"),
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
    # The whole base goes in: the prompt picks the entries relevant to the client's text and bounds them.
    system, history = prompts.dialog_prompt(cfg=cfg, lead=lead, stage_kind=lead.stage.kind, fields=turn.fields,
                                            window=dialog.window, summary=dialog.summary, now=now,
                                            first_turn=turn.first_turn, knowledge=knowledge_for_brain(),
                                            content=content_offers(lead=lead), persona=persona_of(cfg))
    return llm_mod.run_turn(s=ai_llm_settings(cfg), system=system, history=history, tools=tool_schemas(turn.fields),
                            runner=turn.runner, deadline=deadline)


# ---------------------------------------------------------------------------------------------------------
# Issue 14: what the brain knows of the tenant (knowledge, content, calendar, persona) and the offline plan's tools

SENT_TEXTS = 50  # of the AI's earlier texts the brain compares against (never repeat a sentence)
CONTENT_OFFERS = 40
FREE_SLOT_DAYS = 3  # working days ahead the offline brain offers
FREE_SLOTS_MAX = 6
FREE_SLOTS_WAIT_SECONDS = 2.0  # the longest a turn waits for the calendar; a slower answer serves the next turn
FREE_SLOTS_CACHE_SECONDS = 60
FREE_SLOTS_KEY = "aiagent:free_slots"  # per tenant (the cache's key function adds the schema)
_calendar_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="free-slots")


def persona_of(cfg: dict) -> PersonaSpec:
    """The AI's one persona from the tenant's config (ai.persona_name, ai.persona_gender)."""
    ai = cfg.get("ai") or {}
    gender = ai.get("persona_gender") if ai.get("persona_gender") in ("f", "m") else "f"
    return PersonaSpec(name=str(ai.get("persona_name") or ""), gender=gender)


def content_offers(*, lead: Lead) -> list[ContentOffer]:
    """The content library's items the AI may still send this lead, as the brain reads them."""
    return [ContentOffer(id=c.pk, title=c.title, type=c.type, tags=tuple(str(t) for t in c.tags or ()),
                         language=c.language) for c in content_offerable(lead=lead, limit=CONTENT_OFFERS)]


def _calendar_connected(cfg: dict) -> bool:
    section = cfg.get("google_calendar") or {}
    return all(section.get(k) for k in ("client_id", "client_secret", "refresh_token"))


def _working_days_ahead(start: date, count: int) -> date:
    day, seen = start, 0
    while True:
        if day.isoweekday() <= 5:
            seen += 1
            if seen >= count:
                return day
        day += timedelta(days=1)


def _free_slots_fetch(tenant, lead_id: int, date_from: date, date_to: date) -> list[dict]:
    """On a pool thread: the calendar's free slots, stored in the cache for the next turns (also after the turn
    that asked stopped waiting); a broken calendar is remembered as no slots for a while."""
    try:
        with tenant_context(tenant):
            slots: list[dict] = []
            try:
                lead = Lead.objects.get(pk=lead_id)
                found = meetings.calendar_availability(lead=lead, date_from=date_from, date_to=date_to)
                minutes = int((tenant_config_current().get("google_calendar") or {}).get("meeting_minutes") or 30)
                slots = [{"start": s, "minutes": minutes} for s in found.get("slots") or []][:FREE_SLOTS_MAX]
            except meetings.CalendarUnavailable as exc:
                log.info("lead=%s free slots: calendar unavailable: %s", lead_id, exc.detail)
            except Exception:
                log.exception("lead=%s free slots failed", lead_id)
            cache.set(FREE_SLOTS_KEY, slots, timeout=FREE_SLOTS_CACHE_SECONDS)
            return slots
    finally:
        connection.close()  # this pool thread's own connection


def free_slots_for_turn(turn: Turn) -> list[FreeSlot]:
    """Free meeting slots of the next FREE_SLOT_DAYS working days when Google Calendar is connected; empty
    otherwise, on failure, or when the calendar is slower than its short wait (the turn's budget is never spent
    on it: the answer arrives in the cache for the next turn)."""
    if turn.lead is None or not _calendar_connected(turn.cfg):
        return []
    try:
        cached = cache.get(FREE_SLOTS_KEY)
    except Exception:
        cached = []
    if cached is None:
        wait = min(FREE_SLOTS_WAIT_SECONDS, max(0.0, turn.deadline - time.monotonic()) / 4)
        if wait < 0.05:
            return []
        today = timezone.now().astimezone(ZoneInfo(turn.cfg.get("timezone") or "UTC")).date()
        future = _calendar_pool.submit(_free_slots_fetch, connection.tenant, turn.lead.pk, today,
                                       _working_days_ahead(today, FREE_SLOT_DAYS + 1))
        try:
            cached = future.result(timeout=wait)
        except FutureTimeout:
            log.info("lead=%s free slots: calendar slower than %.1fs, offered next turn", turn.lead.pk, wait)
            return []
    return [FreeSlot(start=str(s["start"]), minutes=int(s.get("minutes") or 30)) for s in cached or []
            if isinstance(s, dict) and s.get("start")][:FREE_SLOTS_MAX]


_BOOKING_FAILED = {
    "ru": "К сожалению, это время уже занято.", "en": "Unfortunately, that time is already taken.",
}
_BOOKING_ALTERNATIVES = {"ru": "Могу предложить {alts}. Какое время вам удобнее?",
                         "en": "I can offer {alts}. Which time suits you better?"}
_CALENDAR_DOWN = {
    "ru": "Не получилось записать встречу в календарь — менеджер свяжется с вами и подтвердит время.",
    "en": "I couldn't put the meeting into the calendar — a manager will contact you to confirm the time.",
}
_MEET_LINK = {"ru": "Ссылка на видеозвонок: {link}", "en": "Video call link: {link}"}


def plan_apply(*, runner: ToolRunner, plan: TurnPlan) -> list[str]:
    """Runs an offline plan's tool calls through the same ToolRunner (and its checks) as the LLM's, and returns the
    replies to send: the plan's own, or — when a booking it announced failed — the calendar's own answer (other
    slots, or a manager confirms), and the video link of a booked meeting the plan could not know."""
    lang = "en" if (plan.language or "").startswith("en") else "ru"
    replies = [r for r in plan.replies if r.strip()]
    for call in plan.tool_calls:
        result = runner.run(call.name, call.arguments)
        if call.name != "book_meeting":
            continue
        if result.get("ok"):
            link = result.get("meet_link")
            if link and not any(link in r for r in replies):
                replies.append(_MEET_LINK[lang].format(link=link))
        elif "slot taken" in str(result.get("error", "")):
            alts = str(result.get("alternatives") or "")
            replies = [_BOOKING_FAILED[lang] + (" " + _BOOKING_ALTERNATIVES[lang].format(alts=alts) if alts else "")]
        else:
            replies = [_CALENDAR_DOWN[lang]]
    return replies


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


def _first_turn_chain(*, lead: Lead, cfg: dict, replies: list[str], extraction,
                      voice_language: str | None = None) -> list[Message]:
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
    sent = [_reply_send(lead=lead, text=text, voice_language=voice_language) for text in replies]
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
