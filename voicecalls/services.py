"""Writes for AI voice calls through Retell (`voice_calls.retell`): a lead who asks for a call gets an outbound AI
call with its context; Retell's call webhooks put the transcript and summary on the lead's timeline, the fields the
call extracted on its card, and a call nobody answered becomes a follow-up in the chat (`call.missed`).

The timeline is the lead's events (leads.LeadEvent): `call_placed` (after: call_id, to), `call_failed`,
`call_started`, `call_ended` (text: the transcript), `call_summary` (text: summary and transcript, after: the
extracted fields), `call_missed`. A webhook is trusted only for a call we placed for that very lead."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from conversations.models import InboundEvent
from core.events import emit
from core.tasks import enqueue
from integrations import retell
from integrations.base import SendError, WebhookError
from leads import services as lead_services
from leads.models import Lead, LeadEvent
from tenants.selectors import tenant_config_current

log = logging.getLogger("buildcrm.voicecalls")

PROVIDER = retell.PROVIDER
# One call per request: a second request (or a duplicate task) within this time places none.
CALL_DEDUP = timedelta(minutes=15)
RETRY_SECONDS = 30


class CallRetry(Exception):
    """Retell is down or busy: the task tries again in `delay` seconds."""

    def __init__(self, delay: float, detail: str) -> None:
        super().__init__(detail)
        self.delay = delay


def retell_config() -> dict:
    """The current tenant's `voice_calls.retell`, secrets decrypted."""
    voice = tenant_config_current().get("voice_calls")
    section = voice.get("retell") if isinstance(voice, dict) else None
    return section if isinstance(section, dict) else {}


def calls_enabled(config: dict) -> bool:
    """The tenant gave what a call needs and did not switch AI calls off (`enabled`: false; absent counts as on, as
    the contract's section has no such key)."""
    return bool(config.get("enabled", True) is not False and config.get("api_key") and config.get("from_number"))


def call_queue(*, lead_id: int) -> bool:
    """Queues the AI call of a lead that asked for one; False when calls are off or the lead has no phone."""
    if not calls_enabled(retell_config()):
        return False
    lead = Lead.objects.filter(pk=lead_id).only("pk", "phone").first()
    if lead is None or not lead.phone:
        log.info("lead=%s call requested: no phone, no AI call", lead_id)
        return False
    try:
        enqueue("voicecalls.place_call", lead_id)
    except Exception as exc:  # the broker is down: the request stays on the card for a person
        log.warning("lead=%s AI call not queued: %s", lead_id, exc)
        return False
    return True


def _variables(lead: Lead) -> dict[str, str]:
    """The lead's context for the agent's prompt (Retell's dynamic variables are strings)."""
    cfg = tenant_config_current()
    labels = {f.get("key"): f.get("label") or f.get("key") for f in cfg.get("qualification") or []}
    known = "; ".join(f"{labels.get(k, k)}: {v}" for k, v in (lead.data or {}).items() if v not in (None, "", []))
    return {
        "lead_id": str(lead.pk),
        "name": lead.name or "",
        "city": lead.city or "",
        "company": str(cfg.get("company") or ""),
        "language": str(cfg.get("language") or "ru"),
        "preferred_time": lead.preferred_time or "",
        "known": known[:2000],
    }


def call_place(*, lead_id: int, final: bool = False) -> str:
    """Places the AI call: "placed", "skipped" (calls off, no phone, a call placed moments ago) or "failed" (written
    on the timeline). A retryable failure raises CallRetry unless this is the `final` attempt."""
    config = retell_config()
    lead = Lead.objects.filter(pk=lead_id).first()
    if not calls_enabled(config) or lead is None or not lead.phone:
        return "skipped"
    if LeadEvent.objects.filter(lead=lead, kind="call_placed", created_at__gte=timezone.now() - CALL_DEDUP).exists():
        return "skipped"
    try:
        call_id = retell.create_phone_call(
            config, to_number=lead.phone, metadata={"lead_id": lead.pk}, variables=_variables(lead)
        )
    except SendError as exc:
        if exc.retryable and not final:
            log.warning("lead=%s AI call retry: %s", lead.pk, exc.detail)
            raise CallRetry(exc.retry_after or RETRY_SECONDS, exc.detail) from None
        log.warning("lead=%s AI call failed: %s", lead.pk, exc.detail)
        with transaction.atomic():
            lead_services.event_add(lead=lead, actor=lead_services.SYSTEM, kind="call_failed", text=exc.detail[:2000])
            lead_services.publish_lead(lead)
        return "failed"
    with transaction.atomic():
        lead_services.event_add(
            lead=lead, actor=lead_services.AI, kind="call_placed", after={"call_id": call_id, "to": lead.phone}
        )
        lead_services.publish_lead(lead)
    log.info("lead=%s AI call placed call_id=%s", lead.pk, call_id)
    return "placed"


# --- Retell's webhooks ----------------------------------------------------------------------------------------


def retell_webhook(body: bytes, headers: Mapping[str, str]) -> HttpResponse:
    """The body of POST /webhooks/retell/<token>/ (the view checked method and size and set the tenant): verified,
    stored once per (call, event) and applied; a duplicate or an event we do not act on is a 200 too."""
    try:
        events = retell.parse_webhook(body, headers, retell_config())
    except WebhookError as exc:
        log.info("webhook retell refused %s: %s", exc.status_code, exc.detail)
        return JsonResponse({"detail": exc.detail}, status=exc.status_code)
    if not events:  # transcript_updated, transfers, …: nothing the card holds
        return JsonResponse({"ok": True, "ignored": True})
    event = events[0]
    payload = {
        "event": event.event,
        "call_id": event.call_id,
        "lead_id": event.lead_id,
        "status": event.status,
        "disconnection_reason": event.disconnection_reason,
        "duration_ms": event.duration_ms,
        "fields": event.fields,
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                stored = InboundEvent.objects.create(
                    provider=PROVIDER,
                    event_id=f"{event.call_id}:{event.event}"[:200],
                    payload=json.loads(json.dumps(payload)),
                )
        except IntegrityError:  # Retell retried: applied once already
            return JsonResponse({"ok": True, "duplicate": True})
        error = call_event_apply(event=event)
        InboundEvent.objects.filter(pk=stored.pk).update(processed_at=timezone.now(), error=error[:2000])
    return JsonResponse({"ok": True})


def call_event_apply(*, event: retell.CallEvent) -> str:
    """One call event onto its lead; returns why it was ignored ("" when applied)."""
    lead = Lead.objects.select_for_update(of=("self",)).filter(pk=event.lead_id).first() if event.lead_id else None
    placed = (
        lead is not None
        and LeadEvent.objects.filter(lead=lead, kind="call_placed", after__call_id=event.call_id).exists()
    )
    if not placed:
        log.info("retell %s of call %s: no call of ours to lead %s, ignored", event.event, event.call_id, event.lead_id)
        return "not a call we placed for this tenant's lead"
    ids = {"call_id": event.call_id}
    if event.event == "call_started":
        lead_services.event_add(lead=lead, actor=lead_services.AI, kind="call_started", after=ids)
    elif event.event == "call_ended":
        if event.missed:
            _missed(lead, event)
        else:
            lead_services.event_add(
                lead=lead,
                actor=lead_services.AI,
                kind="call_ended",
                text=event.transcript,
                after={**ids, "duration_ms": event.duration_ms, "reason": event.disconnection_reason},
            )
    else:  # call_analyzed
        text = "\n\n".join(part for part in (event.summary, event.transcript) if part)
        lead_services.event_add(
            lead=lead,
            actor=lead_services.AI,
            kind="call_summary",
            text=text,
            after={**ids, "summary": event.summary, "fields": event.fields},
        )
        _fields_apply(lead, event.fields)
        if event.missed:
            _missed(lead, event)
    lead_services.publish_lead(lead)
    log.info("lead=%s retell %s call_id=%s", lead.pk, event.event, event.call_id)
    return ""


def _missed(lead: Lead, event: retell.CallEvent) -> None:
    """Once per call: on the timeline, and `call.missed` (follow-ups: a message in the chat instead)."""
    if LeadEvent.objects.filter(lead=lead, kind="call_missed", after__call_id=event.call_id).exists():
        return
    reason = event.disconnection_reason or ("voicemail" if event.in_voicemail else event.status)
    lead_services.event_add(
        lead=lead,
        actor=lead_services.SYSTEM,
        kind="call_missed",
        text=reason,
        after={"call_id": event.call_id, "reason": reason},
    )
    emit("call.missed", lead_id=lead.pk, call_id=event.call_id, reason=reason)


def _fields_apply(lead: Lead, fields: dict) -> None:
    """What the call extracted, onto the card: the tenant's qualification keys into `data`, a name or city the card
    lacks; anything else stays on the timeline only."""
    keys = {f.get("key") for f in tenant_config_current().get("qualification") or []}
    data = {key: value for key, value in fields.items() if key in keys and value not in (None, "")}
    plain = {
        key: str(fields[key])[:150]
        for key in ("name", "city")
        if isinstance(fields.get(key), str) and fields[key].strip() and not getattr(lead, key)
    }
    if data or plain:
        lead_services.lead_update(lead=lead, actor=lead_services.AI, data=data or None, **plain)
