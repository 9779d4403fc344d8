"""Writes for follow-ups, re-engagement, the content library and lead magnets.

The sweep claims due rows in batches with one conditional UPDATE (`… WHERE id IN (SELECT … FOR UPDATE SKIP
LOCKED LIMIT n) RETURNING`), so two sweepers never get the same row; the claimed rows are then sent a chunk
at a time, each chunk in a transaction that locks the rows still claimed with the sweeper's own token and
flips them claimed → sent together with their messages."""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import random
import re
import time as monotonic_time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from brain import llm, prompts, texts
from conversations.models import Message
from conversations.selectors import dialog_context
from conversations.services import message_send, messages_send, outbound_batch, outbound_message
from core import metrics
from core.db import server_bound_cursor
from followups import scheduling
from followups.models import OPEN_STATUSES, Content, ContentDelivery, FollowUp, FollowUpKind, FollowUpStatus
from followups.scheduling import FollowupSettings, settings_current
from followups.selectors import content_pick  # noqa: F401  (the selection service, re-exported)
from integrations.registry import find
from leads.models import Lead, LeadEvent, Stage
from leads.services import SYSTEM, event_add, lead_update
from tenants.selectors import ai_llm_settings, tenant_config_current

log = logging.getLogger("buildcrm.followups")

# A claim older than this belongs to a worker that died before sending (FOLLOWUP_CLAIM_TIMEOUT_SECONDS).
CLAIM_TIMEOUT = timedelta(seconds=settings.FOLLOWUP_CLAIM_TIMEOUT_SECONDS)
WA_NO_TEMPLATE = "WhatsApp 24h window closed and no approved template"
QUIET_KINDS = (FollowUpKind.FOLLOWUP, FollowUpKind.ONBOARDING)


# --- cancellation and the client's answer -------------------------------------------------------------------

def followups_cancel(*, lead=None, lead_id: int | None = None, reason: str, kinds: tuple[str, ...] | None = None,
                     now: datetime | None = None) -> int:
    """Cancels the lead's (`lead`, or the lead of `lead_id`) open follow-ups (pending, and claimed ones a sweeper has
    not sent yet: its send then finds the row taken and rolls back), keeping why (shown on the lead card)."""
    lead_id = lead.pk if lead is not None else lead_id
    qs = FollowUp.objects.filter(lead_id=lead_id, status__in=OPEN_STATUSES)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    count = qs.update(status=FollowUpStatus.CANCELLED, reason=reason[:200], done_at=now or timezone.now(),
                      claim_token=None)
    if count:
        log.info("lead=%s followups cancelled=%s reason=%s", lead_id, count, reason)
    return count


def followups_pause(*, lead_id: int, until: datetime, reason: str, rng: random.Random | None = None) -> int:
    """A call arranged or a meeting booked for `until`: the lead's pending touches that would come before it move
    to after it (keeping their order and spacing; quiet hours respected). Later schedules ask
    scheduling.paused_until. Returns how many moved."""
    s = scheduling.settings_current()
    after = until + scheduling.PAUSE_AFTER
    now = timezone.now()
    if after <= now:
        return 0
    moved = 0
    with transaction.atomic():  # the emitter's transaction, or its own when a caller has none
        rows = list(FollowUp.objects.select_for_update().filter(
            lead_id=lead_id, status=FollowUpStatus.PENDING, due_at__lt=after,
            kind__in=(FollowUpKind.FOLLOWUP, FollowUpKind.REENGAGEMENT)).order_by("due_at", "id"))
        for row in rows:
            due = scheduling.quiet_shift(after + max(timedelta(0), row.due_at - now), s, rng)
            moved += FollowUp.objects.filter(pk=row.pk, status=FollowUpStatus.PENDING).update(due_at=due)
    if moved:
        log.info("lead=%s followups paused until=%s moved=%s reason=%s", lead_id, after.isoformat(), moved, reason)
    return moved


def followups_on_client_messages(*, firsts: dict[int, int]) -> None:
    """Clients answered (`firsts`: per lead id, the id of its earliest message not yet handled): the silence is over,
    so their follow-ups stop; each lead's last touch counts as answered (engagement), the tags of content it carried
    become the lead's interests, and a first message carrying a campaign code starts that lead magnet.
    A fixed number of queries for the whole batch (the worker's drain)."""
    if not firsts:
        return
    leads = _Leads(firsts)
    last_sent: dict[int, tuple[int, int | None]] = {}
    for pk, lead_id, content_id in (FollowUp.objects.filter(lead_id__in=firsts, status=FollowUpStatus.SENT,
                                                            answered=False)
                                    .order_by("lead_id", "-id").values_list("pk", "lead_id", "content_id")):
        last_sent.setdefault(lead_id, (pk, content_id))
    if last_sent:
        FollowUp.objects.filter(pk__in=[pk for pk, _ in last_sent.values()]).update(answered=True)
        for lead_id, (_, content_id) in last_sent.items():
            if content_id:
                _interests_add(lead=leads[lead_id], content_id=content_id)
    open_followups = FollowUp.objects.filter(lead_id__in=firsts, status__in=OPEN_STATUSES,
                                             kind__in=(FollowUpKind.FOLLOWUP, FollowUpKind.REENGAGEMENT))
    cancelled = list(open_followups.values_list("pk", "lead_id"))
    if cancelled:
        FollowUp.objects.filter(pk__in=[pk for pk, _ in cancelled], status__in=OPEN_STATUSES).update(
            status=FollowUpStatus.CANCELLED, reason="client answered", done_at=timezone.now(), claim_token=None)
        for lead_id in sorted({lead_id for _, lead_id in cancelled}):
            log.info("lead=%s followups cancelled=%s reason=client answered", lead_id,
                     sum(1 for _, other in cancelled if other == lead_id))
    if (connection.tenant.config or {}).get("campaigns"):
        messages = Message.objects.in_bulk(list(firsts.values()))
        for lead_id, message_id in firsts.items():
            lead, message = leads[lead_id], messages.get(message_id)
            if lead is None or message is None or lead.last_outbound_at is not None:
                continue
            first_id = list(Message.objects.filter(lead=lead, direction="in").order_by("id")
                            .values_list("id", flat=True)[:1])
            if first_id == [message.pk]:
                campaign_on_new_lead(lead=lead, text=message.text or message.caption or "")


MISSED_CALL_TEXT = {
    "ru": "Здравствуйте{name_comma}! Мы пытались вам дозвониться, но не получилось. Когда вам удобно поговорить? "
          "Можно и здесь, в переписке.",
    "en": "Hi{name_comma}! We tried to call you but could not get through. When would be a good time to talk? "
          "We can also continue here in the chat.",
}


def followup_after_missed_call(*, lead_id: int, call_id: str, now: datetime | None = None) -> FollowUp | None:
    """An AI call nobody answered becomes a touch in the chat, due now (moved out of quiet hours), once per call. It is
    an ordinary follow-up: the client writing first, a person taking over or the lead closing cancels it."""
    now = now or timezone.now()
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None or FollowUp.objects.filter(lead=lead, meta__missed_call=call_id).exists():
        return None
    s = settings_current()
    language = (lead.ai_state or {}).get("language") or (tenant_config_current().get("language") or "ru")
    due = scheduling.quiet_shift(now, s)
    row = FollowUp.objects.create(lead=lead, kind=FollowUpKind.FOLLOWUP, step=0, due_at=due, planned_at=now,
                                  text=MISSED_CALL_TEXT.get(language, MISSED_CALL_TEXT["ru"]),
                                  meta={"missed_call": call_id})
    log.info("lead=%s missed call %s: follow-up due=%s", lead.pk, call_id, due.isoformat())
    return row


class _Leads:
    """The batch's leads, read in one query when first needed (most batches need none of them)."""

    def __init__(self, ids) -> None:
        self.ids, self.found = list(ids), None

    def __getitem__(self, lead_id: int):
        if self.found is None:
            self.found = Lead.objects.in_bulk(self.ids)
        return self.found.get(lead_id)


def followups_on_outbound_sent(*, message_ids: list[int]) -> None:
    """Our messages now wait for an answer: each one's follow-up schedule starts (see followups.scheduling). A touch
    itself (or a person's message) starts none: one query finds those that may."""
    for message in Message.objects.select_related("lead").filter(pk__in=message_ids).exclude(
            purpose__in=scheduling.NO_SCHEDULE_PURPOSES).order_by("id"):
        scheduling.schedule_after_outbound(lead=message.lead, message=message)


def _interests_add(*, lead, content_id: int) -> None:
    tags = Content.objects.filter(pk=content_id).values_list("tags", flat=True).first() or []
    current = lead.data.get("interests") if isinstance(lead.data, dict) else None
    current = list(current) if isinstance(current, list) else ([current] if current else [])
    merged = current + [t for t in tags if t not in current]
    if merged != current:
        lead_update(lead=lead, actor=SYSTEM, data={"interests": merged})


# --- the sweep ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class SweepResult:
    sent: int = 0
    cancelled: int = 0
    skipped: int = 0
    deferred: int = 0
    claimed: int = 0
    more: bool = False  # stopped by the time budget with rows still due

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def followups_sweep(*, now: datetime | None = None, batch: int = 200, time_budget: float = 20.0,
                    chunk: int = 25, rng: random.Random | None = None) -> SweepResult:
    """Sends every due touch of the current tenant. `now` fixes the clock (tests); without it the real clock
    is read per row. Safe to run in any number of workers at once."""
    fixed = now
    start = monotonic_time.monotonic()
    clock = (lambda: fixed) if fixed is not None else timezone.now
    s = settings_current()
    result = SweepResult()
    _tenant_level(s, clock())
    while True:
        current = clock()
        _defer_quiet(s, current, rng)
        token = uuid.uuid4()
        rows = _claim(now=current, limit=batch, token=token)
        if not rows:
            break
        result.claimed += len(rows)
        metrics.followups_claimed(len(rows))
        _send_batch(rows, s=s, token=token, clock=clock, result=result, chunk=chunk, rng=rng,
                    deadline=start + time_budget)
        if result.more or len(rows) < batch:
            break
        if monotonic_time.monotonic() - start > time_budget:
            result.more = True
            break
    if result.claimed:
        log.info("tenant=%s followups sweep %s", connection.tenant.schema_name,
                 " ".join(f"{k}={v}" for k, v in result.as_dict().items()))
    return result


def _tenant_level(s: FollowupSettings, now: datetime) -> None:
    """Tenant-wide switches cancel at once; claims a dead worker left behind return to the queue."""
    open_rows = FollowUp.objects.filter(status=FollowUpStatus.PENDING)
    if not s.ai_enabled:
        n = open_rows.update(status=FollowUpStatus.CANCELLED, reason="AI off for tenant", done_at=now)
        if n:
            log.info("tenant=%s followups cancelled=%s reason=AI off for tenant", connection.tenant.schema_name, n)
    if not s.enabled:
        open_rows.filter(kind=FollowUpKind.FOLLOWUP).update(status=FollowUpStatus.CANCELLED,
                                                           reason="follow-ups off", done_at=now)
    if not s.re_enabled:
        open_rows.filter(kind=FollowUpKind.REENGAGEMENT).update(status=FollowUpStatus.CANCELLED,
                                                               reason="re-engagement off", done_at=now)
    # A claim older than the timeout belongs to a worker that died before sending (a send flips the row to
    # sent in the same transaction as the message, so a row still claimed has no message): queue it again.
    FollowUp.objects.filter(status=FollowUpStatus.CLAIMED, claimed_at__lt=now - CLAIM_TIMEOUT).update(
        status=FollowUpStatus.PENDING, claim_token=None, claimed_at=None)


def _defer_quiet(s: FollowupSettings, now: datetime, rng: random.Random | None) -> None:
    """Inside quiet hours every due row moves at once, in one UPDATE, to the morning's end of quiet hours plus a
    random spread (so a hundred leads do not fire at 09:00:00); re-engagement waits for its working window."""
    table = FollowUp._meta.db_table
    spread = max(0.0, s.spread_minutes)
    with connection.cursor() as cursor:
        if scheduling.in_quiet_hours(now, s):
            base = scheduling.next_quiet_end(now, s)
            cursor.execute(
                f"UPDATE {table} SET due_at = %s + random() * %s * interval '1 minute' "
                f"WHERE status = 'pending' AND due_at <= %s AND kind = ANY(%s)",
                [base, spread, now, list(QUIET_KINDS)])
        if not scheduling.in_window(now, tz=s.tz, start=s.re_start, end=s.re_end) or scheduling.in_quiet_hours(now, s):
            base = scheduling.reengagement_shift(now, dataclasses.replace(s, spread_minutes=0))
            cursor.execute(
                f"UPDATE {table} SET due_at = %s + random() * %s * interval '1 minute' "
                f"WHERE status = 'pending' AND due_at <= %s AND kind = 'reengagement'",
                [base, spread, now])


CLAIM_FIELDS = ("id", "lead_id", "kind", "step", "text", "content_id", "due_at", "gap_minutes", "campaign", "meta",
                "created_at", "send_failures")


def _claim(*, now: datetime, limit: int, token: uuid.UUID) -> list[dict]:
    """Claims up to `limit` due rows for this sweeper in one statement; rows other sweepers hold are skipped."""
    table = FollowUp._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = 'claimed', claim_token = %s, claimed_at = %s "
            f"WHERE status = 'pending' AND id IN (SELECT id FROM {table} WHERE status = 'pending' AND due_at <= %s "
            f"ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING {', '.join(CLAIM_FIELDS)}",
            [token, now, now, limit])
        rows = [dict(zip(CLAIM_FIELDS, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # Django reads jsonb as text on raw cursors
        if isinstance(row["meta"], str):
            row["meta"] = json.loads(row["meta"] or "{}")
    return rows


def _send_batch(rows: list[dict], *, s: FollowupSettings, token: uuid.UUID, clock, result: SweepResult,
                chunk: int, rng, deadline: float | None = None) -> None:
    """Sends claimed rows a chunk at a time, each chunk in one transaction with a fixed number of statements.
    A chunk that fails (a bad row) is rolled back and its rows go one by one, so only the bad row waits. Past
    the `deadline` (monotonic) the rows not reached yet go back to the queue as they were."""
    leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in={r["lead_id"] for r in rows})}
    stage_kinds = dict(Stage.objects.values_list("id", "kind"))
    for lead in leads.values():
        lead._followup_stage_kind = stage_kinds.get(lead.stage_id, "")
    # One lead, one touch per batch: a second due step of the same lead waits for its gap.
    seen: dict[int, datetime] = {}
    for offset in range(0, len(rows), chunk):
        if offset and deadline is not None and monotonic_time.monotonic() > deadline:
            _unclaim(rows[offset:], token=token)
            result.claimed -= len(rows) - offset
            result.more = True
            return
        part = rows[offset:offset + chunk]
        texts = _touch_texts(part, leads=leads, s=s, now=clock(), seen=seen)
        before = dict(seen)
        try:
            outcomes = _send_chunk(part, leads=leads, texts=texts, s=s, token=token, now=clock(), seen=seen, rng=rng)
        except Exception:
            log.exception("followups chunk of %s failed; its rows go one by one", len(part))
            seen.clear()
            seen.update(before)
            outcomes = []
            for row in part:
                now = clock()
                try:
                    outcomes += _send_chunk([row], leads=leads, texts=texts, s=s, token=token, now=now, seen=seen,
                                            rng=rng)
                except Exception as exc:
                    log.exception("followup=%s send failed", row["id"])
                    outcomes.append(_send_failed(row, token=token, now=now, error=exc))
        for outcome in outcomes:
            setattr(result, outcome, getattr(result, outcome) + 1)


def _touch_texts(part: list[dict], *, leads: dict, s: FollowupSettings, now: datetime, seen: dict) -> dict[int, str]:
    """The words of the chunk's follow-up and re-engagement touches, written before the chunk takes its locks (in
    `openai` mode the model writes them) and only for rows that, as their leads were last read, go out as text:
    no model call for a touch that is cancelled, deferred or sent as a WhatsApp template."""
    texts: dict[int, str] = {}
    scratch = dict(seen)
    for row in part:
        lead = leads.get(row["lead_id"])
        if lead is None or not row["text"] or row["kind"] not in (FollowUpKind.FOLLOWUP, FollowUpKind.REENGAGEMENT):
            continue
        try:
            verdict = _verdict(row, lead, s=s, now=now, seen=scratch, earlier={}, rng=None)
        except Exception:  # a bad row: its real decision fails too, and is handled there
            continue
        if verdict == ("send", None):
            scratch[lead.pk] = now
            texts[row["id"]] = _touch_text(row, lead, s)
    return texts


def _touch_text(row: dict, lead, s: FollowupSettings | None = None) -> str:
    step = row["step"] or 1
    # A step's English variant (`text_en`) for an English-speaking client; without one the brain writes it.
    steps = s.steps if s is not None and row["kind"] == FollowUpKind.FOLLOWUP else ()
    template_en = str((steps[step - 1] or {}).get("text_en") or "") if 0 < step <= len(steps) else ""
    return followup_text(lead=lead, template=row["text"], template_en=template_en, touch=max(0, step - 1))


def _send_chunk(part: list[dict], *, leads: dict, texts: dict, s: FollowupSettings, token: uuid.UUID, now: datetime,
                seen: dict, rng) -> list[str]:
    """One transaction: the leads' fresh state and our claims under row locks (an answer or a takeover committed
    a moment ago wins; one committing now waits for this chunk), a decision per row, then the chunk's messages,
    lead previews and sent rows written in one statement each."""
    table = FollowUp._meta.db_table
    with outbound_batch(), transaction.atomic():
        states = {state["id"]: state for state in Lead.objects.select_for_update().filter(
            pk__in={row["lead_id"] for row in part}).order_by("id").values("id", *LEAD_STATE_FIELDS)}
        with connection.cursor() as cursor:  # our claims, locked: a cancel now waits, one before won
            cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) AND status = 'claimed' AND claim_token = %s "
                           "ORDER BY id FOR UPDATE", [[row["id"] for row in part], token])
            owned = {row_id for (row_id,) in cursor.fetchall()}
        earlier = _earlier_open_steps([row for row in part if row["step"] > 1])
        outcomes: list[str] = []
        sends: list[tuple[dict, Any, str]] = []
        for row in part:
            if row["id"] not in owned:
                outcomes.append("cancelled")
                continue
            decided = _decide(row, lead=leads.get(row["lead_id"]), state=states.get(row["lead_id"]), s=s,
                              token=token, now=now, seen=seen, rng=rng, texts=texts, earlier=earlier)
            if isinstance(decided, str):
                outcomes.append(decided)
            else:
                sends.append((row, *decided))
        messages_send([message for _, message, _ in sends if message.pk is None])
        if sends:
            with server_bound_cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS f SET status = 'sent', message_id = v.message_id, done_at = %s, text = v.text, "
                    "claim_token = NULL FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(id, message_id, text) "
                    "WHERE f.id = v.id AND f.status = 'claimed' AND f.claim_token = %s",
                    [now, [row["id"] for row, _, _ in sends], [message.pk for _, message, _ in sends],
                     [text for _, _, text in sends], token])
                if cursor.rowcount != len(sends):  # cannot happen while we hold the rows' locks
                    raise RuntimeError(f"followups: {len(sends) - cursor.rowcount} claims lost under lock")
        if sends:
            lateness = [(now - row["due_at"]).total_seconds() for row, _, _ in sends]
            transaction.on_commit(lambda: metrics.followups_sent(lateness))
        for row, message, _ in sends:
            log.info("lead=%s followup=%s %s step=%s sent message=%s", row["lead_id"], row["id"], row["kind"],
                     row["step"], message.pk)
            outcomes.append("sent")
    return outcomes


def _earlier_open_steps(rows: list[dict]) -> dict[tuple[int, str], list[tuple[int, datetime]]]:
    """For rows past their chain's first step: the open earlier steps of their leads, in one query."""
    found: dict[tuple[int, str], list[tuple[int, datetime]]] = {}
    if rows:
        for lead_id, kind, step, due_at in FollowUp.objects.filter(
                lead_id__in={row["lead_id"] for row in rows}, kind__in={row["kind"] for row in rows},
                status__in=OPEN_STATUSES).order_by("due_at").values_list("lead_id", "kind", "step", "due_at"):
            found.setdefault((lead_id, kind), []).append((step, due_at))
    return found


def _close(row: dict, *, token: uuid.UUID, status: str, reason: str, now: datetime) -> str:
    FollowUp.objects.filter(pk=row["id"], status=FollowUpStatus.CLAIMED, claim_token=token).update(
        status=status, reason=reason[:200], done_at=now, claim_token=None)
    log.info("lead=%s followup=%s %s reason=%s", row["lead_id"], row["id"], status, reason)
    return "cancelled" if status == FollowUpStatus.CANCELLED else "skipped"


def _release(row: dict, *, token: uuid.UUID, due: datetime) -> str:
    FollowUp.objects.filter(pk=row["id"], status=FollowUpStatus.CLAIMED, claim_token=token).update(
        status=FollowUpStatus.PENDING, due_at=due, claim_token=None, claimed_at=None)
    return "deferred"


def _unclaim(rows: list[dict], *, token: uuid.UUID) -> None:
    """Claimed rows this sweeper will not reach: back to the queue, due as they were."""
    FollowUp.objects.filter(pk__in=[row["id"] for row in rows], status=FollowUpStatus.CLAIMED,
                            claim_token=token).update(status=FollowUpStatus.PENDING, claim_token=None, claimed_at=None)


MAX_SEND_FAILURES = 5


def _send_failed(row: dict, *, token: uuid.UUID, now: datetime, error: Exception) -> str:
    """A row that could not be sent returns to the queue a minute later; after MAX_SEND_FAILURES it is skipped
    with the error as its reason (shown on the lead card) instead of failing every minute for ever."""
    failures = row["send_failures"] + 1
    claimed = FollowUp.objects.filter(pk=row["id"], status=FollowUpStatus.CLAIMED, claim_token=token)
    if failures < MAX_SEND_FAILURES:
        claimed.update(status=FollowUpStatus.PENDING, due_at=now + timedelta(minutes=1), claim_token=None,
                       claimed_at=None, send_failures=failures)
        return "deferred"
    claimed.update(send_failures=failures)
    return _close(row, token=token, status=FollowUpStatus.SKIPPED, now=now,
                  reason=f"send failed {failures} times: {type(error).__name__}: {error}")


def _block_reason(lead, s: FollowupSettings) -> str:
    return scheduling.lead_block_reason(lead, s, stage_kind=getattr(lead, "_followup_stage_kind", ""))


LEAD_STATE_FIELDS = ("refused", "handler_id", "ai_enabled", "last_inbound_at", "last_outbound_at", "waiting_since",
                     "stage_id", "provider")


def _verdict(row: dict, lead, *, s: FollowupSettings, now: datetime, seen: dict, earlier: dict, rng) -> tuple:
    """What a claimed row becomes, given its lead's state; writes nothing. ("close", status, reason),
    ("release", due) with `due()` the new due time, or ("send", template): template None for plain words."""
    kind = row["kind"]
    reason = _block_reason(lead, s)
    if not reason and kind == FollowUpKind.FOLLOWUP and not s.enabled:
        reason = "follow-ups off"
    if not reason and kind == FollowUpKind.REENGAGEMENT and not s.re_enabled:
        reason = "re-engagement off"
    answered = lead.last_inbound_at is not None and lead.last_inbound_at > row["created_at"]
    if not reason and kind in (FollowUpKind.FOLLOWUP, FollowUpKind.REENGAGEMENT) and answered:
        reason = "client answered"
    if not reason and kind == FollowUpKind.FOLLOWUP and lead.waiting_since is None:
        reason = "client answered"
    if reason:
        return ("close", FollowUpStatus.CANCELLED, reason)
    # Never at night; re-engagement only inside its working window.
    if kind == FollowUpKind.REENGAGEMENT:
        allowed = scheduling.reengagement_shift(now, dataclasses.replace(s, spread_minutes=0))
        if allowed > now:
            return ("release", functools.partial(scheduling.reengagement_shift, now, s, rng))
    elif scheduling.in_quiet_hours(now, s):
        return ("release", functools.partial(scheduling.quiet_shift, now, s, rng))
    # Never two touches closer than the step gap (a step delayed by the night pushes the next one).
    gap = timedelta(minutes=row["gap_minutes"] or 0)
    if lead.pk in seen:
        return ("release", functools.partial(scheduling.quiet_shift, seen[lead.pk] + gap, s, rng))
    if gap and lead.last_outbound_at and now < lead.last_outbound_at + gap:
        return ("release", functools.partial(scheduling.quiet_shift, lead.last_outbound_at + gap, s, rng))
    # Steps go out in order: an earlier step moved by the night goes first.
    before = [due for step, due in earlier.get((lead.pk, kind), ()) if step < row["step"]]
    if before:
        return ("release", functools.partial(scheduling.quiet_shift, max(before[0], now) + gap, s, rng))
    speaks = find(lead.provider)  # the Cloud API's 24-hour window closed: only a template may go
    if speaks is not None and not speaks.window_open(lead.last_inbound_at, now):
        name = (row["meta"] or {}).get("template") or s.wa_template
        if not name:
            return ("close", FollowUpStatus.SKIPPED, WA_NO_TEMPLATE)
        return ("send", {"name": name, "language": s.wa_template_language})
    return ("send", None)


def _decide(row: dict, *, lead, state: dict | None, s: FollowupSettings, token: uuid.UUID, now: datetime,
            seen: dict, rng, texts: dict, earlier: dict) -> str | tuple[Any, str]:
    """What a claimed row becomes: an outcome written at once (cancelled, skipped, deferred) or
    (message, text) for the chunk to write. `state`: the lead's fresh fields, read under its row lock
    (None: the lead is gone); `texts`: the touches' words written before the locks."""
    if lead is None or state is None:
        return _close(row, token=token, status=FollowUpStatus.CANCELLED, reason="lead deleted", now=now)
    for key in LEAD_STATE_FIELDS:
        setattr(lead, key, state[key])
    verdict = _verdict(row, lead, s=s, now=now, seen=seen, earlier=earlier, rng=rng)
    if verdict[0] == "close":
        return _close(row, token=token, status=verdict[1], reason=verdict[2], now=now)
    if verdict[0] == "release":
        return _release(row, token=token, due=verdict[1]())
    template, kind = verdict[1], row["kind"]
    text = row["text"] or ""  # a template carries the words itself; the row keeps its intent
    if template is None and text and kind in (FollowUpKind.FOLLOWUP, FollowUpKind.REENGAGEMENT):
        # Written before the locks; a row that only now may go (its lead changed meanwhile) gets them here.
        text = texts[row["id"]] if row["id"] in texts else _touch_text(row, lead, s)
    purpose = {"followup": "followup", "reengagement": "reengagement", "onboarding": "onboarding"}[kind]
    meta = {"followup_id": row["id"], "step": row["step"]}
    message = None
    if template is not None:
        message = outbound_message(lead=lead, author_kind="ai", kind="template", template=template, text=text,
                                   purpose=purpose, meta={**meta, "template": template["name"]})
    else:
        if text:
            message = outbound_message(lead=lead, author_kind="ai", text=text, purpose=purpose, meta=meta)
        if row["content_id"]:
            if message is not None:  # the words go first, the material after them
                messages_send([message])
            try:
                content_message = content_send(lead=lead, content_id=row["content_id"], actor=SYSTEM,
                                               purpose=purpose)
            except ValueError:
                content_message = None
            message = message or content_message
    if message is None:
        return _close(row, token=token, status=FollowUpStatus.SKIPPED, reason="nothing to send", now=now)
    seen[lead.pk] = now
    return message, text


def followup_text(*, lead, template: str, touch: int | None = None, template_en: str = "") -> str:
    """The touch's words: in `openai` mode the model writes them from the dialog (the template is the intent);
    offline, or when the model fails, the template lightly varied and personalised (brain.texts). `touch` (how
    many touches of this silence went before) picks the variation; without it the lead's follow-ups are counted.
    The template itself when nothing else works: a touch is never stopped by the AI."""
    try:
        cfg = tenant_config_current()
        mem = dict(lead.ai_state or {})
        if (cfg.get("ai") or {}).get("provider") == "openai":
            try:
                return _followup_written(lead=lead, template=template, cfg=cfg, mem=mem)
            except llm.LlmFailure as exc:
                log.warning("lead=%s followup text offline: %s", lead.pk, exc.reason)
        count = touch if touch is not None else Message.objects.filter(lead=lead, purpose="followup").count()
        values = texts.TemplateValues(name=lead.name or "", company=cfg.get("company") or "", city=lead.city or "",
                                      language=mem.get("language") or cfg.get("language") or "ru")
        text = texts.followup_offline(template, values, variant=lead.pk + count, template_en=template_en)
        return text.strip() or template
    except Exception:  # the AI failing must not stop a touch
        log.exception("lead=%s followup text failed; template used", lead.pk)
        return template


def _followup_written(*, lead, template: str, cfg: dict, mem: dict) -> str:
    upto = Message.objects.filter(lead=lead).order_by("-id").values_list("id", flat=True).first() or 0
    dialog = dialog_context(lead_id=lead.pk, upto=upto, summary=mem.get("summary") or "",
                            summary_upto=int(mem.get("summary_upto", 0)))
    now = timezone.now().astimezone(ZoneInfo(cfg.get("timezone") or "UTC"))
    system, history = prompts.dialog_prompt(
        cfg=cfg, lead=lead, stage_kind=Stage.objects.filter(pk=lead.stage_id).values_list("kind", flat=True).first(),
        fields=list(cfg.get("qualification") or []), window=dialog.window, summary=dialog.summary, now=now,
        followup_intent=template)
    text = llm.complete_text(s=ai_llm_settings(cfg), system=system,
                             history=history or [{"role": "user", "content": "(no messages yet)"}])
    return (text or template).strip() or template


# --- the content library ------------------------------------------------------------------------------------

CONTENT_FIELDS = ("type", "title", "text", "url", "items", "tags", "stages", "temperatures", "language", "active")


def content_create(*, actor, **fields: Any) -> Content:
    content = Content.objects.create(**{k: v for k, v in fields.items() if k in CONTENT_FIELDS})
    log.info("content=%s created type=%s by=%s", content.pk, content.type, actor.label)
    return content


def content_update(*, content: Content, actor, **fields: Any) -> Content:
    changed = [k for k, v in fields.items() if k in CONTENT_FIELDS and getattr(content, k) != v]
    for key in changed:
        setattr(content, key, fields[key])
    if changed:
        content.save()
        log.info("content=%s changed %s by=%s", content.pk, ",".join(changed), actor.label)
    return content


def content_delete(*, content: Content, actor) -> None:
    log.info("content=%s deleted by=%s", content.pk, actor.label)
    content.delete()


def content_send(*, lead, content_id: int, actor, purpose: str = "content") -> Any:
    """Sends a library item to the lead (the AI's `send_content` tool, lead magnets, touches) and records the
    delivery so the selection never offers it again. Raises ValueError for an unknown or inactive id."""
    try:
        content = Content.objects.filter(pk=int(content_id), active=True).first()
    except (TypeError, ValueError):
        content = None
    if content is None:
        raise ValueError(f"unknown content id {content_id!r}")
    author_kind = "ai" if actor.kind == "ai" else "system"
    kwargs: dict[str, Any] = {"lead": lead, "author_kind": author_kind, "purpose": purpose,
                              "meta": {"content_id": content.pk}}
    if content.type == "text":
        kwargs.update(kind="text", text=content.text or content.title)
    elif content.type == "album":
        kwargs.update(kind="album", items=content.items, caption=content.text)
    elif content.type == "link":
        kwargs.update(kind="link", media_url=content.url, text=content.text or content.title)
    else:
        kwargs.update(kind=content.type, media_url=content.url, caption=content.text if content.type != "voice" else "")
    if actor.kind == "user":
        kwargs.update(author_kind="user", author_user=actor.user)
    message = message_send(**kwargs)
    ContentDelivery.objects.get_or_create(lead=lead, content=content, defaults={"message": message,
                                                                                "purpose": purpose})
    event_add(lead=lead, actor=actor, kind="content_sent", after={"content_id": content.pk, "title": content.title},
              text=f"Отправлен материал «{content.title}»")
    log.info("lead=%s content=%s sent purpose=%s by=%s", lead.pk, content.pk, purpose, actor.label)
    return message


# --- proactive re-engagement --------------------------------------------------------------------------------

REASONS = {
    "content": "Здравствуйте{name_comma}! Мы подготовили для вас материал — «{title}». Посмотрите, пожалуйста. "
               "Ваш вопрос ещё актуален?",
    "checkin": "Здравствуйте{name_comma}! Давно не общались — ваш вопрос ещё актуален? Буду рад помочь.",
    "call": "Здравствуйте{name_comma}! Вы хотели созвониться — подскажите, когда вам удобно?",
}


def reengagement_plan(*, now: datetime | None = None, limit: int = 5000,
                      rng: random.Random | None = None) -> list[FollowUp]:
    """The daily job: sleeping leads (silent N days, not won/lost, not in human hands, not refused, not touched
    within K days) get one touch, planned inside the working window, with a reason and a content item."""
    now = now or timezone.now()
    s = settings_current()
    if not s.re_enabled or not s.ai_enabled:
        return []
    silent_since = now - timedelta(days=s.re_after_days)
    recent = now - timedelta(days=s.re_every_days)
    touched = FollowUp.objects.filter(kind=FollowUpKind.REENGAGEMENT).filter(
        Q(created_at__gte=recent) | Q(done_at__gte=recent) | Q(status__in=OPEN_STATUSES)).values("lead_id")
    busy = FollowUp.objects.filter(status__in=OPEN_STATUSES).values("lead_id")
    leads = (Lead.objects.select_related("stage")
             .filter(refused=False, handler__isnull=True, ai_enabled=True)
             .exclude(stage__kind__in=scheduling.CLOSED_STAGE_KINDS)
             .filter(Q(last_message_at__lt=silent_since) | Q(last_message_at__isnull=True, created_at__lt=silent_since))
             .exclude(pk__in=touched).exclude(pk__in=busy)
             .exclude(pk__in=scheduling.leads_with_call_or_meeting_ahead(now=now))  # it is the next touch
             .order_by("last_message_at", "id")[:limit])
    planned = []
    for lead in leads:
        picked = content_pick(lead=lead, limit=1)
        name_comma = f", {lead.name}" if lead.name else ""
        if picked:
            reason, content = "content", picked[0]
        elif lead.call_requested:
            reason, content = "call", None
        else:
            reason, content = "checkin", None
        text = REASONS[reason].format(name_comma=name_comma, title=content.title if content else "")
        due = scheduling.reengagement_shift(now, s, rng)
        try:
            with transaction.atomic():
                planned.append(FollowUp.objects.create(
                    lead=lead, kind=FollowUpKind.REENGAGEMENT, step=0, text=text,
                    content_id=content.pk if content else None, due_at=due, planned_at=now,
                    meta={"reason": reason}))
        except Exception:  # a concurrent run planned this lead first
            continue
        log.info("lead=%s reengagement planned reason=%s due=%s", lead.pk, reason, due.isoformat())
    return planned


# --- lead magnets -------------------------------------------------------------------------------------------

def campaign_match(*, text: str, campaigns) -> dict | None:
    """The campaign whose code or keyword the text carries as a whole word (case-insensitive)."""
    folded = (text or "").casefold()
    if not folded:
        return None
    for campaign in campaigns:
        words = [campaign.get("code", "")] + list(campaign.get("keywords") or [])
        for word in words:
            word = (word or "").strip().casefold()
            if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
                return campaign
    return None


def campaign_on_new_lead(*, lead, text: str, now: datetime | None = None,
                         rng: random.Random | None = None) -> bool:
    """A new lead's first message carries a campaign code or keyword: the free material goes out at once and the
    onboarding chain is planned; campaign and source stay on the lead. True when a campaign took the lead
    (also on a repeated call for the same lead); the normal AI dialog continues afterwards."""
    s = settings_current()
    campaign = campaign_match(text=text, campaigns=s.campaigns)
    if campaign is None:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        fresh = Lead.objects.select_for_update().filter(pk=lead.pk).first()
        if fresh is None:
            return False
        if LeadEvent.objects.filter(lead=fresh, kind="campaign_joined").exists():
            return True
        code = campaign["code"]
        lead_update(lead=fresh, actor=SYSTEM, campaign=code[:64],
                    source=(campaign.get("source") or fresh.source or "campaign")[:32])
        event_add(lead=fresh, actor=SYSTEM, kind="campaign_joined", after={"campaign": code},
                  text=f"Лид-магнит «{campaign.get('name') or code}»")
        if campaign.get("text"):
            message_send(lead=fresh, author_kind="system", text=campaign["text"], purpose="onboarding",
                         meta={"campaign": code})
        if campaign.get("content_id"):
            try:
                content_send(lead=fresh, content_id=campaign["content_id"], actor=SYSTEM, purpose="onboarding")
            except ValueError:
                log.warning("lead=%s campaign=%s content=%s missing", fresh.pk, code, campaign["content_id"])
        previous, previous_offset = now, 0.0
        for index, step in enumerate(campaign.get("steps") or ()):
            offset = float(step["after_minutes"])
            gap = max(0.0, offset - previous_offset)
            due = scheduling.quiet_shift(max(now + timedelta(minutes=offset), previous + timedelta(minutes=gap)),
                                         s, rng)
            FollowUp.objects.create(lead=fresh, kind=FollowUpKind.ONBOARDING, step=index + 1,
                                    text=step.get("text", ""), content_id=step.get("content_id"), due_at=due,
                                    planned_at=now + timedelta(minutes=offset), gap_minutes=gap, campaign=code)
            previous, previous_offset = due, offset
        # The campaign's chain replaces ordinary follow-ups while it runs.
        followups_cancel(lead=fresh, reason=f"campaign {code}", kinds=(FollowUpKind.FOLLOWUP,), now=now)
    for key in ("campaign", "source"):
        setattr(lead, key, getattr(fresh, key))
    log.info("lead=%s campaign=%s joined steps=%s", lead.pk, code, len(campaign.get("steps") or ()))
    return True
