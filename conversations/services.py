"""Writes for conversations: inbound storage (idempotent), delivery statuses, and the one send pipeline
used by the AI, people and follow-ups (message row → Celery task → channel adapter → provider)."""
from __future__ import annotations

import importlib
import logging
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from conversations.models import AuthorKind, Direction, InboundEvent, Message, MessageStatus
from integrations.base import InboundMessage, OutboundMessage, SendError, StatusUpdate
from leads import services as lead_services
from leads.models import Lead

log = logging.getLogger("buildcrm.conversations")

ADAPTERS = {"chatflow": "integrations.chatflow", "whatsapp": "integrations.whatsapp_cloud",
            "telegram": "integrations.telegram", "sandbox": "integrations.sandbox"}
CONFIG_KEYS = {"chatflow": "chatflow", "whatsapp": "whatsapp_cloud", "telegram": "telegram"}
STATUS_RANK = {MessageStatus.QUEUED: 0, MessageStatus.SENT: 1, MessageStatus.DELIVERED: 2, MessageStatus.READ: 3}
WINDOW = timedelta(hours=24)


def adapter(provider: str):
    return importlib.import_module(ADAPTERS[provider])


_CHANNEL_CONFIGS: dict[tuple, dict] = {}


def channel_config(provider: str) -> dict:
    """The tenant's decrypted config of one channel. Only `channels.<key>` is decrypted (the defaults
    have no channels), and the result is cached per process keyed by the stored (encrypted) section itself,
    so an imported change applies at once while every webhook skips the merge and decryption."""
    import json

    from tenants import config as tconfig

    key = CONFIG_KEYS.get(provider)
    if not key:
        return {}
    stored = (connection.tenant.config or {}).get("channels", {}).get(key) or {}
    cache_key = (connection.tenant.pk, key, json.dumps(stored, sort_keys=True, default=str))
    hit = _CHANNEL_CONFIGS.get(cache_key)
    if hit is None:
        if len(_CHANNEL_CONFIGS) > 1000:
            _CHANNEL_CONFIGS.clear()
        hit = tconfig.decrypt_secrets({"channels": {key: stored}})["channels"][key]
        _CHANNEL_CONFIGS[cache_key] = hit
    return dict(hit)


def _publish_message(message: Message, event_type: str = "message.created", *, as_stored: bool = False) -> None:
    """`as_stored`: the instance (with its lead) is exactly what was just written, so no re-read is needed."""
    tenant_id = connection.tenant.id
    message_id = message.pk

    def send() -> None:
        from conversations.realtime import publish
        from conversations.serializers import MessageOut
        from leads.selectors import lead_audience_groups

        fresh = message if as_stored else (
            Message.objects.select_related("lead", "author_user").filter(pk=message_id).first())
        if fresh is not None:
            publish(lead_audience_groups(tenant_id=tenant_id, lead=fresh.lead),
                    {"type": event_type, "lead_id": fresh.lead_id, "message": MessageOut(fresh).data})

    transaction.on_commit(send)


def inbound_receive(*, provider: str, items: list[InboundMessage | StatusUpdate], raw: Any, event_id: str,
                    source: str = "") -> list[Message]:
    """Stores the raw event and every message it carries in one transaction; a provider message id seen
    before is skipped (200 to the provider, still one message). Work after that goes to workers."""
    stored: list[Message] = []
    with transaction.atomic():
        try:
            with transaction.atomic():
                InboundEvent.objects.create(provider=provider, event_id=event_id[:200], payload=raw)
        except IntegrityError:
            pass  # the same raw event again: its messages are deduplicated below as well
        for item in items:
            if isinstance(item, StatusUpdate):
                status_apply(update=item)
            else:
                message = _store_inbound_message(item, source=source)
                if message is not None:
                    stored.append(message)
    if items:
        _health_inbound(provider)
    return stored


def _health_inbound(provider: str) -> None:
    """The tenant's last inbound time, written at most about once a second: under a burst of webhooks the
    UPDATE matches no row, so it writes no WAL and costs no extra durable commit per message."""
    from django.db.models import Q

    from tenants.models import TenantHealth

    now = timezone.now()
    TenantHealth.objects.filter(tenant_id=connection.tenant.id).filter(
        Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=now - timedelta(seconds=1))
        | ~Q(last_inbound_provider=provider)
    ).update(last_inbound_at=now, last_inbound_provider=provider)


def _store_inbound_message(item: InboundMessage, *, source: str, _retry: bool = False) -> Message | None:
    if Message.objects.filter(provider=item.provider, provider_message_id=item.provider_message_id).exists():
        return None
    try:
        with transaction.atomic():
            lead, created = lead_services.lead_for_inbound(provider=item.provider, identity=item.identity,
                                                           phone=item.phone, name=item.name, source=source)
            message = Message.objects.create(
                lead=lead, direction=Direction.IN, kind=item.kind, text=item.text or "",
                media_url=item.media_url or "", mimetype=item.mimetype or "", caption=item.caption or "",
                status=MessageStatus.RECEIVED, provider=item.provider, provider_message_id=item.provider_message_id,
                author_kind=AuthorKind.CLIENT, purpose="client",
            )
    except IntegrityError:
        if Message.objects.filter(provider=item.provider, provider_message_id=item.provider_message_id).exists():
            return None  # a concurrent delivery of the same message won the race
        if _retry:
            raise
        # A concurrent first message of the same new client created its lead first: store into that lead.
        return _store_inbound_message(item, source=source, _retry=True)
    if not lead.name and item.name:
        lead_services.lead_update(lead=lead, actor=lead_services.SYSTEM, name=item.name[:150])
    lead_services.lead_touch_message(lead=lead, message=message)
    log.info("lead=%s message=%s in kind=%s provider=%s", lead.pk, message.pk, item.kind, item.provider)
    _publish_message(message, as_stored=True)
    lead_services.publish_lead(lead)
    _after_client_message(lead=lead, message=message, new_lead=created)
    return message


def _after_client_message(*, lead: Lead, message: Message, new_lead: bool) -> None:
    """A client wrote: follow-ups stop waiting, and the AI manager gets its turn (on commit)."""
    from followups.services import followups_on_client_message

    followups_on_client_message(lead=lead)
    from aiagent.services import ai_on_client_message

    lead_id, message_id = lead.pk, message.pk
    transaction.on_commit(lambda: ai_on_client_message(lead_id=lead_id, message_id=message_id, new_lead=new_lead))


def status_apply(*, update: StatusUpdate) -> Message | None:
    """A delivery status from the provider; never moves a message backwards (read stays read)."""
    message = Message.objects.select_for_update().filter(
        provider=update.provider, provider_message_id=update.provider_message_id, direction=Direction.OUT
    ).first()
    if message is None:
        message = Message.objects.select_for_update().filter(
            provider=update.provider, direction=Direction.OUT, meta__provider_ids__contains=[update.provider_message_id]
        ).first()
    if message is None:
        return None
    if update.status == MessageStatus.FAILED:
        message.status, message.error = MessageStatus.FAILED, update.error or "provider reported a failure"
    elif STATUS_RANK.get(update.status, -1) > STATUS_RANK.get(message.status, -1):
        message.status = update.status
    else:
        return message
    message.save(update_fields=["status", "error"])
    log.info("lead=%s message=%s status=%s", message.lead_id, message.pk, message.status)
    _publish_message(message, "message.updated")
    return message


def message_send(*, lead: Lead, author_kind: str, kind: str = "text", text: str = "", media_url: str = "",
                 caption: str = "", items: list | None = None, template: dict | None = None, author_user=None,
                 purpose: str = "reply", meta: dict | None = None) -> Message:
    """Queues an outbound message; a worker delivers it once the transaction commits."""
    message = Message.objects.create(
        lead=lead, direction=Direction.OUT, kind=kind, text=text, media_url=media_url or "", caption=caption or "",
        items=items or [], template=template, status=MessageStatus.QUEUED, provider=lead.provider,
        author_kind=author_kind, author_user=author_user, purpose=purpose, meta=meta or {},
    )
    lead_services.lead_touch_message(lead=lead, message=message)
    log.info("lead=%s message=%s out kind=%s by=%s purpose=%s", lead.pk, message.pk, kind,
             author_user.email if author_user else author_kind, purpose)
    _publish_message(message)
    lead_services.publish_lead(lead)
    message_id = message.pk
    transaction.on_commit(lambda: _enqueue_delivery(message_id))
    return message


def _enqueue_delivery(message_id: int) -> None:
    from conversations.tasks import deliver_message

    deliver_message.delay(message_id, attempt=1)


def message_send_by_user(*, lead: Lead, user, text: str = "", image_url: str = "") -> Message:
    """A person writes to the client: they take the dialog over (the AI stops, follow-ups are cancelled)."""
    if lead.handler_id != user.pk:
        lead_services.lead_takeover(lead=lead, user=user)
    if image_url:
        return message_send(lead=lead, author_kind=AuthorKind.USER, author_user=user, kind="image",
                            media_url=image_url, caption=text, purpose="human")
    return message_send(lead=lead, author_kind=AuthorKind.USER, author_user=user, text=text, purpose="human")


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, capped; the base is a setting so tests run fast."""
    base = settings.SEND_RETRY_BASE_SECONDS
    return random.uniform(base / 2, base * 1.5) * (2 ** max(0, attempt - 1))


class RetryLater(Exception):
    def __init__(self, delay: float, detail: str, attempt: int = 0):
        super().__init__(detail)
        self.delay = delay
        self.attempt = attempt  # the attempt that failed; the retry task expects the next one


def message_deliver(*, message_id: int, attempt: int | None = None) -> str:
    """Delivers one queued message through its channel adapter. Returns the resulting status.
    Raises RetryLater for a retryable failure while attempts remain. `attempt` is the attempt the task
    was queued for: a duplicate of a task already claimed (even one still sending) finds it taken and stops."""
    claimed = Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED)
    message = claimed.select_related("lead").first()
    if message is None or (attempt is not None and message.attempts != attempt - 1):
        return "skipped"
    attempt = message.attempts + 1
    # Claim this attempt: a duplicate delivery of the same task finds the counter moved and stops.
    if not claimed.filter(attempts=message.attempts).update(attempts=attempt):
        return "skipped"
    lead = message.lead
    outbound = OutboundMessage(kind=message.kind, to=_recipient(lead), text=message.text,
                               media_url=message.media_url or None, caption=message.caption or None,
                               items=message.items, template=message.template)
    window_open = bool(lead.last_inbound_at and timezone.now() - lead.last_inbound_at < WINDOW)
    from tenants.services import health_record

    try:
        result = adapter(message.provider).send(channel_config(message.provider), outbound, window_open=window_open)
    except SendError as exc:
        if exc.retryable and attempt < settings.SEND_MAX_ATTEMPTS:
            log.warning("lead=%s message=%s send retry attempt=%s: %s", lead.pk, message.pk, attempt, exc.detail)
            raise RetryLater(exc.retry_after or retry_delay(attempt), exc.detail, attempt) from None
        # Health first: whoever sees the message failed also sees the tenant's last error.
        health_record(tenant_id=connection.tenant.id, error=f"send {message.provider}: {exc.detail}",
                      source=message.provider)
        _mark_failed(message, exc.detail, attempt)
        return MessageStatus.FAILED
    except Exception as exc:  # an adapter bug must not leave the message queued forever
        health_record(tenant_id=connection.tenant.id, error=str(exc), source=message.provider)
        _mark_failed(message, f"{type(exc).__name__}: {exc}", attempt)
        raise
    ids = result.provider_message_ids
    health_record(tenant_id=connection.tenant.id, send_ok=True)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, provider_message_id=ids[0] if ids else None, sent_at=timezone.now(), error="",
        meta={**message.meta, "provider_ids": ids},
    )
    log.info("lead=%s message=%s sent provider=%s attempt=%s", lead.pk, message.pk, message.provider, attempt)
    message.refresh_from_db()
    with transaction.atomic():
        _publish_message(message, "message.updated")
        from followups.services import followups_on_outbound_sent

        followups_on_outbound_sent(lead=lead, message=message)
    return MessageStatus.SENT


def _recipient(lead: Lead) -> str:
    from leads.models import LeadIdentity

    identity = LeadIdentity.objects.filter(lead=lead, channel=lead.channel).values_list("identity", flat=True).first()
    return identity or lead.phone


def _mark_failed(message: Message, detail: str, attempt: int) -> None:
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error=detail[:2000], attempts=attempt)
    message.status, message.error = MessageStatus.FAILED, detail
    log.warning("lead=%s message=%s failed: %s", message.lead_id, message.pk, detail)
    with transaction.atomic():
        _publish_message(message, "message.updated")


def message_retry_exhausted(*, message_id: int, detail: str) -> None:
    message = Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).first()
    if message is not None:
        _mark_failed(message, detail, message.attempts)
