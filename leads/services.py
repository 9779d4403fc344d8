"""Writes for leads. Every change writes a LeadEvent (who, what, before → after) and, once committed,
pushes `lead.updated` / `lead.created` to the websocket groups allowed to see the lead. What other apps do about a
change (follow-ups cancelled, amoCRM mirrored) they do as listeners of its event (core.events: lead.stage_changed,
lead.taken_over, lead.returned_to_ai, lead.ai_stopped)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import Role, User
from brain import engine
from brain.money import money_parse
from brain.when import when_parse
from core.db import insert_rows, server_bound_cursor
from core.events import emit
from core.realtime import group_user, publish
from integrations.registry import find
from leads.models import (
    DEFAULT_STAGES,
    ENGINE_STAGE_KINDS,
    MAX_STAGES,
    ActorKind,
    Channel,
    Lead,
    LeadEvent,
    LeadIdentity,
    LeadRead,
    Stage,
    StageKind,
    Temperature,
)
from leads.selectors import lead_audience_groups, leads_by_phone, leads_visible_to, managers_see_all
from leads.serializers import LeadOut
from leads.values import TAGS_PER_LEAD, phone_clean, tags_clean
from tenants.selectors import tenant_config_current

log = logging.getLogger("buildcrm.leads")

USER_EDITABLE = ("name", "phone", "email", "city", "ai_enabled", "source_info", "amount")
NULLABLE_FIELDS = ("amount",)  # None clears these; for the others None means "leave as it is"
BUDGET_KEY = "budget"  # the qualification field whose value fills the deal's amount (presets: generic_b2b)
SYSTEM_EDITABLE = USER_EDITABLE + ("preferred_time", "call_requested", "needs_human", "needs_human_reason",
                                   "refused", "campaign", "source")


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the AI, the system, or a person."""

    kind: str
    user: Any = None

    @property
    def label(self) -> str:
        return self.user.email if self.user is not None else self.kind


STAGE_KEPT_MESSAGE = ("Этот этап ведёт AI: его можно переименовать и перекрасить, но не удалить. / "
                      "The AI moves leads into this stage: rename or recolour it, it cannot be deleted.")

AI = Actor(ActorKind.AI)
SYSTEM = Actor(ActorKind.SYSTEM)


def channel_of(provider: str) -> str:
    """The lead channel a provider speaks on (ChatFlow and the Cloud API are both WhatsApp); the sandbox's for a
    provider we have no channel for."""
    found = find(provider)
    return found.lead_channel if found else Channel.SANDBOX


def user_actor(user) -> Actor:
    return Actor(ActorKind.USER, user)


def stage_of_kind(kind: str) -> Stage:
    stage = Stage.objects.filter(kind=kind).order_by("position").first()
    return stage or Stage.objects.order_by("position").first()


def event_add(*, lead: Lead, actor: Actor, kind: str, field: str = "", before: Any = None, after: Any = None,
              text: str = "") -> LeadEvent:
    return LeadEvent.objects.create(lead=lead, kind=kind, actor_kind=actor.kind, actor_user=actor.user, field=field,
                                    before=before, after=after, text=text)


def publish_lead(lead: Lead, event_type: str = "lead.updated") -> None:
    """Sends the lead to the websocket groups allowed to see it, after the transaction commits."""
    publish_leads([lead.pk], event_type)


def publish_leads(lead_ids: list[int], event_type: str = "lead.updated") -> None:
    """`publish_lead` for many leads: one query and one serializer pass on commit (a worker's batch)."""
    tenant_id = connection.tenant.id
    ids = list(lead_ids)

    def send() -> None:
        fresh = list(Lead.objects.select_related("stage", "assignee", "handler").filter(pk__in=ids).order_by("id"))
        for lead, data in zip(fresh, LeadOut(fresh, many=True).data, strict=True):
            publish(lead_audience_groups(tenant_id=tenant_id, lead=lead), {"type": event_type, "lead": data})

    if ids:
        transaction.on_commit(send)


def lead_for_inbound(*, provider: str, identity: str, phone: str | None, name: str | None,
                     source: str = "") -> tuple[Lead, bool]:
    """The lead a channel identity belongs to, created when new; merged by phone across channels."""
    channel = channel_of(provider)
    found = LeadIdentity.objects.select_related("lead").filter(channel=channel, identity=identity).first()
    if found:
        lead = found.lead
        if lead.provider != provider or lead.channel != channel:
            Lead.objects.filter(pk=lead.pk).update(provider=provider, channel=channel)
            lead.provider, lead.channel = provider, channel
        return lead, False
    lead = Lead.objects.filter(phone=phone).order_by("id").first() if phone else None
    created = lead is None
    if created:
        lead = Lead.objects.create(name=(name or "")[:150], phone=phone or "", channel=channel, provider=provider,
                                   source=source or channel, stage=stage_of_kind(StageKind.NEW))
        event_add(lead=lead, actor=SYSTEM, kind="created", text=f"Новая заявка из канала {channel}")
        log.info("lead=%s created channel=%s by=system", lead.pk, channel)
    else:
        event_add(lead=lead, actor=SYSTEM, kind="identity_merged", field="channel", before=lead.channel, after=channel,
                  text=f"Тот же телефон написал из канала {channel}")
        Lead.objects.filter(pk=lead.pk).update(provider=provider, channel=channel)
        lead.provider, lead.channel = provider, channel
    LeadIdentity.objects.create(channel=channel, identity=identity, lead=lead)
    return lead, created  # lead.created goes out with its first message (conversations.services)


@dataclass(frozen=True)
class InboundClient:
    """Who wrote a stored client message whose lead is not known yet (the drain's input to `leads_for_inbound`)."""

    provider: str
    identity: str
    phone: str | None
    name: str | None
    source: str = ""


def leads_for_inbound(clients: list[InboundClient]) -> list[tuple[Lead, bool]]:
    """`lead_for_inbound` for a drain's batch, in order, set-based for the common case: the known identities in
    one query, the brand-new clients as one INSERT of leads, one of their `created` events and one of their
    identities. A client that needs more (a lead answering on another provider, a phone another lead has, a
    phone two new clients of this batch share) goes through `lead_for_inbound` one by one, after the bulk
    insert, so a later message of the batch merges into a lead an earlier one created. The caller holds the
    tenant's drain lock (no second drainer creates leads meanwhile); an identity created concurrently by
    someone else (manual entry) fails the INSERT and the caller's savepoint, and its fallback redoes the batch
    one message at a time. Returns (lead, created) per client; the same identity twice gives the same lead."""
    keyed = [(channel_of(c.provider), c.identity, c) for c in clients]
    wanted = {(channel, identity) for channel, identity, _ in keyed}
    known: dict[tuple[str, str], Lead] = {}
    if wanted:
        found = LeadIdentity.objects.select_related("lead").filter(
            channel__in={k[0] for k in wanted}, identity__in={k[1] for k in wanted})
        known = {(i.channel, i.identity): i.lead for i in found if (i.channel, i.identity) in wanted}
    phones = {c.phone for _, _, c in keyed if c.phone}
    taken_phones = set(Lead.objects.filter(phone__in=phones).values_list("phone", flat=True)) if phones else set()
    fresh: dict[tuple[str, str], Lead] = {}  # new leads of this batch by identity, in creation order
    answering: dict[tuple[str, str], str] = {}  # the provider each identity's lead answers on, as of this client
    slow: dict[int, InboundClient] = {}  # by position: done one by one, in order, after the bulk insert
    stage = None
    for n, (channel, identity, client) in enumerate(keyed):
        key = (channel, identity)
        if key in fresh:  # a new client's next message: its lead answers on the provider it last used
            fresh[key].provider = client.provider
            continue
        lead = known.get(key)
        if lead is not None and answering.setdefault(key, lead.provider) == client.provider \
                and lead.channel == channel:
            continue
        if lead is not None or key in answering or (client.phone and client.phone in taken_phones):
            slow[n] = client
            answering[key] = client.provider
            continue
        if stage is None:
            stage = stage_of_kind(StageKind.NEW)
        fresh[key] = Lead(name=(client.name or "")[:150], phone=client.phone or "", channel=channel,
                          provider=client.provider, source=client.source or channel, stage=stage)
        if client.phone:
            taken_phones.add(client.phone)
    if fresh:
        insert_rows(list(fresh.values()))  # one prepared INSERT … unnest each, ids back in order
        insert_rows([LeadEvent(lead=lead, kind="created", actor_kind=SYSTEM.kind,
                               text=f"Новая заявка из канала {lead.channel}") for lead in fresh.values()])
        insert_rows([LeadIdentity(channel=channel, identity=identity, lead=lead)
                     for (channel, identity), lead in fresh.items()])
        log.info("leads=%s created by=system (inbound batch)", len(fresh))
    slowly = {n: lead_for_inbound(provider=client.provider, identity=keyed[n][1], phone=client.phone,
                                  name=client.name, source=client.source) for n, client in slow.items()}
    # One object per lead, the one read last (a later call saw the earlier ones' changes): a caller saving the
    # lead (a name set) must not write back a provider as it was before this batch.
    latest = {lead.pk: lead for lead, _ in slowly.values()}
    result: list[tuple[Lead, bool]] = []
    first_of: set[tuple[str, str]] = set()
    for n, (channel, identity, _) in enumerate(keyed):
        key = (channel, identity)
        if n in slowly:
            lead, created = slowly[n]
        elif key in fresh:
            lead, created = fresh[key], key not in first_of
        else:
            lead, created = known[key], False
        result.append((latest.get(lead.pk, lead), created))
        first_of.add(key)
    return result


def lead_create(*, actor: Actor, name: str = "", phone: str = "", city: str = "", source: str = "",
                channel: str = Channel.WHATSAPP, provider: str = "", source_info: str = "", external_id: str = "",
                campaign: str = "", phone_identity: bool = True) -> Lead:
    """A lead that did not write to us first (amoCRM, manual entry). `phone_identity`: the phone is how the client
    reaches us on `channel` (WhatsApp, the sandbox), so a message from it finds this lead."""
    lead = Lead.objects.create(
        name=name, phone=phone, city=city, source=source, channel=channel, provider=provider or channel,
        source_info=source_info, external_id=external_id, campaign=campaign, stage=stage_of_kind(StageKind.NEW),
    )
    if phone and phone_identity:
        LeadIdentity.objects.get_or_create(channel=channel, identity=phone, defaults={"lead": lead})
    event_add(lead=lead, actor=actor, kind="created", text=f"Новая заявка ({source or channel})")
    log.info("lead=%s created source=%s by=%s", lead.pk, source, actor.label)
    publish_lead(lead, "lead.created")
    return lead


def lead_update(*, lead: Lead, actor: Actor, data: dict | None = None, **fields: Any) -> Lead:
    """Changes plain fields and qualification data, one event per changed value."""
    allowed = USER_EDITABLE if actor.kind == ActorKind.USER else SYSTEM_EDITABLE
    changed = []
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(f"field {name} cannot be changed here")
        before = getattr(lead, name)
        if name == "amount" and actor.kind == ActorKind.USER and not lead.amount_by_person:
            lead.amount_by_person = True  # a person's figure (even the same one, or none) outranks the budget now
            changed.append("amount_by_person")
        if (value is None and name not in NULLABLE_FIELDS) or before == value:
            continue
        setattr(lead, name, value)
        changed.append(name)
        event_add(lead=lead, actor=actor, kind="field_changed", field=name, before=_jsonable(before),
                  after=_jsonable(value))
    if data:
        merged = dict(lead.data)
        for key, value in data.items():
            if merged.get(key) == value:
                continue
            event_add(lead=lead, actor=actor, kind="data_changed", field=key, before=merged.get(key), after=value)
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
            changed.append(f"data.{key}")
        lead.data = merged
        if "data.budget" in changed and not lead.amount_by_person:
            _amount_from_budget(lead=lead, actor=actor, changed=changed)
    if changed:
        lead.save()
        log.info("lead=%s changed %s by=%s", lead.pk, ",".join(changed), actor.label)
        if ("refused" in changed and lead.refused) or ("ai_enabled" in changed and not lead.ai_enabled):
            emit("lead.ai_stopped", lead_id=lead.pk, reason="refused" if lead.refused else "AI off for lead")
        publish_lead(lead)
    return lead


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _amount_from_budget(*, lead: Lead, actor: Actor, changed: list[str]) -> None:
    """The client's stated budget ("2 млн", 500000) becomes the deal's amount while no person has set one."""
    amount = money_parse(lead.data.get(BUDGET_KEY))
    if amount is None or amount == lead.amount:
        return
    event_add(lead=lead, actor=actor, kind="field_changed", field="amount", before=_jsonable(lead.amount),
              after=_jsonable(amount), text="из бюджета клиента")
    lead.amount = amount
    changed.append("amount")


def lead_move(*, lead: Lead, stage: Stage, actor: Actor) -> Lead:
    """Moves a lead to a stage. A person's move pins the stage (who and when, shown on the card): the AI's engine
    no longer moves it until the lead is returned to the AI."""
    pin = actor.kind == ActorKind.USER and (not lead.stage_locked or lead.stage_pinned_by_id != actor.user.pk)
    if lead.stage_id == stage.pk and not pin:
        return lead
    before = lead.stage
    lead.stage = stage
    if actor.kind == ActorKind.USER:
        lead.stage_locked = True
        lead.stage_pinned_by = actor.user
        lead.stage_pinned_at = timezone.now()
    lead.save(update_fields=["stage", "stage_locked", "stage_pinned_by", "stage_pinned_at", "updated_at"])
    if before.pk != stage.pk:
        event_add(lead=lead, actor=actor, kind="stage_changed", field="stage",
                  before={"id": before.pk, "name": before.name, "kind": before.kind},
                  after={"id": stage.pk, "name": stage.name, "kind": stage.kind})
        log.info("lead=%s stage %s→%s by=%s", lead.pk, before.kind, stage.kind, actor.label)
        emit("lead.stage_changed", lead_id=lead.pk, before=before.kind, after=stage.kind, actor=actor.kind)
    elif pin:
        event_add(lead=lead, actor=actor, kind="stage_pinned", field="stage",
                  after={"id": stage.pk, "name": stage.name, "kind": stage.kind})
        log.info("lead=%s stage %s pinned by=%s", lead.pk, stage.kind, actor.label)
    publish_lead(lead)
    return lead


def lead_change(*, lead: Lead, user, stage_id: int | None = None, assignee_id: int | None = None,
                change_assignee: bool = False, data: dict | None = None, tags: list[str] | None = None,
                **fields: Any) -> Lead:
    """A person's edit of a lead card: stage, assignee, fields and qualification data, each with its rules.
    Raises ValidationError for an unknown stage or user, PermissionDenied for an assignment the role may not make."""
    actor = user_actor(user)
    if stage_id is not None:
        stage = Stage.objects.filter(pk=stage_id).first()
        if stage is None:
            raise ValidationError({"stage": ["Нет такого этапа."]})
        lead_move(lead=lead, stage=stage, actor=actor)
    if change_assignee:
        assignee = None
        if assignee_id is not None:
            assignee = User.objects.filter(pk=assignee_id, is_active=True).exclude(role="").first()
            if assignee is None:
                raise ValidationError({"assignee": ["Нет такого активного сотрудника."]})
        if user.role == Role.MANAGER and assignee not in (None, user):
            raise PermissionDenied("Менеджер может назначить заявку только на себя.")
        lead_assign(lead=lead, assignee=assignee, actor=actor)
    if fields or data:
        lead_update(lead=lead, actor=actor, data=data, **fields)
    if tags is not None:
        try:
            lead_tags_set(lead=lead, tags=tags, actor=actor)
        except ValueError as exc:
            raise ValidationError({"tags": [str(exc)]}) from None
    return lead


def lead_assign(*, lead: Lead, assignee, actor: Actor) -> Lead:
    if lead.assignee_id == (assignee.pk if assignee else None):
        return lead
    before = lead.assignee
    lead.assignee = assignee
    lead.save(update_fields=["assignee", "updated_at"])
    emit("lead.assigned", lead_id=lead.pk, assignee_id=assignee.pk if assignee else None,
         before_id=before.pk if before else None, actor=actor.kind)
    event_add(lead=lead, actor=actor, kind="assigned", field="assignee",
              before=before.email if before else None, after=assignee.email if assignee else None)
    log.info("lead=%s assignee %s→%s by=%s", lead.pk, before.email if before else "-",
             assignee.email if assignee else "-", actor.label)
    publish_lead(lead)
    if before is not None:
        _publish_removed(lead, before)
    return lead


def _publish_removed(lead: Lead, user) -> None:
    """A manager who sees only assigned leads loses this one: tell their open screens to drop it."""
    tenant_id, lead_id, user_id = connection.tenant.id, lead.pk, user.pk

    def send() -> None:
        if not managers_see_all():
            publish([group_user(tenant_id, user_id)], {"type": "lead.removed", "lead_id": lead_id})

    transaction.on_commit(send)


def lead_takeover(*, lead: Lead, user) -> Lead:
    """A person takes the dialog: the AI stops for this lead (its follow-ups are cancelled: lead.taken_over)."""
    before = lead.handler.email if lead.handler_id else "ai"
    lead.handler = user
    if lead.assignee_id is None:
        lead.assignee = user
    lead.save(update_fields=["handler", "assignee", "updated_at"])
    event_add(lead=lead, actor=user_actor(user), kind="takeover", field="handled_by", before=before, after=user.email)
    emit("lead.taken_over", lead_id=lead.pk, user_id=user.pk)
    log.info("lead=%s takeover by=%s", lead.pk, user.email)
    publish_lead(lead)
    return lead


def lead_return_to_ai(*, lead: Lead, user) -> Lead:
    """The AI handles the lead again: the person's pin on the stage is released (the engine may move it again)."""
    before = lead.handler.email if lead.handler_id else "ai"
    lead.handler = None
    lead.ai_enabled = True
    lead.needs_human = False
    lead.stage_locked, lead.stage_pinned_by, lead.stage_pinned_at = False, None, None
    lead.save(update_fields=["handler", "ai_enabled", "needs_human", "stage_locked", "stage_pinned_by",
                             "stage_pinned_at", "updated_at"])
    event_add(lead=lead, actor=user_actor(user), kind="returned_to_ai", field="handled_by", before=before, after="ai")
    emit("lead.returned_to_ai", lead_id=lead.pk, user_id=user.pk)
    log.info("lead=%s returned to ai by=%s", lead.pk, user.email)
    publish_lead(lead)
    return lead


def lead_set_score(*, lead: Lead, score: int, temperature: str, reasons: list, actor: Actor = AI) -> Lead:
    if (lead.score, lead.temperature, lead.score_reasons) == (score, temperature, reasons):
        return lead
    if lead.temperature != temperature or lead.score != score:
        event_add(lead=lead, actor=actor, kind="score_changed", field="score",
                  before={"score": lead.score, "temperature": lead.temperature},
                  after={"score": score, "temperature": temperature})
    became_hot = temperature == Temperature.HOT and lead.temperature != Temperature.HOT
    lead.score, lead.temperature, lead.score_reasons = score, temperature, reasons
    lead.save(update_fields=["score", "temperature", "score_reasons", "updated_at"])
    if became_hot:
        emit("lead.became_hot", lead_id=lead.pk, assignee_id=lead.assignee_id)
    publish_lead(lead)
    return lead


def lead_score_input(*, lead: Lead, fields: list[dict], now: datetime | None = None) -> engine.ScoreInput:
    """What the engine scores a lead from: its fields, the AI's bookkeeping (intents, quotes, "подумаю") and how
    long the client has been silent while our message waits."""
    now = now or timezone.now()
    mem = lead.ai_state or {}
    silent_days = 0.0
    if lead.waiting_since is not None:
        since = lead.last_inbound_at or lead.created_at or lead.waiting_since
        silent_days = max(0.0, (now - since).total_seconds() / 86400)
    call_soon = False
    if lead.call_requested:
        # "завтра в 11" read on the tenant's wall clock at the time the client asked
        zone = ZoneInfo(tenant_config_current().get("timezone") or "UTC")
        asked_at = (lead.last_inbound_at or now).astimezone(zone)
        moment = when_parse(lead.preferred_time, now=asked_at) if lead.preferred_time else asked_at
        call_soon = moment is not None and moment - asked_at <= timedelta(days=2)
    return engine.ScoreInput(
        fields=fields, data=lead.data or {}, city=lead.city, name=lead.name, call_requested=lead.call_requested,
        preferred_time=lead.preferred_time, refused=lead.refused, meeting=bool(mem.get("meeting")),
        quotes=mem.get("quotes") or {}, intents=set(mem.get("intents") or []),
        client_messages=int(mem.get("client_messages", 0)), stage_kind=lead.stage.kind,
        thinking=bool(mem.get("thinking")), silent_days=silent_days, call_soon=call_soon)


def lead_rescore(*, lead: Lead, fields: list[dict] | None = None, now: datetime | None = None,
                 actor: Actor = AI) -> Lead:
    """Recomputes score, temperature and reasons. A pure function of the lead and `now`: running it twice (a turn
    and a decay sweep, or two sweeps) changes nothing the second time."""
    fields = fields if fields is not None else tenant_config_current()["qualification"]
    score, temperature, reasons = engine.score_compute(lead_score_input(lead=lead, fields=fields, now=now))
    return lead_set_score(lead=lead, score=score, temperature=temperature, reasons=reasons, actor=actor)


def leads_decay_scores(*, now: datetime | None = None, limit: int = 2000) -> int:
    """The hourly decay: leads whose client has been silent a day or more (our message waiting) are rescored, so
    the score drops with the silence and the reason says so. Idempotent (see lead_rescore); returns how many
    changed."""
    now = now or timezone.now()
    fields = tenant_config_current()["qualification"]
    changed = 0
    # Past DECAY_MAX / COLD_AFTER_DAYS nothing changes any more: a month back bounds the work of every run.
    ids = list(Lead.objects.filter(waiting_since__lte=now - timedelta(days=1),
                                   waiting_since__gte=now - timedelta(days=30), refused=False)
               .exclude(stage__kind__in=(StageKind.WON, StageKind.LOST))
               .order_by("waiting_since").values_list("pk", flat=True)[:limit])
    for lead_id in ids:
        with transaction.atomic():
            lead = Lead.objects.select_for_update(of=("self",)).select_related("stage").filter(pk=lead_id).first()
            if lead is None:
                continue
            before = (lead.score, lead.temperature, lead.score_reasons)
            lead_rescore(lead=lead, fields=fields, now=now, actor=SYSTEM)
            changed += before != (lead.score, lead.temperature, lead.score_reasons)
    if changed:
        log.info("scores decayed leads=%s", changed)
    return changed


def lead_flag_human(*, lead: Lead, reason: str, actor: Actor) -> Lead:
    """Marks that a person should look at the lead (refusal, LLM failure, no phone...)."""
    if lead.needs_human and lead.needs_human_reason == reason[:300]:
        return lead
    was_flagged = lead.needs_human
    lead = lead_update(lead=lead, actor=actor, needs_human=True, needs_human_reason=reason[:300])
    if not was_flagged:
        emit("lead.needs_human", lead_id=lead.pk, reason=reason[:300])
    return lead


def message_preview(message) -> dict:
    """What the board and list show of a lead's last message."""
    at = message.created_at or timezone.now()
    return {"text": (message.text or message.caption or f"[{message.kind}]")[:200], "direction": message.direction,
            "author_kind": message.author_kind, "created_at": at.isoformat()}


def lead_touch_message(*, lead: Lead, message) -> None:
    """Keeps the lead's message preview, timers and "no answer" flag in step with a new message."""
    leads_touch_messages([(lead, message)])


_TOUCH_TYPES = {"last_message": "%s::jsonb[]", "inbound_count": "%s::int[]"}


def leads_touch_messages(pairs: list[tuple[Lead, Any]]) -> None:
    """`lead_touch_message` for many new messages at once (a sweep's chunk), applied in order: one UPDATE …
    FROM unnest(arrays) per set of changed columns (usually one), prepared — every message sent or received
    runs this. Callers writing many leads hold their row locks already."""
    changes: dict[int, dict[str, Any]] = {}
    for lead, message in pairs:
        now = message.created_at or timezone.now()
        fields: dict[str, Any] = {"last_message": message_preview(message), "last_message_at": now}
        earlier = changes.get(lead.pk, {})  # this call's own earlier change wins over a stale object
        if message.direction == "in":
            fields.update(last_inbound_at=now, waiting_since=None)
            # The client waits since their first unanswered message; inbound_count is added to, never set
            # (the UPDATE adds this batch's count to the row's own: a stale object cannot undercount).
            waiting = earlier["client_waiting_since"] if "client_waiting_since" in earlier \
                else lead.client_waiting_since
            fields["client_waiting_since"] = waiting or now
            fields["inbound_count"] = earlier.get("inbound_count", 0) + 1
            lead.inbound_count = (lead.inbound_count or 0) + 1
        else:
            fields.update(last_outbound_at=now, client_waiting_since=None)
            if (earlier["waiting_since"] if "waiting_since" in earlier else lead.waiting_since) is None:
                fields["waiting_since"] = now
        for key, value in fields.items():
            if key != "inbound_count":
                setattr(lead, key, value)
        changes[lead.pk] = {**earlier, **fields}
    groups: dict[tuple[str, ...], list[tuple[int, dict]]] = {}
    for lead_id, fields in changes.items():
        groups.setdefault(tuple(fields), []).append((lead_id, fields))
    updated_at = timezone.now()
    with server_bound_cursor() as cursor:
        for columns, rows in groups.items():
            types = ", ".join(_TOUCH_TYPES.get(k, "%s::timestamptz[]") for k in columns)
            sets = ", ".join(f"{k} = l.{k} + v.{k}" if k == "inbound_count" else f"{k} = v.{k}" for k in columns)
            cursor.execute(
                f"UPDATE {Lead._meta.db_table} AS l SET {sets}, updated_at = %s "
                f"FROM unnest(%s::bigint[], {types}) AS v(id, {', '.join(columns)}) WHERE l.id = v.id",
                [updated_at, [lead_id for lead_id, _ in rows],
                 *[[Jsonb(fields[k]) if k == "last_message" else fields[k] for _, fields in rows] for k in columns]])


def stage_delete(*, stage: Stage, move_to: Stage | None, actor: Actor) -> None:
    """Deletes a stage; its leads move to `move_to` (required when it has leads). A stage the AI moves leads into
    cannot go (rename or recolour it instead)."""
    if stage.kind in ENGINE_STAGE_KINDS:
        raise ValueError(STAGE_KEPT_MESSAGE)
    count = stage.leads.count()
    if count and move_to is None:
        raise ValueError(f"stage has {count} leads: say where they go (move_to)")
    if move_to is not None and move_to.pk == stage.pk:
        raise ValueError("move_to must be another stage")
    if not Stage.objects.exclude(pk=stage.pk).exists():
        raise ValueError("the last stage cannot be deleted")
    with transaction.atomic():
        for lead in stage.leads.select_related("stage"):
            lead_move(lead=lead, stage=move_to, actor=actor)
        stage.delete()
    log.info("stage=%s deleted moved=%s by=%s", stage.name, count, actor.label)


def stage_create(*, actor: Actor, name: str, color: str = "#64748b", position: int | None = None) -> Stage:
    """A custom stage; ValueError beyond MAX_STAGES (the board stays readable on a phone)."""
    with transaction.atomic():
        stages = list(Stage.objects.select_for_update().order_by("position", "id"))
        if len(stages) >= MAX_STAGES:
            raise ValueError(f"Не больше {MAX_STAGES} этапов / At most {MAX_STAGES} stages.")
        position = len(stages) if position is None else min(position, len(stages))
        stage = Stage(name=name, color=color, kind=StageKind.CUSTOM)
        stages.insert(position, stage)
        stage.position = position
        stage.save()
        _renumber(stages)
    log.info("stage=%s created by=%s", name, actor.label)
    return stage


def stage_update(*, stage: Stage, actor: Actor, name: str | None = None, color: str | None = None,
                 position: int | None = None) -> Stage:
    with transaction.atomic():
        if name is not None:
            stage.name = name
        if color is not None:
            stage.color = color
        stage.save(update_fields=["name", "color"])
        if position is not None:
            stages = [s for s in Stage.objects.select_for_update().order_by("position", "id") if s.pk != stage.pk]
            stages.insert(min(position, len(stages)), stage)
            _renumber(stages)
    stage.refresh_from_db()
    log.info("stage=%s updated by=%s", stage.pk, actor.label)
    return stage


def _renumber(stages: list[Stage]) -> None:
    for index, stage in enumerate(stages):
        if stage.position != index:
            Stage.objects.filter(pk=stage.pk).update(position=index)
            stage.position = index


def stages_seed_default() -> list[Stage]:
    """A new tenant's pipeline (leads.models.DEFAULT_STAGES), in order."""
    return Stage.objects.bulk_create([Stage(kind=kind, name=label, color=color, position=i)
                                      for i, (kind, label, color) in enumerate(DEFAULT_STAGES)])


def lead_mark_read(*, lead: Lead, user) -> int:
    """The user opened the lead: everything the client wrote so far counts as read by them. Returns the count read
    (one upsert; the lead's count read fresh, so a message arriving meanwhile is not skipped)."""
    count = Lead.objects.filter(pk=lead.pk).values_list("inbound_count", flat=True).first() or 0
    LeadRead.objects.bulk_create([LeadRead(user=user, lead=lead, read_count=count, read_at=timezone.now())],
                                 update_conflicts=True, unique_fields=["user", "lead"],
                                 update_fields=["read_count", "read_at"])
    return count
# --- CRM basics: leads entered by hand, tags, bulk actions, CSV import (issue 16) ----------------------------------

BULK_MAX_IDS = 500


class DuplicatePhone(Exception):
    """A lead with this phone exists already: the caller offers it instead of creating a second one."""

    def __init__(self, lead: Lead):
        super().__init__(f"lead {lead.pk} has this phone")
        self.lead = lead


def _tags_save(*, lead: Lead, tags: list[str], auto: list[str], actor: Actor,
               declined: list[str] | None = None) -> Lead:
    before = list(lead.tags or [])
    lead.tags, lead.tags_auto = tags, [t for t in auto if t in tags]
    fields = ["tags", "tags_auto", "updated_at"]
    if declined is not None:
        lead.ai_state = {**(lead.ai_state or {}), "tags_declined": declined[-50:]}
        fields.append("ai_state")
    lead.save(update_fields=fields)
    if before != tags:
        event_add(lead=lead, actor=actor, kind="tags_changed", field="tags", before=before, after=tags)
        log.info("lead=%s tags %s by=%s", lead.pk, ",".join(tags) or "-", actor.label)
        publish_lead(lead)
    return lead


def lead_tags_set(*, lead: Lead, tags: list[str], actor: Actor) -> Lead:
    """A person's edit of the tag chips. A tag the AI put there and the person kept stays marked auto; one the
    person removed the AI does not put back (ai_state.tags_declined)."""
    tags = tags_clean(tags)
    auto = list(lead.tags_auto or [])
    declined_before = list((lead.ai_state or {}).get("tags_declined") or [])
    declined = [t for t in declined_before if t not in tags]  # re-added by the person: allowed again
    declined += [t for t in auto if t not in tags and t not in declined]
    return _tags_save(lead=lead, tags=tags, auto=[t for t in auto if t in tags], actor=actor,
                      declined=declined if declined != declined_before else None)


def lead_tags_add(*, lead: Lead, tags: list[str], actor: Actor, auto: bool = False) -> Lead:
    """Adds tags (a bulk action, an import, or the AI from what the client wrote: `auto`). The AI's are marked
    auto and skip the ones a person removed; a person adding an auto tag makes it theirs. Tags beyond
    TAGS_PER_LEAD are left out."""
    if auto:  # the AI's words never fail a turn: a tag that does not pass is left out
        new = [t for tag in tags for t in _tag_or_nothing(tag)]
    else:
        new = tags_clean(tags)
    current, marked = list(lead.tags or []), list(lead.tags_auto or [])
    if auto:
        declined = set((lead.ai_state or {}).get("tags_declined") or [])
        new = [t for t in new if t not in declined]
    added = [t for t in new if t not in current][:max(0, TAGS_PER_LEAD - len(current))]
    if auto:
        marked += added
    else:
        marked = [t for t in marked if t not in new]
    if not added and marked == list(lead.tags_auto or []):
        return lead
    return _tags_save(lead=lead, tags=current + added, auto=marked, actor=actor)


def _tag_or_nothing(tag: str) -> list[str]:
    try:
        return tags_clean([tag])
    except ValueError:
        return []


def lead_create_by_hand(*, user: User, name: str = "", phone: str = "", channel: str = Channel.WHATSAPP,
                        source: str = "", city: str = "", assignee_id: int | None = None, stage_id: int | None = None,
                        tags: list[str] | None = None) -> Lead:
    """A lead a person enters (a call, a walk-in). The AI does not greet it (`lead.created` with greet=False); a
    manager's lead is theirs. Raises DuplicatePhone when a lead has this phone, ValidationError for bad input,
    PermissionDenied for a manager assigning someone else."""
    name, city, source = name.strip(), city.strip(), source.strip()
    if not name and not phone.strip():
        raise ValidationError({"name": ["Нужно имя или телефон / A name or a phone is needed"]})
    try:
        phone = phone_clean(phone) if phone.strip() else ""
    except ValueError as exc:
        raise ValidationError({"phone": [str(exc)]}) from None
    try:
        tags = tags_clean(tags or [])
    except ValueError as exc:
        raise ValidationError({"tags": [str(exc)]}) from None
    if phone:
        existing = Lead.objects.filter(phone=phone).order_by("id").first()
        if existing is not None:
            raise DuplicatePhone(existing)
    stage = None
    if stage_id is not None:
        stage = Stage.objects.filter(pk=stage_id).first()
        if stage is None:
            raise ValidationError({"stage": ["Нет такого этапа / No such stage"]})
    assignee = None
    if assignee_id is not None:
        assignee = User.objects.filter(pk=assignee_id, is_active=True).exclude(role="").first()
        if assignee is None:
            raise ValidationError({"assignee": ["Нет такого активного сотрудника / No such active user"]})
    if user.role == Role.MANAGER:
        if assignee not in (None, user):
            raise PermissionDenied("Менеджер может назначить заявку только на себя.")
        assignee = user  # a manager who sees only their own leads must see the one they entered
    actor = user_actor(user)
    with transaction.atomic():
        # A Telegram or Instagram identity is a chat id, not a phone: the client's first message there makes its
        # own identity (and merges by phone when the channel shares one).
        lead = lead_create(actor=actor, name=name, phone=phone, city=city, source=source or "manual",
                           channel=channel, phone_identity=channel in (Channel.WHATSAPP, Channel.SANDBOX))
        if assignee is not None:
            lead_assign(lead=lead, assignee=assignee, actor=actor)
        if stage is not None and stage.pk != lead.stage_id:
            lead_move(lead=lead, stage=stage, actor=actor)
        if tags:
            lead_tags_add(lead=lead, tags=tags, actor=actor)
        emit("lead.created", lead_id=lead.pk, source="manual", greet=False)
    return lead


BULK_ACTIONS = ("assign", "move", "tag")


def leads_bulk(*, user: User, lead_ids: list[int], action: str, assignee_id: int | None = None,
               stage_id: int | None = None, tag: str = "") -> dict[str, int]:
    """One action on many leads from the list: assign, move to a stage, or add a tag. Only the leads the user sees
    are touched (the others count as skipped); each lead gets its own timeline entry and domain event, as a
    change on its card would. ValidationError for bad input, PermissionDenied for a manager assigning someone
    else. Returns {"updated", "unchanged", "skipped"}."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": [f"One of {', '.join(BULK_ACTIONS)}"]})
    ids = list(dict.fromkeys(lead_ids))[:BULK_MAX_IDS]
    actor = user_actor(user)
    stage = assignee = None
    tags: list[str] = []
    if action == "move":
        stage = Stage.objects.filter(pk=stage_id).first() if stage_id is not None else None
        if stage is None:
            raise ValidationError({"stage": ["Нет такого этапа / No such stage"]})
    elif action == "assign":
        if assignee_id is not None:
            assignee = User.objects.filter(pk=assignee_id, is_active=True).exclude(role="").first()
            if assignee is None:
                raise ValidationError({"assignee": ["Нет такого активного сотрудника / No such active user"]})
        if user.role == Role.MANAGER and assignee not in (None, user):
            raise PermissionDenied("Менеджер может назначить заявку только на себя.")
    else:
        try:
            tags = tags_clean([tag])
        except ValueError as exc:
            raise ValidationError({"tag": [str(exc)]}) from None
        if not tags:
            raise ValidationError({"tag": ["Пустой тег / An empty tag"]})
    updated = unchanged = 0
    with transaction.atomic():
        leads = list(leads_visible_to(user=user).select_for_update(of=("self",)).filter(pk__in=ids).order_by("id"))
        for lead in leads:
            before = (lead.stage_id, lead.stage_locked, lead.assignee_id, list(lead.tags or []))
            if action == "move":
                lead_move(lead=lead, stage=stage, actor=actor)
            elif action == "assign":
                lead_assign(lead=lead, assignee=assignee, actor=actor)
            else:
                lead_tags_add(lead=lead, tags=tags, actor=actor)
            changed = before != (lead.stage_id, lead.stage_locked, lead.assignee_id, list(lead.tags or []))
            updated += changed
            unchanged += not changed
    log.info("leads bulk %s updated=%s unchanged=%s skipped=%s by=%s", action, updated, unchanged,
             len(ids) - len(leads), actor.label)
    return {"updated": updated, "unchanged": unchanged, "skipped": len(ids) - len(leads)}


IMPORT_FILLS = ("name", "email", "city", "source")


def _leads_write_import_fills(leads: list[Lead]) -> None:
    """One UPDATE … FROM unnest(arrays) of the fields an import fills (Django's bulk_update builds a CASE per row
    and column: seconds for thousands of rows)."""
    with server_bound_cursor() as cursor:
        cursor.execute(
            f"UPDATE {Lead._meta.db_table} AS l SET name = v.name, email = v.email, city = v.city, source = v.source, "
            "tags = v.tags, tags_auto = v.tags_auto, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::jsonb[]) "
            "AS v(id, name, email, city, source, tags, tags_auto) WHERE l.id = v.id",
            [timezone.now(), [lead.pk for lead in leads], *[[getattr(lead, name) for lead in leads]
                                                            for name in IMPORT_FILLS],
             [Jsonb(list(lead.tags or [])) for lead in leads], [Jsonb(list(lead.tags_auto or [])) for lead in leads]])


def leads_import(*, user: User, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Commits checked, de-duplicated CSV rows (leads.csvio): a row whose phone a lead has already fills that lead's
    empty fields and adds its tags (nothing is overwritten); the others become new leads in the first stage,
    unassigned, in one INSERT each for leads, their timeline entries and identities. The AI does not greet
    imported leads and no `lead.created` goes out (a thousand greetings or notifications at once is not what an
    import means); the PWA reloads its list. Returns {"created", "updated", "unchanged"}."""
    actor = user_actor(user)
    phones = {row["phone"] for row in rows if row.get("phone")}
    updated = unchanged = 0
    fresh: list[Lead] = []
    touched: list[Lead] = []
    events: list[LeadEvent] = []
    with transaction.atomic():
        existing = leads_by_phone(phones=phones, lock=True)  # merged fields are written back whole: no lost update
        stage = stage_of_kind(StageKind.NEW)
        for row in rows:
            lead = existing.get(row.get("phone") or "")
            if lead is None:
                fresh.append(Lead(name=row.get("name", ""), phone=row.get("phone", ""), email=row.get("email", ""),
                                  city=row.get("city", ""), source=row.get("source") or "import",
                                  channel=Channel.WHATSAPP, provider=Channel.WHATSAPP, stage=stage,
                                  tags=list(row.get("tags") or [])[:TAGS_PER_LEAD]))
                continue
            changed = []
            for name in IMPORT_FILLS:
                if row.get(name) and not getattr(lead, name):
                    events.append(LeadEvent(lead=lead, kind="field_changed", actor_kind=actor.kind, actor_user=user,
                                            field=name, before="", after=row[name], text="CSV"))
                    setattr(lead, name, row[name])
                    changed.append(name)
            tags_before = list(lead.tags or [])
            room = max(0, TAGS_PER_LEAD - len(tags_before))
            added = [t for t in row.get("tags") or [] if t not in tags_before][:room]
            if added:
                lead.tags = tags_before + added
                lead.tags_auto = [t for t in lead.tags_auto or [] if t not in added]  # a person's tags now
                events.append(LeadEvent(lead=lead, kind="tags_changed", actor_kind=actor.kind, actor_user=user,
                                        field="tags", before=tags_before, after=lead.tags, text="CSV"))
                changed.append("tags")
            if changed:
                touched.append(lead)
            else:
                unchanged += 1
        # The merges in a few statements (a 20,000-row file may hit as many leads): their timeline entries in one
        # INSERT, the leads in batched UPDATEs, one live event per lead after commit.
        if touched:
            _leads_write_import_fills(touched)
            insert_rows(events)
            publish_leads([lead.pk for lead in touched])
            updated = len(touched)
        if fresh:
            insert_rows(fresh)
            insert_rows([LeadEvent(lead=lead, kind="created", actor_kind=actor.kind, actor_user=user,
                                   text="Импорт из CSV") for lead in fresh])
            identities = [LeadIdentity(channel=Channel.WHATSAPP, identity=lead.phone, lead=lead)
                          for lead in fresh if lead.phone]
            LeadIdentity.objects.bulk_create(identities, ignore_conflicts=True)
    log.info("leads imported created=%s updated=%s unchanged=%s by=%s", len(fresh), updated, unchanged, actor.label)
    return {"created": len(fresh), "updated": updated, "unchanged": unchanged}
