"""amoCRM intake: the webhook is stored and acknowledged at once; a worker reads the lead back through
API v4, creates our lead (phone from the main contact's PHONE, the lead's free text as `source_info`)
and lets the AI manager greet it over the tenant's outbound channel.

amoCRM webhooks carry no signature: trust comes from the secret URL key, the account id that must match
the tenant's, and reading the lead back through the API with the tenant's own token.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qs

from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from conversations.models import InboundEvent
from integrations.amocrm import (
    AmoApiError,
    AmoLeadEvent,
    AmoWebhookError,
    contact_phone,
    lead_contact_ids,
    lead_info_text,
    parse_webhook,
)
from integrations.amocrm_sync import _fresh_tenant, amocrm_client, amocrm_config, amocrm_configured
from integrations.models import AmoLeadLink
from leads import services as lead_services
from leads.models import Lead

log = logging.getLogger("buildcrm.amocrm")

PROVIDER = "amocrm"
# tenant `outbound_channel` → (lead channel, send provider); None: cannot start a dialog by phone.
OUTBOUND = {
    "sandbox": ("sandbox", "sandbox"),
    "chatflow": ("whatsapp", "chatflow"),
    "whatsapp_cloud": ("whatsapp", "whatsapp"),
    "telegram": None,
}
NO_PHONE_REASON = "amoCRM: у контакта нет телефона — написать клиенту некуда"
NO_CHANNEL_REASON = "amoCRM: канал для новых лидов ({channel}) не умеет начать диалог по телефону"


# --- webhook ---------------------------------------------------------------------------------------


def _event_key(account_id: int, event: AmoLeadEvent) -> str:
    key = f"{account_id}:{event.lead_id}:{event.kind}"
    return f"{key}:{event.status_id}" if event.kind == "status" and event.status_id is not None else key


def amocrm_webhook(body: bytes) -> HttpResponse:
    """The body of POST /webhooks/amocrm/<key>/ (the view checked method and size and set the tenant).
    200 once every lead event is stored (also for another account: recorded and ignored, because amoCRM
    switches off webhooks that keep failing); 400 for a body that is not an amoCRM webhook."""
    tenant = connection.tenant
    try:
        hook = parse_webhook(body)
    except AmoWebhookError as exc:
        log.info("tenant=%s webhook amocrm refused 400: %s", tenant.slug, exc.detail)
        return JsonResponse({"detail": exc.detail}, status=400)
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    expected = ((tenant.config or {}).get("amocrm") or {}).get("account_id")
    mismatch = "" if expected and int(expected) == hook.account_id else (
        f"account {hook.account_id} is not this tenant's amoCRM account ({expected or 'not configured'})")

    queued: list[int] = []
    with transaction.atomic():
        for event in hook.events:
            payload = {"account_id": hook.account_id, "subdomain": hook.subdomain, "kind": event.kind,
                       "lead_id": event.lead_id, "status_id": event.status_id, "form": form}
            key = _event_key(hook.account_id, event)
            try:
                with transaction.atomic():
                    stored = InboundEvent.objects.create(
                        provider=PROVIDER, event_id=key, payload=payload, error=mismatch,
                        processed_at=timezone.now() if mismatch else None)
            except IntegrityError:  # amoCRM resends: the stored event stands; requeue it if unfinished
                stored = InboundEvent.objects.get(provider=PROVIDER, event_id=key)
            if stored.processed_at is None:
                queued.append(stored.pk)

        def enqueue(ids: list[int] = queued) -> None:
            from integrations.tasks import amocrm_intake_task

            for event_pk in ids:
                amocrm_intake_task.delay(event_pk)

        if queued:
            transaction.on_commit(enqueue)

    from tenants.services import health_record

    health_record(tenant_id=tenant.pk, inbound_provider=PROVIDER)
    if mismatch:
        log.warning("tenant=%s webhook amocrm ignored: %s", tenant.slug, mismatch)
        return JsonResponse({"ok": True, "ignored": len(hook.events), "detail": mismatch})
    log.info("tenant=%s webhook amocrm events=%s queued=%s", tenant.slug, len(hook.events), len(queued))
    return JsonResponse({"ok": True, "queued": len(queued)})


# --- processing (worker) ---------------------------------------------------------------------------


def _finish(event: InboundEvent, error: str = "") -> None:
    InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), error=error[:2000])


def amocrm_intake_failed(*, inbound_event_id: int, detail: str, final: bool = False) -> str:
    """The intake of a stored event failed: the event keeps the error (`final`: and counts as processed), the
    admin health view shows it. Without `final` (the task's retries ran out) the event stays unprocessed."""
    from tenants.services import health_record

    fields = {"error": detail[:2000], **({"processed_at": timezone.now()} if final else {})}
    InboundEvent.objects.filter(pk=inbound_event_id, provider=PROVIDER).update(**fields)
    health_record(tenant_id=connection.tenant.pk, error=f"amocrm intake: {detail}", source=PROVIDER)
    log.warning("tenant=%s amocrm event=%s intake failed: %s", connection.tenant.schema_name, inbound_event_id, detail)
    return "failed"


def amocrm_intake_process(*, inbound_event_id: int) -> str:
    """Turns one stored amoCRM lead event into our lead (once) and starts the first contact.
    Returns what happened: created, linked, known, missing, ignored, failed, skipped.
    Raises AmoApiError(retryable=True) when amoCRM is busy or down, so the task retries later."""
    event = InboundEvent.objects.filter(pk=inbound_event_id, provider=PROVIDER).first()
    if event is None or event.processed_at is not None:
        return "skipped"
    payload = event.payload or {}
    account_id, amo_lead_id = int(payload.get("account_id") or 0), int(payload.get("lead_id") or 0)
    tenant = _fresh_tenant(connection.tenant.pk)
    config = amocrm_config(tenant)
    if not config.get("account_id") or int(config["account_id"]) != account_id:
        _finish(event, f"account {account_id} is not this tenant's amoCRM account")
        return "ignored"
    if AmoLeadLink.objects.filter(account_id=account_id, amo_lead_id=amo_lead_id).exists():
        _finish(event)
        return "known"
    if not amocrm_configured(config):
        return amocrm_intake_failed(inbound_event_id=event.pk, final=True,
                                    detail="amoCRM is not configured (base_url and a token are needed)")

    try:
        with amocrm_client(tenant=tenant, config=config) as client:
            amo_lead = client.get_lead(amo_lead_id)
            if amo_lead is None:
                _finish(event, f"lead {amo_lead_id} does not exist in amoCRM")
                log.info("tenant=%s amocrm lead=%s missing: ignored", tenant.slug, amo_lead_id)
                return "missing"
            phone, name = None, ""
            for contact_id in lead_contact_ids(amo_lead):
                contact = client.get_contact(contact_id)
                if not contact:
                    continue
                name = name or str(contact.get("name") or "").strip()
                phone = contact_phone(contact)
                if phone:
                    name = str(contact.get("name") or "").strip() or name
                    break
    except AmoApiError as exc:
        if not exc.retryable:
            return amocrm_intake_failed(inbound_event_id=event.pk, detail=exc.detail, final=True)
        InboundEvent.objects.filter(pk=event.pk).update(error=exc.detail[:2000])  # kept while the task retries
        raise

    info = lead_info_text(amo_lead, config.get("info_field") or "")
    outbound = (tenant.config or {}).get("outbound_channel") or "sandbox"
    with transaction.atomic():
        lead, outcome = _lead_from_amo(account_id=account_id, amo_lead_id=amo_lead_id, phone=phone, name=name,
                                       info=info, outbound=outbound)
        _finish(event)
        if outcome == "created" and phone and OUTBOUND.get(outbound):
            lead_id = lead.pk
            transaction.on_commit(lambda: _first_contact(lead_id))
    log.info("lead=%s amocrm lead=%s %s phone=%s by=system", lead.pk, amo_lead_id, outcome, "yes" if phone else "no")
    return outcome


def _lead_from_amo(*, account_id: int, amo_lead_id: int, phone: str | None, name: str, info: str,
                   outbound: str) -> tuple[Lead, str]:
    """Under a per-amoCRM-lead lock: the linked lead if any, else the lead with this phone (linked, no
    second greeting), else a new lead. Must run inside a transaction (the lock lasts until commit)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       [f"{connection.schema_name}:amocrm:{account_id}:{amo_lead_id}"])
    link = AmoLeadLink.objects.select_related("lead").filter(account_id=account_id, amo_lead_id=amo_lead_id).first()
    if link is not None:
        return link.lead, "known"
    external_id = str(amo_lead_id)
    existing = Lead.objects.filter(phone=phone).order_by("id").first() if phone else None
    if existing is not None:
        AmoLeadLink.objects.create(lead=existing, account_id=account_id, amo_lead_id=amo_lead_id)
        if not existing.external_id:
            Lead.objects.filter(pk=existing.pk).update(external_id=external_id)
            existing.external_id = external_id
        if info and not existing.source_info:
            lead_services.lead_update(lead=existing, actor=lead_services.SYSTEM, source_info=info)
        lead_services.event_add(lead=existing, actor=lead_services.SYSTEM, kind="amocrm_linked",
                                after={"amo_lead_id": amo_lead_id},
                                text=f"Сделка amoCRM #{amo_lead_id} с тем же телефоном: диалог уже идёт")
        return existing, "linked"

    route = OUTBOUND.get(outbound)
    channel, provider = route or ("whatsapp", "whatsapp")
    lead = lead_services.lead_create(
        actor=lead_services.SYSTEM, phone=phone or "", name=name[:150], source=PROVIDER, channel=channel,
        provider=provider, source_info=info, external_id=external_id,
    )
    AmoLeadLink.objects.create(lead=lead, account_id=account_id, amo_lead_id=amo_lead_id)
    if not phone:
        lead_services.lead_flag_human(lead=lead, reason=NO_PHONE_REASON, actor=lead_services.SYSTEM)
    elif route is None:
        lead_services.lead_flag_human(lead=lead, reason=NO_CHANNEL_REASON.format(channel=outbound),
                                      actor=lead_services.SYSTEM)
    return lead, "created"


def _first_contact(lead_id: int) -> None:
    from aiagent.services import ai_first_contact

    ai_first_contact(lead_id=lead_id)
