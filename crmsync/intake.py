"""amoCRM intake: the webhook is stored and acknowledged at once; a worker reads the lead back through
API v4, creates our lead (phone from the main contact's PHONE, the lead's free text as `source_info`)
and greets it over the tenant's outbound channel (by default its configured WhatsApp channel).

amoCRM webhooks carry no signature: trust comes from the amoCRM webhook URL's own secret token, the account
(id, or subdomain when the hook has no id) that must be the tenant's, and reading the lead back through the API
with the tenant's own token. Whatever else amoCRM sends (contacts, updates, deletions, notes, unsorted…) and
events with unusable ids are recorded and answered 200: amoCRM switches off webhooks that keep failing.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from conversations.models import InboundEvent
from conversations.services import message_send
from core.events import emit
from core.tasks import enqueue
from crmsync.models import AmoLeadLink
from crmsync.services import _fresh_tenant, amocrm_client, amocrm_configured
from integrations.amocrm import (
    AmoApiError,
    AmoLeadEvent,
    AmoWebhook,
    AmoWebhookError,
    account_mismatch,
    amo_id,
    contact_phone,
    lead_contact_ids,
    lead_info_text,
    parse_webhook,
)
from integrations.registry import channel as channel_of
from leads import services as lead_services
from leads.models import Lead
from leads.selectors import ai_silence_reason
from tenants.selectors import tenant_config_get
from tenants.services import health_record

log = logging.getLogger("buildcrm.amocrm")
WINDOW = timedelta(hours=24)  # WhatsApp Cloud API: free text only within 24 h of the client's last message

PROVIDER = "amocrm"
# tenant `outbound_channel` → (lead channel, send provider); None: cannot start a dialog by phone.
OUTBOUND = {
    "sandbox": ("sandbox", "sandbox"),
    "chatflow": ("whatsapp", "chatflow"),
    "whatsapp_cloud": ("whatsapp", "whatsapp"),
    "wwebjs": ("whatsapp", "wwebjs"),  # WhatsApp Web through our bridge: an ordinary number, may write first
    "telegram": None,
}
NO_PHONE_REASON = "amoCRM: у контакта нет телефона — написать клиенту некуда"
NO_CHANNEL_REASON = "amoCRM: канал для новых лидов ({channel}) не умеет начать диалог по телефону"
NO_TEMPLATE_REASON = ("amoCRM: WhatsApp Cloud API не даёт написать первым без одобренного шаблона — "
                      "задайте channels.whatsapp_cloud.greeting_template или напишите клиенту сами")


def outbound_channel(config: dict) -> str:
    """The channel new amoCRM leads are greeted over (`config`: the tenant's whole configuration).
    `outbound_channel` names it; `auto` (the default) is the configured WhatsApp channel — ChatFlow first (it may
    write first with the tenant's whole greeting), then the WhatsApp Web bridge (the same), then the Cloud API (a
    template) — else the sandbox."""
    chosen = config.get("outbound_channel") or "auto"
    if chosen != "auto":
        return chosen
    channels = config.get("channels") or {}
    chatflow, cloud = channels.get("chatflow") or {}, channels.get("whatsapp_cloud") or {}
    if chatflow.get("token") and chatflow.get("instance_id"):
        return "chatflow"
    if channel_of("wwebjs").configured(channels.get("wwebjs")):
        return "wwebjs"
    if cloud.get("phone_number_id") and cloud.get("access_token"):
        return "whatsapp_cloud"
    return "sandbox"


# --- webhook ---------------------------------------------------------------------------------------


def _event_key(account: int | str, event: AmoLeadEvent) -> str:
    key = f"{account}:{event.lead_id}:{event.kind}"
    return f"{key}:{event.status_id}" if event.kind == "status" and event.status_id is not None else key


def _store(*, event_id: str, payload: dict, error: str = "", done: bool = False) -> InboundEvent:
    """Stores the event once (amoCRM resends: the stored event stands)."""
    try:
        with transaction.atomic():
            return InboundEvent.objects.create(provider=PROVIDER, event_id=event_id, payload=payload,
                                               error=error[:2000], processed_at=timezone.now() if done else None)
    except IntegrityError:
        return InboundEvent.objects.get(provider=PROVIDER, event_id=event_id)


def _not_acted_on(hook: AmoWebhook) -> str:
    parts = []
    if hook.ignored:
        parts.append("not acted on: " + ", ".join(hook.ignored[:20]))
    if hook.skipped:
        parts.append("skipped: " + "; ".join(hook.skipped[:20]))
    return " | ".join(parts) or "no lead events"


def amocrm_webhook(body: bytes) -> HttpResponse:
    """The body of POST /webhooks/amocrm/<token>/ (the view checked method and size and set the tenant).
    200 once every lead event is stored, and the rest of the hook recorded (also for another account:
    recorded and ignored, because amoCRM switches off webhooks that keep failing); 400 only for a body that is
    not an amoCRM webhook at all."""
    tenant = connection.tenant
    try:
        hook = parse_webhook(body)
    except AmoWebhookError as exc:
        log.info("tenant=%s webhook amocrm refused 400: %s", tenant.slug, exc.detail)
        return JsonResponse({"detail": exc.detail}, status=400)
    config = (tenant.config or {}).get("amocrm") or {}
    mismatch = account_mismatch(account_id=hook.account_id, subdomain=hook.subdomain, config=config)
    account = hook.account_id or amo_id(config.get("account_id"))
    head = {"account_id": account, "hook_account_id": hook.account_id, "subdomain": hook.subdomain}

    queued: list[int] = []
    with transaction.atomic():
        for event in hook.events:
            payload = {**head, "kind": event.kind, "lead_id": event.lead_id, "status_id": event.status_id,
                       "form": hook.form}
            stored = _store(event_id=_event_key(account or hook.subdomain, event), payload=payload, error=mismatch,
                            done=bool(mismatch))
            if stored.processed_at is None:
                queued.append(stored.pk)
        if hook.ignored or hook.skipped or not hook.events:
            # What we do not act on is kept too (once per body), already processed, with the reason.
            _store(event_id="sha256:" + hashlib.sha256(body).hexdigest(), done=True,
                   payload={**head, "ignored": hook.ignored, "skipped": hook.skipped, "form": hook.form},
                   error=" | ".join(part for part in (mismatch, _not_acted_on(hook)) if part))

        def enqueue_intake(ids: list[int] = queued) -> None:
            for event_pk in ids:
                enqueue("integrations.amocrm_intake", event_pk)

        if queued:
            transaction.on_commit(enqueue_intake)

    health_record(tenant_id=tenant.pk, inbound_provider=PROVIDER)
    if mismatch:
        log.warning("tenant=%s webhook amocrm ignored: %s", tenant.slug, mismatch)
        return JsonResponse({"ok": True, "ignored": len(hook.events), "detail": mismatch})
    answer: dict = {"ok": True, "queued": len(queued)}
    if hook.ignored or hook.skipped:
        answer["not_acted_on"] = hook.ignored + hook.skipped
    log.info("tenant=%s webhook amocrm events=%s queued=%s not_acted_on=%s", tenant.slug, len(hook.events),
             len(queued), len(hook.ignored) + len(hook.skipped))
    return JsonResponse(answer)


# --- processing (worker) ---------------------------------------------------------------------------


def _finish(event: InboundEvent, error: str = "") -> None:
    InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), error=error[:2000])


def amocrm_intake_failed(*, inbound_event_id: int, detail: str, final: bool = False) -> str:
    """The intake of a stored event failed: the event keeps the error (`final`: and counts as processed), the
    admin health view shows it. Without `final` (the task's retries ran out) the event stays unprocessed."""
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
    amo_lead_id = amo_id(payload.get("lead_id"))
    if amo_lead_id is None:
        _finish(event, f"lead id {payload.get('lead_id')!r} is not an amoCRM id")
        return "ignored"
    tenant = _fresh_tenant(connection.tenant.pk)
    full_config = tenant_config_get(tenant)
    config = dict(full_config.get("amocrm") or {})
    # Checked again here: the tenant's account may have changed since the webhook was stored.
    hook_account = payload["hook_account_id"] if "hook_account_id" in payload else payload.get("account_id")
    hook_account = amo_id(hook_account) if hook_account is not None else None
    mismatch = account_mismatch(account_id=hook_account, subdomain=str(payload.get("subdomain") or ""), config=config)
    if mismatch:
        _finish(event, mismatch)
        return "ignored"
    account_id = hook_account or amo_id(config.get("account_id")) or 0
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
    outbound = outbound_channel(full_config)
    with transaction.atomic():
        lead, outcome = _lead_from_amo(account_id=account_id, amo_lead_id=amo_lead_id, phone=phone, name=name,
                                       info=info, outbound=outbound)
        _finish(event)
        if outcome == "created":
            greet = bool(phone and OUTBOUND.get(outbound)) and _greet(lead=lead, config=full_config)
            emit("lead.created", lead_id=lead.pk, source=PROVIDER, greet=greet)
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


def _greet(*, lead: Lead, config: dict) -> bool:
    """Starts the dialog with a new lead that never wrote (inside the intake's transaction). Over the Cloud
    API its 24-hour window is closed, so free text would be refused: the configured greeting template goes
    instead, and without one a person is asked to write. Every other channel gets the tenant's whole
    first-contact chain from the AI manager, after commit: returns True for those (`lead.created`'s greet)."""
    window_open = bool(lead.last_inbound_at and timezone.now() - lead.last_inbound_at < WINDOW)
    if lead.provider != "whatsapp" or window_open:
        return True
    if ai_silence_reason(cfg=config, lead=lead):
        return False  # the AI may not write to this lead (tenant AI off…): no greeting, as ai_first_contact does
    cloud = (config.get("channels") or {}).get("whatsapp_cloud") or {}
    template = cloud.get("greeting_template") or {}
    if not template.get("name"):
        lead_services.lead_flag_human(lead=lead, reason=NO_TEMPLATE_REASON, actor=lead_services.SYSTEM)
        log.info("lead=%s amocrm greeting: no whatsapp template, flagged for a person by=system", lead.pk)
        return False
    language = template.get("language") or cloud.get("template_language") or "ru"
    message_send(lead=lead, author_kind="ai", kind="template", purpose="first_contact",
                 template={"name": template["name"], "language": language}, meta={"template": template["name"]})
    log.info("lead=%s amocrm greeting template=%s by=ai", lead.pk, template["name"])
    return False
