"""Time rules of follow-ups: tenant settings, quiet hours / working windows in the tenant's time zone, and the
schedule of steps started when our last message waits for an answer."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from followups.models import FollowUp, FollowUpKind, FollowUpStatus
from leads.models import Lead
from tasks.selectors import lead_busy_until, leads_busy_after
from tenants.selectors import tenant_config_current

log = logging.getLogger("buildcrm.followups")

# Our messages with these purposes never start a follow-up schedule (they are touches themselves or human).
NO_SCHEDULE_PURPOSES = ("followup", "reengagement", "onboarding", "human", "client", "reminder")
CLOSED_STAGE_KINDS = ("won", "lost")
# A call arranged or a meeting booked: follow-ups wait until this long after its time (the manager's call or the
# meeting itself is the next touch, not "актуально?").
PAUSE_AFTER = timedelta(hours=2)


@dataclass(frozen=True)
class FollowupSettings:
    """The parts of the tenant configuration that follow-ups, re-engagement and campaigns use."""

    tz: str = "Asia/Almaty"
    language: str = "ru"
    ai_enabled: bool = True
    ai_provider: str = "offline"
    enabled: bool = True
    steps: tuple = ()
    quiet_start: str = "21:00"
    quiet_end: str = "09:00"
    max_per_lead: int = 3
    spread_minutes: float = 20.0
    re_enabled: bool = True
    re_after_days: float = 7.0
    re_every_days: float = 14.0
    re_start: str = "10:00"
    re_end: str = "19:00"
    wa_template: str = ""
    wa_template_language: str = "ru"
    campaigns: tuple = field(default_factory=tuple)


def settings_current() -> FollowupSettings:
    """The current tenant's settings, read fresh (an imported change applies to the very next sweep)."""
    return settings_from_config(tenant_config_current(fresh=True))


def settings_from_config(cfg: dict) -> FollowupSettings:
    fu = cfg.get("followups") or {}
    quiet = fu.get("quiet_hours") or {}
    re_cfg = cfg.get("reengagement") or {}
    window = re_cfg.get("window") or {}
    wa = (cfg.get("channels") or {}).get("whatsapp_cloud") or {}
    ai = cfg.get("ai") or {}
    return FollowupSettings(
        tz=cfg.get("timezone") or "Asia/Almaty",
        language=cfg.get("language") or "ru",
        ai_enabled=bool(ai.get("enabled", True)),
        ai_provider=ai.get("provider") or "offline",
        enabled=bool(fu.get("enabled", True)),
        steps=tuple(fu.get("steps") or ()),
        quiet_start=quiet.get("start", "21:00"),
        quiet_end=quiet.get("end", "09:00"),
        max_per_lead=int(fu.get("max_per_lead", 3)),
        spread_minutes=float(fu.get("spread_minutes", 20)),
        re_enabled=bool(re_cfg.get("enabled", True)),
        re_after_days=float(re_cfg.get("after_days", 7)),
        re_every_days=float(re_cfg.get("every_days", 14)),
        re_start=window.get("start", "10:00"),
        re_end=window.get("end", "19:00"),
        wa_template=wa.get("followup_template") or "",
        wa_template_language=wa.get("template_language") or "ru",
        campaigns=tuple(c for c in (cfg.get("campaigns") or ()) if c.get("active", True)),
    )


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_window(when: datetime, *, tz: str, start: str, end: str) -> bool:
    """Whether `when` falls inside [start, end) local time (a window may wrap midnight; start == end = always)."""
    s, e = _hhmm(start), _hhmm(end)
    if s == e:
        return True
    t = when.astimezone(ZoneInfo(tz)).time()
    return s <= t < e if s < e else (t >= s or t < e)


def window_next(when: datetime, *, tz: str, start: str, end: str, spread_minutes: float = 0.0,
                rng: random.Random | None = None) -> datetime:
    """`when` if it is inside the allowed window, else the next window start plus a random spread (0..spread)."""
    if in_window(when, tz=tz, start=start, end=end):
        return when
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    s = _hhmm(start)
    day = local.date()
    candidate = datetime.combine(day, s, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(day + timedelta(days=1), s, tzinfo=zone)
    spread = (rng or random).uniform(0, max(0.0, spread_minutes)) if spread_minutes else 0.0
    return candidate.astimezone(UTC) + timedelta(minutes=spread)


def in_quiet_hours(when: datetime, s: FollowupSettings) -> bool:
    return not in_window(when, tz=s.tz, start=s.quiet_end, end=s.quiet_start)


def quiet_shift(when: datetime, s: FollowupSettings, rng: random.Random | None = None) -> datetime:
    """A due time inside quiet hours moves to the next morning's end of quiet hours plus a small spread."""
    return window_next(when, tz=s.tz, start=s.quiet_end, end=s.quiet_start, spread_minutes=s.spread_minutes, rng=rng)


def reengagement_shift(when: datetime, s: FollowupSettings, rng: random.Random | None = None) -> datetime:
    """A re-engagement touch goes out only inside the working window (and never inside quiet hours)."""
    moved = window_next(when, tz=s.tz, start=s.re_start, end=s.re_end, spread_minutes=s.spread_minutes, rng=rng)
    return quiet_shift(moved, s, rng)


def next_quiet_end(when: datetime, s: FollowupSettings) -> datetime:
    """The next moment quiet hours end (the spread is added by the caller)."""
    return window_next(when, tz=s.tz, start=s.quiet_end, end=s.quiet_start)


def lead_block_reason(lead, s: FollowupSettings, *, stage_kind: str | None = None) -> str:
    """Why no touch may go to this lead now ("" when one may). `stage_kind` saves a query when known."""
    if lead.refused:
        return "refused"
    if stage_kind is None:
        stage_kind = lead.stage.kind if lead.stage_id else ""
    if stage_kind in CLOSED_STAGE_KINDS:
        return f"stage {stage_kind}"
    if lead.handler_id:
        return "takeover"
    if not lead.ai_enabled:
        return "AI off for lead"
    if not s.ai_enabled:
        return "AI off for tenant"
    return ""


def paused_until(*, lead_id: int, now: datetime) -> datetime | None:
    """Until when the lead's follow-ups wait: after its open call or meeting (tasks), or None."""
    busy = lead_busy_until(lead_id=lead_id)
    if busy is None or busy + PAUSE_AFTER <= now:
        return None
    return busy + PAUSE_AFTER


def leads_with_call_or_meeting_ahead(*, now: datetime):
    """Ids (a subquery) of the leads whose follow-ups wait for an open call or meeting (see paused_until)."""
    return leads_busy_after(since=now - PAUSE_AFTER)


def schedule_after_outbound(*, lead, message, now: datetime | None = None) -> list[FollowUp]:
    """Called once our message is sent: an AI/system message that waits for an answer (re)starts the steps."""
    if message.direction != "out" or message.purpose in NO_SCHEDULE_PURPOSES:
        return []
    if message.author_kind not in ("ai", "system"):
        return []
    return followups_schedule(lead=lead, now=now or message.sent_at or timezone.now())


def followups_schedule(*, lead, now: datetime | None = None, rng: random.Random | None = None) -> list[FollowUp]:
    """Plans the tenant's steps from `now` for a lead whose last message is ours and waits for an answer.

    Steps already sent during this silence count towards `max_per_lead`; pending steps are re-based (a later
    message of the same AI turn moves them), so a lead never has two open rows for one step. Every due time is
    moved out of quiet hours, and every step keeps at least its gap after the previous one."""
    now = now or timezone.now()
    s = settings_current()
    if not s.enabled or not s.steps:
        return []
    with transaction.atomic():
        fresh = Lead.objects.select_for_update(of=("self",)).select_related("stage").filter(pk=lead.pk).first()
        if fresh is None or lead_block_reason(fresh, s) or fresh.waiting_since is None:
            return []
        open_rows = FollowUp.objects.filter(lead=fresh, status__in=(FollowUpStatus.PENDING, FollowUpStatus.CLAIMED))
        if open_rows.filter(kind=FollowUpKind.ONBOARDING).exists():
            return []  # the onboarding chain is this lead's schedule for now
        sent = FollowUp.objects.filter(lead=fresh, kind=FollowUpKind.FOLLOWUP, status=FollowUpStatus.SENT)
        if fresh.last_inbound_at is not None:
            # Our touch's message is stamped by the same clock as the client's message.
            sent = sent.filter(Q(message__created_at__gt=fresh.last_inbound_at) | Q(message__isnull=True,
                                                                                  done_at__gt=fresh.last_inbound_at))
        sent_count = sent.count()
        budget = max(0, s.max_per_lead - sent_count)
        pending = {row.step: row for row in open_rows.filter(kind=FollowUpKind.FOLLOWUP)}
        if any(row.status == FollowUpStatus.CLAIMED for row in pending.values()):
            return []  # a step is being sent right now; its own send re-bases nothing
        planned: list[FollowUp] = []
        offsets = [float(step["after_minutes"]) for step in s.steps]
        base_offset = offsets[sent_count - 1] if 0 < sent_count <= len(offsets) else 0.0
        previous_due = now
        pause = paused_until(lead_id=fresh.pk, now=now)
        for index in range(sent_count, min(len(s.steps), sent_count + budget)):
            step = s.steps[index]
            gap = offsets[index] - (offsets[index - 1] if index else 0.0)
            planned_at = now + timedelta(minutes=offsets[index] - base_offset)
            due = max(planned_at, previous_due + timedelta(minutes=gap))
            if pause is not None and due < pause:  # a call or meeting ahead: the touches wait until after it
                due = pause + (due - now)
            due = quiet_shift(due, s, rng)
            previous_due = due
            row = pending.pop(index + 1, None)
            values = {"text": step.get("text", ""), "due_at": due, "planned_at": planned_at, "gap_minutes": gap,
                      "meta": {"template": step["template"]} if step.get("template") else {}}
            if row is None:
                row = FollowUp.objects.create(lead=fresh, kind=FollowUpKind.FOLLOWUP, step=index + 1, **values)
            else:
                FollowUp.objects.filter(pk=row.pk).update(**values)
                for key, value in values.items():
                    setattr(row, key, value)
            planned.append(row)
        for row in pending.values():  # steps no longer in the configuration
            FollowUp.objects.filter(pk=row.pk, status=FollowUpStatus.PENDING).update(
                status=FollowUpStatus.CANCELLED, reason="schedule changed", done_at=now)
    if planned:
        log.info("lead=%s followups scheduled steps=%s first_due=%s", lead.pk, ",".join(str(r.step) for r in planned),
                 planned[0].due_at.isoformat())
    return planned
