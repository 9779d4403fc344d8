"""Writes for conversations: inbound storage (idempotent), delivery statuses, and the one send pipeline
used by the AI, people and follow-ups (message row → Celery task → channel adapter → provider)."""
from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from conversations import selectors
from conversations.media import MediaRejected, media_verified
from conversations.models import (
    VOICE_KINDS,
    AuthorKind,
    Direction,
    InboundEvent,
    LeadNote,
    Message,
    MessageStatus,
    QuickReply,
    TranscriptStatus,
)
from conversations.serializers import LeadNoteOut, MessageOut
from core import metrics
from core.db import insert_rows, server_bound_cursor
from core.events import emit
from core.realtime import publish
from core.redis_client import redis_client
from core.tasks import enqueue
from integrations import audio as audio_codec
from integrations import speech
from integrations.base import InboundMessage, OutboundMessage, Reaction, SendError, StatusUpdate, Unsend, clean_text
from integrations.media import MEDIA_TIMEOUT, MediaFetchError, download, media_client
from integrations.registry import channel, find
from leads import services as lead_services
from leads.models import Lead, LeadIdentity
from leads.selectors import lead_audience_groups
from tenants import config as tconfig
from tenants.selectors import tenant_config_current
from tenants.services import health_record

log = logging.getLogger("buildcrm.conversations")

STATUS_RANK = {MessageStatus.QUEUED: 0, MessageStatus.SENT: 1, MessageStatus.DELIVERED: 2, MessageStatus.READ: 3}


_CHANNEL_CONFIGS: dict[tuple, dict] = {}


def channel_config(provider: str) -> dict:
    """The tenant's decrypted config of one channel. Only `channels.<key>` is decrypted (the defaults
    have no channels), and the result is cached per process keyed by the stored (encrypted) section itself,
    so an imported change applies at once while every webhook skips the merge and decryption."""
    found = find(provider)
    key = found.config_key if found else None
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


def _publish_message(message: Message, event_type: str = "message.created") -> None:
    """The message as the database has it once the transaction commits (re-read then)."""
    tenant_id = connection.tenant.id
    message_id = message.pk

    def send() -> None:
        fresh = Message.objects.select_related("lead", "author_user").filter(pk=message_id).first()
        if fresh is not None:
            _publish_now(tenant_id, [fresh], event_type)

    transaction.on_commit(send)


def _publish_messages_as_stored(messages: list[Message], event_type: str = "message.created") -> None:
    """Live events for just-written messages (with their leads), exactly as they are, in order, on commit."""
    tenant_id = connection.tenant.id
    transaction.on_commit(lambda: _publish_now(tenant_id, messages, event_type))


def _publish_now(tenant_id: int, messages: list[Message], event_type: str) -> None:
    for message, data in zip(messages, MessageOut(messages, many=True).data, strict=True):
        publish(lead_audience_groups(tenant_id=tenant_id, lead=message.lead),
                {"type": event_type, "lead_id": message.lead_id, "message": data})


def inbound_receive(*, provider: str, items: list[InboundMessage | StatusUpdate | Reaction | Unsend], raw: Any,
                    event_id: str, source: str = "") -> list[Message]:
    """Stores the raw event and every message it carries in one transaction; a provider message id seen
    before is skipped (200 to the provider, still one message). `raw` is the body as received (JSON text)
    or an already decoded object. Statuses and reactions are applied to the messages they name here. What
    follows a client message (live events, follow-ups, the AI's turn) is left to a worker
    (`inbound_process_pending`), kicked once the transaction commits."""
    event = {"event_provider": provider, "event_id": event_id[:200], "payload": _payload(raw),
             "received_at": timezone.now()}
    stored: list[Message] = []
    if len(items) == 1 and isinstance(items[0], InboundMessage):
        # The common webhook: the event and its message in one statement, which is its own transaction.
        message = _store_inbound_message(items[0], source=source, event=event)
        stored = [message] if message is not None else []
    else:
        with transaction.atomic():
            with server_bound_cursor() as cursor:
                cursor.execute(_EVENT_SQL, event)
            unattached = 0
            for item in items:
                if isinstance(item, StatusUpdate):
                    status_apply(update=item)
                elif isinstance(item, Reaction):
                    unattached += reaction_apply(reaction=item) is None
                elif isinstance(item, Unsend):
                    unattached += message_unsend_apply(unsend=item) is None
                else:
                    message = _store_inbound_message(item, source=source)
                    if message is not None:
                        stored.append(message)
            if unattached:  # recorded with the raw event, and otherwise ignored
                InboundEvent.objects.filter(provider=provider, event_id=event["event_id"]).update(
                    error=f"{unattached} reaction(s) or unsend(s) of a message this tenant does not have")
    if stored:
        schema = connection.schema_name
        transaction.on_commit(lambda: inbound_processing_kick(schema=schema))
        metrics.messages_counted(channel=provider, event="stored", count=len(stored), tenant=schema)
    return stored


# JSON text PostgreSQL's jsonb refuses although Python's json reads it: an escaped NUL, a lone surrogate.
_UNSTORABLE_ESCAPE = re.compile(
    r"\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}",
    re.IGNORECASE)


def _payload(raw: Any):
    """The raw event for its jsonb column: the body's own JSON text when we have it (no re-encoding), unless
    it holds what jsonb cannot (then decoded and made storable, as the message itself is)."""
    payload = raw.decode() if isinstance(raw, bytes) else raw
    if isinstance(payload, str):
        if not _UNSTORABLE_ESCAPE.search(payload):
            return payload
        payload = json.loads(payload)
    return Jsonb(_storable_json(payload))


def _storable_json(value: Any, depth: int = 0) -> Any:
    """A decoded JSON value with every string (keys too) made storable; nothing deeper than 100 levels (the
    webhook parsers refuse deeper bodies before this)."""
    if isinstance(value, str):
        return clean_text(value)
    if depth > 100:
        return None
    if isinstance(value, dict):
        return {clean_text(str(k)): _storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_json(v, depth + 1) for v in value]
    return value


# The raw event, once per (provider, event id): the same delivery again inserts nothing.
_EVENT_SQL = (
    "INSERT INTO conversations_inboundevent (provider, event_id, payload, received_at, error) "
    "VALUES (%(event_provider)s, %(event_id)s, %(payload)s::jsonb, %(received_at)s, '') "
    "ON CONFLICT (provider, event_id) DO NOTHING"
)


_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if not f.primary_key]
# One statement stores a client message: into the lead its channel identity belongs to when that lead
# already answers on this provider (refreshing the lead's preview), otherwise with no lead yet (a worker
# creates or finds it). A repeated provider message id inserts nothing.
_STORE_SQL = """
WITH {event}target AS (
    SELECT li.lead_id FROM leads_leadidentity li JOIN leads_lead l ON l.id = li.lead_id
    WHERE li.channel = %(channel)s AND li.identity = %(identity)s AND l.provider = %(provider)s
      AND l.channel = %(channel)s
), stored AS (
    INSERT INTO conversations_message ({columns}) VALUES ({values})
    ON CONFLICT (provider, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
    RETURNING id, lead_id
), touched AS (
    UPDATE leads_lead SET last_message = %(preview)s, last_message_at = %(at)s, last_inbound_at = %(at)s,
        waiting_since = NULL, updated_at = %(at)s
    FROM stored WHERE leads_lead.id = stored.lead_id
)
SELECT id, lead_id FROM stored
"""
_STORE_PARTS = {
    "columns": ", ".join(f.column for f in _MESSAGE_FIELDS),
    "values": ", ".join("(SELECT lead_id FROM target)" if f.attname == "lead_id" else f"%({f.attname})s"
                        for f in _MESSAGE_FIELDS),
}
_STORE_MESSAGE_SQL = _STORE_SQL.format(event="", **_STORE_PARTS)
# A data-modifying CTE runs whether or not it is read: the event is stored by the same statement.
_STORE_EVENT_AND_MESSAGE_SQL = _STORE_SQL.format(event=f"event AS ({_EVENT_SQL}), ", **_STORE_PARTS)


def _store_inbound_message(item: InboundMessage, *, source: str, event: dict | None = None) -> Message | None:
    """One round trip (with the raw `event` too, when given); None when the provider message id was stored
    before."""
    meta = {"identity": item.identity, "phone": item.phone or "", "sender_name": (item.name or "")[:150],
            "source": source or item.provider}
    message = Message(
        direction=Direction.IN, kind=item.kind, text=item.text or "", media_url=item.media_url or "",
        mimetype=item.mimetype or "", caption=item.caption or "", status=MessageStatus.RECEIVED,
        provider=item.provider, provider_message_id=item.provider_message_id, author_kind=AuthorKind.CLIENT,
        purpose="client", meta=meta, inbound_pending=True,
        # A voice note waits for its transcript: the AI's turn reads it (message_transcribe triggers the turn).
        transcript_status=TranscriptStatus.PENDING if item.kind in VOICE_KINDS else "",
    )
    params = {f.attname: f.get_db_prep_save(f.pre_save(message, add=True), connection)
              for f in _MESSAGE_FIELDS if f.attname != "lead_id"}
    at = message.created_at
    params.update(channel=lead_services.channel_of(item.provider), identity=item.identity,
                  provider=item.provider, preview=Jsonb(lead_services.message_preview(message)), at=at)
    with server_bound_cursor() as cursor:
        if event is None:
            cursor.execute(_STORE_MESSAGE_SQL, params)
        else:
            cursor.execute(_STORE_EVENT_AND_MESSAGE_SQL, {**params, **event})
        row = cursor.fetchone()
    if row is None:
        return None
    message.pk, message.lead_id = row
    log.info("lead=%s message=%s in kind=%s provider=%s", message.lead_id or "new", message.pk, item.kind,
             item.provider)
    return message


# ---------------------------------------------------------------------------------------------------------
# After storage: a worker does the rest for every stored client message, in order.

INBOUND_KICK_SECONDS = 60  # how long a kick stands for the queued drain before another may be queued


def _kick_key(schema: str) -> str:
    return f"inbound:kick:{schema}"


def inbound_processing_kick(*, schema: str) -> None:
    """Queues one drain of the tenant's pending client messages unless one is already queued: under a burst
    of webhooks this costs one Redis command per message and one Celery task per batch. If Redis or the
    broker is down, the periodic sweep (conversations.tasks.process_inbound, every few seconds) drains them."""
    try:
        if redis_client().set(_kick_key(schema), "1", nx=True, ex=INBOUND_KICK_SECONDS):
            enqueue("conversations.process_inbound", schema=schema)
    except Exception as exc:  # stored is stored: the sweep takes over
        log.warning("schema=%s inbound processing not queued: %s", schema, exc)


INBOUND_MAX_ATTEMPTS = 5  # drains a client message may fail before it is set aside


def inbound_process_pending(*, batch: int = 200) -> int | None:
    """Does what follows each stored client message, oldest first. One drainer per tenant at a time (a
    PostgreSQL advisory lock), which keeps each lead's messages in order and lets the first message of a new
    client create its lead without racing a second one. A batch is done set-based in one savepoint; if that
    fails, its messages are done one by one, each in its own savepoint: one that fails is tried again by the
    next drain (its client's later messages wait behind it) and after INBOUND_MAX_ATTEMPTS is set aside with
    its error, so no message stalls anyone else's. Returns how many were processed, or None when another
    drainer is at work (the caller retries shortly)."""
    lock = f"inbound:{connection.schema_name}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [lock])
        if not cursor.fetchone()[0]:
            return None
    try:
        try:
            # Before reading: a message committed after this point finds no kick standing and queues a drain.
            redis_client().delete(_kick_key(connection.schema_name))
        except Exception as exc:
            log.warning("inbound kick not cleared: %s", exc)
        total = 0
        held: set[int] = set()  # left pending by this drain: the next one tries them again
        blocked: set[tuple] = set()  # clients with a message that failed in this drain: the rest of theirs wait
        while True:
            with transaction.atomic():
                pending = Message.objects.select_for_update(skip_locked=True, of=("self",)).select_related("lead") \
                    .filter(inbound_pending=True)
                if held:
                    pending = pending.exclude(pk__in=held)
                messages = list(pending.order_by("id")[:batch])
                if not messages:
                    break
                left = _inbound_drain(messages, blocked)
            held |= left
            total += len(messages) - len(left)
            if len(messages) < batch:
                break
        return total
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock])


def _inbound_drain(messages: list[Message], blocked: set[tuple]) -> set[int]:
    """Processes a batch (rows locked by the caller's transaction), in order, except the messages of clients
    in `blocked`; a client whose message fails joins it. Returns the ids left pending."""
    held = {m.pk for m in messages if _inbound_client(m) in blocked}
    ready = [m for m in messages if m.pk not in held]
    if not ready:
        return held
    try:
        with transaction.atomic():
            _inbound_after_store(ready)
            _inbound_done([m.pk for m in ready])
        return held
    except Exception as exc:  # any step of any message: redo them one by one to find which
        log.warning("tenant=%s inbound batch of %s failed, processing one by one: %s: %s",
                    connection.tenant.schema_name, len(ready), type(exc).__name__, exc)
    # Re-read: the failed pass changed the objects (leads assigned, names set) but not the rows.
    for message in Message.objects.select_related("lead").filter(pk__in=[m.pk for m in ready]).order_by("id"):
        client = _inbound_client(message)
        if client in blocked:
            held.add(message.pk)
            continue
        try:
            with transaction.atomic():
                _inbound_after_store([message])
                _inbound_done([message.pk])
        except Exception as exc:
            blocked.add(client)
            if not _inbound_failed(message, exc):
                held.add(message.pk)
    return held


def _inbound_client(message: Message) -> tuple:
    """Whose message this is: its lead, or (before the lead exists) its channel identity."""
    if message.lead_id is not None:
        return ("lead", message.lead_id)
    return (lead_services.channel_of(message.provider), message.meta.get("identity"))


def _inbound_done(ids: list[int]) -> None:
    Message.objects.filter(pk__in=ids).update(inbound_pending=False, inbound_error="")


def _inbound_failed(message: Message, exc: Exception) -> bool:
    """Records a failed attempt (outside the rolled-back savepoint); after INBOUND_MAX_ATTEMPTS the message
    is set aside. Returns whether it was. The tenant's health shows the error either way."""
    attempts = message.inbound_attempts + 1
    error = f"{type(exc).__name__}: {exc}".strip()[:2000]
    set_aside = attempts >= INBOUND_MAX_ATTEMPTS
    fields: dict[str, Any] = {"inbound_attempts": attempts, "inbound_error": error}
    if set_aside:
        fields["inbound_pending"] = False
    Message.objects.filter(pk=message.pk).update(**fields)
    what = "set aside" if set_aside else f"attempt {attempts}/{INBOUND_MAX_ATTEMPTS} failed"
    log.error("lead=%s message=%s inbound %s: %s", message.lead_id or "new", message.pk, what, error)
    health_record(tenant_id=connection.tenant.id, source="inbound",
                  error=f"inbound {message.provider} message {message.pk} {what}: {error}")
    return set_aside


def inbound_receive_now(*, provider: str, item: InboundMessage, raw: Any, source: str = "") -> Message | None:
    """Stores one client message and does its processing in this process (the sandbox: whoever plays the
    client waits for the result on screen). When a worker is draining the tenant just then, waits for it."""
    stored = inbound_receive(provider=provider, items=[item], raw=raw, event_id=item.provider_message_id,
                             source=source)
    if not stored:
        return None
    message = stored[0]
    deadline = time.monotonic() + 10
    while True:
        inbound_process_pending()
        message.refresh_from_db()
        if not message.inbound_pending or time.monotonic() > deadline:
            return message
        time.sleep(0.05)


def _leads_of_new_clients(messages: list[Message]) -> set[int]:
    """The leads of messages stored before their clients were known on this provider: found or created (and
    merged by phone) for the whole batch at once, the messages pointed at them in one UPDATE and the leads'
    previews and timers in another. Returns the ids of the new leads."""
    if not messages:
        return set()
    clients = [lead_services.InboundClient(
        provider=m.provider, identity=m.meta.get("identity") or m.meta.get("phone") or "",
        phone=m.meta.get("phone") or None, name=m.meta.get("sender_name") or None, source=m.meta.get("source", ""))
        for m in messages]
    new_leads: set[int] = set()
    for message, (lead, created) in zip(messages, lead_services.leads_for_inbound(clients), strict=True):
        message.lead = lead
        if created:
            new_leads.add(lead.pk)
    with server_bound_cursor() as cursor:
        cursor.execute("UPDATE conversations_message SET lead_id = batch.lead_id "
                       "FROM unnest(%s::bigint[], %s::bigint[]) AS batch(id, lead_id) "
                       "WHERE conversations_message.id = batch.id",
                       [[m.pk for m in messages], [m.lead_id for m in messages]])
    lead_services.leads_touch_messages([(m.lead, m) for m in messages])
    return new_leads


def _inbound_after_store(messages: list[Message]) -> None:
    """In order: each new client's lead found or created, then on commit `lead.created` for new leads, each
    message's `message.created`, `lead.updated` for the others; meanwhile the name a lead did not have, its
    batch is told to the apps that react (`messages.received`: follow-ups stop waiting and campaigns start in this
    transaction, the AI's turn for each lead's newest message is queued on commit)."""
    by_lead: dict[int, list[Message]] = {}
    new_leads: set[int] = _leads_of_new_clients([m for m in messages if m.lead_id is None])
    for message in messages:
        by_lead.setdefault(message.lead_id, []).append(message)
    leads = {lead_id: batch[-1].lead for lead_id, batch in by_lead.items()}
    for message in messages:
        message.lead = leads[message.lead_id]
    lead_services.publish_leads(sorted(new_leads), "lead.created")
    _publish_messages_as_stored(messages)
    for lead_id, batch in by_lead.items():
        name = next((m.meta["sender_name"] for m in batch if m.meta.get("sender_name")), "")
        if not leads[lead_id].name and name:
            lead_services.lead_update(lead=leads[lead_id], actor=lead_services.SYSTEM, name=name)
    emit("messages.received", message_ids=[m.pk for m in messages], lead_ids=list(by_lead),
         new_lead_ids=sorted(new_leads), firsts={lead_id: batch[0].pk for lead_id, batch in by_lead.items()},
         newest={lead_id: batch[-1].pk for lead_id, batch in by_lead.items()})
    lead_services.publish_leads([lead_id for lead_id in by_lead if lead_id not in new_leads])
    for provider in {message.provider for message in messages}:
        health_record(tenant_id=connection.tenant.id, inbound_provider=provider)
    media_fetch_queue(messages=messages)
    # Voice notes the provider hands us as a link (ChatFlow) are transcribed now; a reference is fetched first
    # (message_media_fetch queues the transcription once the file is ours).
    transcription_queue(messages=[m for m in messages if media_reference(m) is None])
    profile_fetch_queue(lead_ids=[lead_id for lead_id in new_leads if leads[lead_id].provider in _PROFILE_PROVIDERS
                                  and not leads[lead_id].name])


# Channels whose webhooks carry no name: the client's profile is looked up once, for a new lead (Instagram).
_PROFILE_PROVIDERS = {"instagram"}


def profile_fetch_queue(*, lead_ids: list[int]) -> None:
    """Once the transaction commits, one profile lookup per new lead of a channel without names in webhooks."""
    if lead_ids:
        transaction.on_commit(lambda: _enqueue_each("conversations.fetch_profile", lead_ids))


def _enqueue_each(task: str, ids: list[int]) -> None:
    for item_id in ids:
        try:
            enqueue(task, item_id)
        except Exception as exc:  # the broker is down: the lead just keeps no name
            log.warning("%s %s not queued: %s", task, item_id, exc)


def lead_profile_fetch(*, lead_id: int) -> str:
    """The name of a new lead's client looked up at its channel (once; a name set meanwhile is kept)."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None or lead.name:
        return "skipped"
    source = find(lead.provider)
    identity = LeadIdentity.objects.filter(lead=lead, channel=lead.channel).values_list("identity", flat=True).first()
    if source is None or not identity:
        return "skipped"
    name = source.profile_name(channel_config(lead.provider), identity)
    if not name:
        return "none"
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead_id)
        if lead.name:
            return "skipped"
        lead_services.lead_update(lead=lead, actor=lead_services.SYSTEM, name=name)
    log.info("lead=%s profile name fetched from %s", lead_id, lead.provider)
    return "fetched"


def reaction_apply(*, reaction: Reaction) -> Message | None:
    """A client's reaction, attached to the message it reacts to (`meta.reaction`, a `message.updated` live
    event); that message must be in the reacting client's own dialog. Returns None when there is no such
    message (the caller records the event as such): a reaction never becomes a message of its own."""
    channel = lead_services.channel_of(reaction.provider)
    lead_id = LeadIdentity.objects.filter(channel=channel, identity=reaction.identity).values_list(
        "lead_id", flat=True).first()
    message = Message.objects.select_for_update().filter(
        provider=reaction.provider, provider_message_id=reaction.target_message_id).first()
    if message is None and lead_id is not None:  # a later part of an album we sent: its id is in provider_ids
        message = Message.objects.select_for_update().filter(
            lead_id=lead_id, provider=reaction.provider, direction=Direction.OUT,
            meta__provider_ids__contains=[reaction.target_message_id]).first()
    own = message is not None and (
        (lead_id is not None and message.lead_id == lead_id)
        or (message.direction == Direction.IN and message.meta.get("identity") == reaction.identity))
    if not own:
        log.info("reaction by %s on %s to unknown message %s: ignored", reaction.identity, reaction.provider,
                 reaction.target_message_id)
        return None
    meta = dict(message.meta)
    if reaction.emoji:
        meta["reaction"] = {"emoji": reaction.emoji, "at": reaction.timestamp.isoformat()}
    else:
        meta.pop("reaction", None)
    message.meta = meta
    Message.objects.filter(pk=message.pk).update(meta=meta)
    log.info("lead=%s message=%s reaction=%s", message.lead_id, message.pk, reaction.emoji or "removed")
    if message.lead_id is not None:
        _publish_message(message, "message.updated")
    return message


def message_unsend_apply(*, unsend: Unsend) -> Message | None:
    """A client withdrew their message: it (and the further attachments of the same message, `<mid>:<n>`) is
    marked deleted (`deleted_at`, a `message.updated` live event), never removed. Only the client's own
    message: None when there is no such message of theirs (the caller records the event as such)."""
    mid = unsend.target_message_id
    messages = list(Message.objects.select_for_update().filter(
        Q(provider_message_id=mid) | Q(provider_message_id__startswith=f"{mid}:"), provider=unsend.provider,
        direction=Direction.IN, meta__identity=unsend.identity).order_by("id"))
    if not messages:
        log.info("unsend by %s on %s of unknown message %s: ignored", unsend.identity, unsend.provider, mid)
        return None
    for message in messages:
        if message.deleted_at is None:
            message.deleted_at = unsend.timestamp
            Message.objects.filter(pk=message.pk).update(deleted_at=unsend.timestamp)
            log.info("lead=%s message=%s unsent by the client", message.lead_id, message.pk)
            if message.lead_id is not None:
                _publish_message(message, "message.updated")
    return messages[0]


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
        if message.status != MessageStatus.FAILED:
            emit("messages.failed", message_id=message.pk, lead_id=message.lead_id,
                 error=(update.error or "provider reported a failure")[:300])
        message.status, message.error = MessageStatus.FAILED, update.error or "provider reported a failure"
    elif STATUS_RANK.get(update.status, -1) > STATUS_RANK.get(message.status, -1):
        message.status = update.status
    else:
        return message
    message.save(update_fields=["status", "error"])
    log.info("lead=%s message=%s status=%s", message.lead_id, message.pk, message.status)
    _publish_message(message, "message.updated")
    return message


SANDBOX_RECEIPTS = (MessageStatus.DELIVERED, MessageStatus.READ)


def sandbox_receipts_apply(*, lead_id: int, status: str, upto_id: int | None = None) -> int:
    """The sandbox's "client" is the team's own phone simulator: when its page receives our messages they are
    delivered, when it shows them they are read. Applied through `status_apply` like a provider's receipt, to our
    sent sandbox messages (up to `upto_id`, the newest the page has); returns how many changed."""
    if status not in SANDBOX_RECEIPTS:
        raise ValueError(f"status must be one of {', '.join(SANDBOX_RECEIPTS)}")
    below = [s for s in (MessageStatus.SENT, MessageStatus.DELIVERED) if STATUS_RANK[s] < STATUS_RANK[status]]
    pending = Message.objects.filter(lead_id=lead_id, provider="sandbox", direction=Direction.OUT, status__in=below,
                                     provider_message_id__isnull=False)
    if upto_id is not None:
        pending = pending.filter(id__lte=upto_id)
    changed = 0
    now = timezone.now()
    with transaction.atomic():
        for provider_id in pending.order_by("id").values_list("provider_message_id", flat=True)[:500]:
            message = status_apply(update=StatusUpdate(provider="sandbox", provider_message_id=provider_id,
                                                       status=status, error=None, timestamp=now))
            changed += message is not None and message.status == status
    if changed:
        log.info("lead=%s sandbox receipts status=%s messages=%s", lead_id, status, changed)
    return changed


def message_send(*, lead: Lead, author_kind: str, **fields: Any) -> Message:
    """Queues an outbound message (`fields` as `outbound_message` takes them); a worker delivers it once the
    transaction commits."""
    message = outbound_message(lead=lead, author_kind=author_kind, **fields)
    messages_send([message])
    return message


def outbound_message(*, lead: Lead, author_kind: str, kind: str = "text", text: str = "", media_url: str = "",
                     caption: str = "", items: list | None = None, template: dict | None = None, author_user=None,
                     purpose: str = "reply", meta: dict | None = None) -> Message:
    """An outbound message to `lead`, not saved yet: `messages_send` queues it."""
    return Message(
        lead=lead, direction=Direction.OUT, kind=kind, text=text, media_url=media_url or "", caption=caption or "",
        items=items or [], template=template, status=MessageStatus.QUEUED, provider=lead.provider,
        author_kind=author_kind, author_user=author_user, purpose=purpose, meta=meta or {},
    )


def messages_send(messages: list[Message]) -> None:
    """Queues outbound messages built by `outbound_message`, many at once (a sweep's chunk) or one: one INSERT,
    one update of their leads' previews, their live events in order on commit; a worker delivers them once
    the transaction commits (inside `outbound_batch`, with the rest of the batch)."""
    if not messages:
        return
    insert_rows(messages)
    lead_services.leads_touch_messages([(message.lead, message) for message in messages])
    for message in messages:
        log.info("lead=%s message=%s out kind=%s by=%s purpose=%s", message.lead_id, message.pk, message.kind,
                 message.author_user.email if message.author_user_id else message.author_kind, message.purpose)
    _publish_messages_as_stored(messages)
    message_ids, lead_ids = [m.pk for m in messages], list(dict.fromkeys(m.lead_id for m in messages))
    batch = getattr(_outbound, "batch", None)
    if batch is None:
        lead_services.publish_leads(lead_ids)
        transaction.on_commit(lambda: _enqueue_delivery(message_ids))
    else:
        transaction.on_commit(lambda: batch.add(message_ids, lead_ids))


class _OutboundBatch:
    def __init__(self) -> None:
        self.message_ids: list[int] = []
        self.lead_ids: dict[int, None] = {}

    def add(self, message_ids: list[int], lead_ids: list[int]) -> None:
        self.message_ids.extend(message_ids)
        self.lead_ids.update(dict.fromkeys(lead_ids))

    def flush(self) -> None:
        lead_services.publish_leads(list(self.lead_ids))
        if self.message_ids:
            _enqueue_delivery(self.message_ids)


_outbound = threading.local()


@contextmanager
def outbound_batch():
    """Messages queued by `message_send` inside go to the workers as one delivery task, and their leads are
    published once each, after the enclosed transaction commits; what a rolled-back savepoint queued is not
    sent. For senders of many messages at once (the follow-up sweep)."""
    batch, previous = _OutboundBatch(), getattr(_outbound, "batch", None)
    _outbound.batch = batch
    try:
        yield
    finally:
        _outbound.batch = previous
        if connection.in_atomic_block:  # an outer transaction: its commit runs the adds, then this
            transaction.on_commit(batch.flush)
        else:
            batch.flush()


def _enqueue_delivery(message_ids: list[int]) -> None:
    """Hands committed messages to the workers. With the broker down they stay queued, and
    `messages_requeue_stale` hands them over again: the sender's committed work is not undone."""
    try:
        if len(message_ids) == 1:
            enqueue("conversations.deliver_message", message_ids[0], attempt=1)
        else:
            enqueue("conversations.deliver_messages", message_ids)
    except Exception as exc:  # kombu's connection errors, after its own publish retries
        log.warning("messages=%s delivery not queued (the stale sweep will): %s", message_ids, exc)


def messages_requeue_stale(*, now: datetime | None = None, limit: int = 2000) -> int:
    """Safety net (beat, every minute): outbound messages still queued `OUTBOUND_STALE_SECONDS` after they were
    queued with no attempt (the broker was down when their transaction committed, or the task was lost), or after
    their last attempt was claimed (its worker died mid-send, or the retry task was lost), get a delivery task for
    their next attempt. A task that still arrives finds the attempt claimed and skips it: no message goes twice."""
    before = (now or timezone.now()) - timedelta(seconds=settings.OUTBOUND_STALE_SECONDS)
    queued = Message.objects.filter(status=MessageStatus.QUEUED, direction=Direction.OUT)
    ids = list(queued.filter(attempts=0, created_at__lt=before).order_by("id").values_list("id", flat=True)[:limit])
    for offset in range(0, len(ids), 100):
        _enqueue_delivery(ids[offset:offset + 100])
    abandoned = list(queued.filter(Q(claimed_at__lt=before) | Q(claimed_at__isnull=True, created_at__lt=before),
                                   attempts__gt=0).order_by("id").values_list("id", "attempts")[:limit])
    for message_id, attempts in abandoned:
        _enqueue_attempt(message_id, attempts + 1)
    if ids or abandoned:
        log.warning("tenant=%s requeued stale queued messages=%s abandoned attempts=%s", connection.tenant.schema_name,
                    len(ids), len(abandoned))
    return len(ids) + len(abandoned)


def _enqueue_attempt(message_id: int, attempt: int) -> None:
    try:
        enqueue("conversations.deliver_message", message_id, attempt=attempt)
    except Exception as exc:  # the next sweep tries again
        log.warning("message=%s attempt=%s not queued: %s", message_id, attempt, exc)


class ReplyRefused(Exception):
    """What a person asked to send cannot go to this client now (the reason is the message, in Russian)."""


def check_free_text_allowed(lead: Lead) -> None:
    """ReplyRefused when free text (or a photo) from a person cannot reach the client now."""
    window = selectors.reply_window(lead=lead, with_templates=False)
    if window.applies and not window.open and lead.provider != selectors.WHATSAPP_CLOUD:  # Instagram: a person 7 days
        raise ReplyRefused(f"Окно ответа канала {lead.provider} закрыто: клиент давно не писал, сообщение не дойдёт. / "
                           f"The {lead.provider} reply window is closed: the client has been silent too long.")
    if window.applies and not window.open:
        raise ReplyRefused("Окно 24 ч WhatsApp закрыто: клиент не писал больше суток. Свободный текст не дойдёт — "
                           "отправьте одобренный шаблон. / The WhatsApp 24-hour window is closed: send an approved "
                           "template.")


def message_send_by_user(*, lead: Lead, user, text: str = "", image_url: str = "") -> Message:
    """A person writes to the client: they take the dialog over (the AI stops, follow-ups are cancelled). Refused
    (ReplyRefused) while the channel's customer-service window is closed: only a template may go then."""
    check_free_text_allowed(lead)
    if lead.handler_id != user.pk:
        lead_services.lead_takeover(lead=lead, user=user)
    if image_url:
        return message_send(lead=lead, author_kind=AuthorKind.USER, author_user=user, kind="image",
                            media_url=image_url, caption=text, purpose="human")
    return message_send(lead=lead, author_kind=AuthorKind.USER, author_user=user, text=text, purpose="human")


def message_send_template_by_user(*, lead: Lead, user, name: str) -> Message:
    """A person sends the tenant's approved WhatsApp template `name` with its variables filled from the lead (the way
    to reach a client whose 24 h window is closed); it goes through the normal send pipeline as kind `template`."""
    window = selectors.reply_window(lead=lead, user=user)
    if not window.applies or lead.provider != selectors.WHATSAPP_CLOUD:
        raise ReplyRefused("Шаблоны WhatsApp — только для канала WhatsApp Cloud API. / WhatsApp templates are for the "
                           "WhatsApp Cloud API channel only.")
    template = next((t for t in window.templates if t["name"] == name), None)
    if template is None:
        raise ReplyRefused(f"Нет одобренного шаблона «{name[:100]}». / No approved template named {name[:100]!r}.")
    payload: dict = {"name": template["name"], "language": template["language"]}
    if template["parameters"]:
        payload["components"] = [{"type": "body", "parameters": [{"type": "text", "text": value}
                                                                  for value in template["parameters"]]}]
    if lead.handler_id != user.pk:
        lead_services.lead_takeover(lead=lead, user=user)
    return message_send(lead=lead, author_kind=AuthorKind.USER, author_user=user, kind="template", template=payload,
                        text=template["text"] or template["name"], purpose="human", meta={"template": name})


def quick_reply_create(*, user, title: str, text: str, position: int = 0) -> QuickReply:
    reply = QuickReply.objects.create(title=title, text=text, position=position)
    log.info("quick_reply=%s created by=%s", reply.pk, user.email)
    return reply


def quick_reply_update(*, reply: QuickReply, user, **fields: Any) -> QuickReply:
    for key, value in fields.items():
        setattr(reply, key, value)
    reply.save()
    log.info("quick_reply=%s updated by=%s fields=%s", reply.pk, user.email, ",".join(sorted(fields)))
    return reply


def quick_reply_delete(*, reply: QuickReply, user) -> None:
    log.info("quick_reply=%s deleted by=%s", reply.pk, user.email)
    reply.delete()


def note_add(*, lead: Lead, user, text: str) -> LeadNote:
    """An internal note: stored beside the dialog and nothing else — no message row, no provider call, no takeover."""
    note = LeadNote.objects.create(lead=lead, author=user, text=text)
    log.info("lead=%s note=%s added by=%s", lead.pk, note.pk, user.email)
    tenant_id, event = connection.tenant.id, {"type": "note.created", "lead_id": lead.pk,
                                              "note": dict(LeadNoteOut(note).data)}
    # Live to whoever may see the lead (the same audience as its messages), once the note is committed.
    transaction.on_commit(lambda: publish(lead_audience_groups(tenant_id=tenant_id, lead=lead), event))
    return note


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
    message = claimed.select_related("lead", "author_user").first()
    if message is None or (attempt is not None and message.attempts != attempt - 1):
        return "skipped"
    attempt = message.attempts + 1
    # Claim this attempt: a duplicate delivery of the same task finds the counter moved and stops.
    if not claimed.filter(attempts=message.attempts).update(attempts=attempt, claimed_at=timezone.now()):
        return "skipped"
    sent: list = []
    status = _deliver_claimed(message, attempt, recipient=_recipient(message.lead), sent=sent)
    _record_sent(sent)
    return status


def messages_deliver(*, message_ids: list[int]) -> dict[int, str]:
    """First attempts of a batch queued at once (the follow-up sweep): claimed in one statement, sent one by
    one, recorded as sent in one statement. A message another delivery already claimed is skipped; one that
    fails retryably is handed back as a RetryLater in the result for its own retry task."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE conversations_message SET attempts = 1, claimed_at = %s WHERE id = ANY(%s) "
                       "AND status = %s AND attempts = 0 RETURNING id",
                       [timezone.now(), list(message_ids), MessageStatus.QUEUED])
        claimed = [row[0] for row in cursor.fetchall()]
    messages = list(Message.objects.select_related("lead", "author_user").filter(pk__in=claimed).order_by("id"))
    recipients = _recipients([m.lead for m in messages])
    outcome: dict = {message_id: "skipped" for message_id in message_ids}
    sent: list = []
    for message in messages:
        try:
            outcome[message.pk] = _deliver_claimed(message, 1, recipient=recipients[message.lead_id], sent=sent)
        except RetryLater as later:
            outcome[message.pk] = later
        except Exception as exc:  # marked failed by _deliver_claimed; the rest of the batch still goes
            log.exception("message=%s delivery crashed", message.pk)
            outcome[message.pk] = f"crashed: {exc}"
        else:
            # Each row is marked sent as soon as the provider took it: a worker killed later in the batch leaves
            # no accepted message looking unsent (the stale sweep would send it again). Events stay batched.
            if outcome[message.pk] == MessageStatus.SENT:
                _record_sent_status([message])
    _record_sent(sent, rows_recorded=True)
    return outcome


def _deliver_claimed(message: Message, attempt: int, *, recipient: str, sent: list) -> str:
    """Sends one claimed message; a success is appended to `sent` for `_record_sent`."""
    lead = message.lead
    if message.kind == "voice" and not message.media_url:
        _voice_prepare(message)  # the AI's voice reply: spoken now, once (a retry finds the file made)
    outbound = OutboundMessage(kind=message.kind, to=recipient, text=message.text,
                               media_url=message.media_url or None, caption=message.caption or None,
                               items=message.items, template=message.template)
    try:
        sender = channel(message.provider)
        now = timezone.now()
        window_open = sender.window_open(lead.last_inbound_at, now)
        # Past the window a person (never the AI or a follow-up) may still reply where the channel allows it.
        outbound.human_agent = (not window_open and message.author_kind == AuthorKind.USER
                                and sender.human_window_open(lead.last_inbound_at, now))
        with metrics.provider_call(message.provider):
            result = sender.send(channel_config(message.provider), outbound, window_open=window_open)
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
    message.status, message.provider_message_id, message.sent_at = MessageStatus.SENT, ids[0] if ids else None, \
        timezone.now()
    message.error, message.meta, message.attempts = "", {**message.meta, "provider_ids": ids}, attempt
    sent.append(message)
    return MessageStatus.SENT


def _record_sent(messages: list[Message], *, rows_recorded: bool = False) -> None:
    """Sent messages: their rows in one statement (unless already written), then their live events and
    `messages.sent` (each lead's follow-up schedule)."""
    if not messages:
        return
    health_record(tenant_id=connection.tenant.id, send_ok=True)
    for provider in {message.provider for message in messages}:
        metrics.messages_counted(channel=provider, event="sent", tenant=connection.schema_name,
                                 count=sum(message.provider == provider for message in messages))
    if not rows_recorded:
        _record_sent_status(messages)
    with transaction.atomic():
        _publish_messages_as_stored(messages, "message.updated")
        for message in messages:
            log.info("lead=%s message=%s sent provider=%s attempt=%s", message.lead_id, message.pk,
                     message.provider, message.attempts)
        emit("messages.sent", message_ids=[message.pk for message in messages])


def _record_sent_status(messages: list[Message]) -> None:
    try:
        with transaction.atomic():
            _record_sent_rows(messages)
    except (IntegrityError, psycopg.IntegrityError):  # raw psycopg cursor: Django does not wrap its errors
        # A provider reused a message id we already hold: those messages keep it only in meta.provider_ids.
        for message in messages:
            try:
                with transaction.atomic():
                    _record_sent_rows([message])
            except (IntegrityError, psycopg.IntegrityError):
                message.provider_message_id = None
                _record_sent_rows([message])


def _record_sent_rows(messages: list[Message]) -> None:
    with server_bound_cursor() as cursor:
        cursor.execute(
            "UPDATE conversations_message AS m SET status = %s, error = '', provider_message_id = v.pid, "
            "sent_at = v.at, meta = v.meta, attempts = v.attempts FROM unnest(%s::bigint[], %s::varchar[], "
            "%s::timestamptz[], %s::jsonb[], %s::smallint[]) AS v(id, pid, at, meta, attempts) WHERE m.id = v.id",
            [MessageStatus.SENT, [m.pk for m in messages], [m.provider_message_id for m in messages],
             [m.sent_at for m in messages], [Jsonb(m.meta) for m in messages], [m.attempts for m in messages]])


def _recipient(lead: Lead) -> str:
    return _recipients([lead])[lead.pk]


def _recipients(leads: list[Lead]) -> dict[int, str]:
    """Who each lead is on its current channel (the identity there, else its phone), in one query."""
    found = {(lead_id, channel): identity for lead_id, channel, identity in LeadIdentity.objects.filter(
        lead_id__in={lead.pk for lead in leads}).values_list("lead_id", "channel", "identity")}
    return {lead.pk: found.get((lead.pk, lead.channel)) or lead.phone for lead in leads}


def _mark_failed(message: Message, detail: str, attempt: int) -> None:
    metrics.messages_counted(channel=message.provider, event="failed", tenant=connection.schema_name)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error=detail[:2000], attempts=attempt)
    message.status, message.error = MessageStatus.FAILED, detail
    log.warning("lead=%s message=%s failed: %s", message.lead_id, message.pk, detail)
    with transaction.atomic():
        emit("messages.failed", message_id=message.pk, lead_id=message.lead_id, error=detail[:300])
        _publish_message(message, "message.updated")


# ---------------------------------------------------------------------------------------------------------
# Media: files the product stores and serves at /media/<schema>/<random>.<ext> (buildcrm.media), whose type was
# verified first (conversations.media): a manager's uploaded photo, a client's media fetched from the provider.


def _media_store(*, data: bytes, extension: str) -> str:
    """Stores bytes whose type the caller verified (`extension`: a key of conversations.media.MEDIA_TYPES) under a
    random name in the current tenant's media folder; returns the name."""
    import secrets

    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage

    from conversations.media import MEDIA_TYPES

    if extension not in MEDIA_TYPES:
        raise ValueError(f"media type {extension!r} is not one we serve")
    storage = FileSystemStorage(location=settings.MEDIA_ROOT, base_url=settings.MEDIA_URL)
    name = storage.save(f"{connection.tenant.schema_name}/{secrets.token_hex(16)}.{extension}", ContentFile(data))
    log.info("media stored name=%s bytes=%d", name, len(data))
    return name


def media_save_bytes(*, data: bytes, extension: str, base_url: str = "") -> str:
    """`_media_store`, returning the file's URL (absolute with `base_url`)."""
    return base_url.rstrip("/") + settings.MEDIA_URL + _media_store(data=data, extension=extension)


def media_save_upload(*, upload, base_url: str = "") -> str:
    """Stores an uploaded photo once it has proved to be a JPEG/PNG/WebP/GIF within the size and pixel limits;
    conversations.media.MediaRejected otherwise. The client's file name and content type are ignored."""
    from conversations.media import MediaRejected, image_verified_extension

    limit = settings.MEDIA_UPLOAD_MAX_BYTES
    too_large = MediaRejected(f"Файл больше {limit / 1024 / 1024:.3g} МБ.")
    if upload.size is not None and upload.size > limit:
        raise too_large
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    extension = image_verified_extension(data, max_pixels=settings.MEDIA_IMAGE_MAX_PIXELS)
    return media_save_bytes(data=data, extension=extension, base_url=base_url)


# Inbound media: a worker fetches what Cloud API and Telegram only reference (a media id, a file_id) with the
# tenant's credentials into our media storage, so the PWA can show it; the drain only queues the work.

def tenant_base_url() -> str:
    """The current tenant's own address as a browser reaches it (its primary domain, PUBLIC_URL_SCHEME and
    PUBLIC_URL_PORT), for links made where there is no request: a worker."""
    domain = connection.tenant.get_primary_domain()
    scheme, port = settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{domain.domain}" + ("" if not port or port == default else f":{port}")


def media_reference(message: Message) -> str | None:
    """The provider's reference of a client's media not fetched yet, as its channel reads it from the `media_url`
    its parser wrote (a Cloud API media id, a Telegram file_id). None once fetched or when not a reference."""
    url = message.media_url or ""
    source = find(message.provider)
    if message.direction != Direction.IN or source is None or not url or (message.meta or {}).get("media"):
        return None
    return source.media_ref(url)


def media_fetch_queue(*, messages: list[Message]) -> None:
    """Once the transaction commits, one fetch task per client message whose media is still only a provider's
    reference. Nothing waits for the downloads."""
    ids = [message.pk for message in messages if media_reference(message)]
    if ids:
        transaction.on_commit(lambda: _enqueue_media_fetch(ids))


def _enqueue_media_fetch(message_ids: list[int]) -> None:
    for message_id in message_ids:
        try:
            enqueue("conversations.fetch_media", message_id)
        except Exception as exc:  # the broker is down: the message keeps its reference and says so
            log.warning("message=%s media fetch not queued: %s", message_id, exc)


def message_media_fetch(*, message_id: int, attempt: int = 1) -> str:
    """Fetches one client message's media with the tenant's credentials into the tenant's media folder, points
    `media_url` at our copy (the provider's reference kept in meta.media.ref) and publishes `message.updated`.
    A 5xx or timeout raises RetryLater while attempts remain (MEDIA_FETCH_MAX_ATTEMPTS); then, or for a refusal,
    a file over MEDIA_FETCH_MAX_BYTES or one that is not what it claims, the failure is written on the message
    (`error`, meta.media.error) and published. Returns "fetched", "failed" or "skipped"."""
    message = Message.objects.select_related("lead").filter(pk=message_id).first()
    ref = media_reference(message) if message is not None else None
    if ref is None:
        return "skipped"
    try:
        fetched = channel(message.provider).fetch_media(channel_config(message.provider), ref,
                                                        max_bytes=settings.MEDIA_FETCH_MAX_BYTES)
        mimetype, extension = media_verified(fetched.content, declared=fetched.mimetype or message.mimetype,
                                             max_pixels=settings.MEDIA_IMAGE_MAX_PIXELS)
    except MediaFetchError as exc:
        if exc.retryable and attempt < settings.MEDIA_FETCH_MAX_ATTEMPTS:
            log.warning("lead=%s message=%s media fetch retry attempt=%s: %s", message.lead_id, message.pk, attempt,
                        exc.detail)
            raise RetryLater(retry_delay(attempt), exc.detail, attempt) from None
        return _media_failed(message, exc.detail, too_large=exc.too_large)
    except MediaRejected as exc:
        return _media_failed(message, f"{message.provider}: {exc}")
    except Exception as exc:  # an adapter bug must not leave the message waiting forever
        _media_failed(message, f"{message.provider}: {type(exc).__name__}: {exc}")
        raise
    name = _media_store(data=fetched.content, extension=extension)
    url = tenant_base_url() + settings.MEDIA_URL + name
    meta = {**message.meta, "media": {"ref": message.media_url, "size": len(fetched.content), "mimetype": mimetype}}
    # Only while it still holds the reference: a duplicate task that got here first already did the work.
    if not Message.objects.filter(pk=message.pk, media_url=message.media_url).update(
            media_url=url, mimetype=mimetype, meta=meta, error=""):
        _media_discard(name)
        return "skipped"
    message.media_url, message.mimetype, message.meta = url, mimetype, meta
    log.info("lead=%s message=%s media fetched provider=%s bytes=%s type=%s", message.lead_id, message.pk,
             message.provider, len(fetched.content), mimetype)
    _publish_message(message, "message.updated")
    transcription_queue(messages=[message])
    return "fetched"


def _media_failed(message: Message, detail: str, *, too_large: bool = False) -> str:
    """The media stays the provider's: its reference moves to meta.media.ref, the reason is shown on the message."""
    meta = {**message.meta, "media": {"ref": message.media_url, "error": detail[:500], "too_large": too_large}}
    if not Message.objects.filter(pk=message.pk, media_url=message.media_url).update(
            media_url="", meta=meta, error=f"Медиа не загружено: {detail}"[:2000]):
        return "skipped"
    message.media_url, message.meta = "", meta
    log.warning("lead=%s message=%s media not fetched: %s", message.lead_id, message.pk, detail)
    _publish_message(message, "message.updated")
    transcription_queue(messages=[message])  # it fails at once: the AI asks for text, nothing waits forever
    return "failed"


def _media_discard(name: str) -> None:
    from django.core.files.storage import FileSystemStorage

    FileSystemStorage(location=settings.MEDIA_ROOT).delete(name)


# ---------------------------------------------------------------------------------------------------------
# Voice notes (issue 15). In: a client's voice/audio note is transcribed by a worker (conversations.transcribe)
# once its file is reachable; the AI's turn waits for it (aiagent reads transcript_status) and is triggered by
# `messages.transcribed`. Out: an AI reply queued as kind "voice" with only its text is spoken when it is
# delivered (the tenant's text-to-speech server, else espeak-ng), encoded to OGG/Opus and stored as media.


def speech_to_text_server() -> speech.SpeechServer | None:
    """The tenant's `ai.speech_to_text`, else the platform's SPEECH_TO_TEXT_URL; None when neither is set."""
    own = (tenant_config_current().get("ai") or {}).get("speech_to_text") or {}
    if own.get("base_url"):
        return speech.SpeechServer(base_url=own["base_url"], api_key=own.get("api_key") or "",
                                   model=own.get("model") or settings.SPEECH_TO_TEXT_MODEL)
    if settings.SPEECH_TO_TEXT_URL:
        return speech.SpeechServer(base_url=settings.SPEECH_TO_TEXT_URL, api_key=settings.SPEECH_TO_TEXT_API_KEY,
                                   model=settings.SPEECH_TO_TEXT_MODEL)
    return None


def text_to_speech_server() -> speech.SpeechServer | None:
    """The tenant's `ai.text_to_speech`; None: the built-in voice (espeak-ng)."""
    own = (tenant_config_current().get("ai") or {}).get("text_to_speech") or {}
    if not own.get("base_url"):
        return None
    return speech.SpeechServer(base_url=own["base_url"], api_key=own.get("api_key") or "",
                               model=own.get("model") or "", voice=own.get("voice") or "")


def transcription_queue(*, messages: list[Message]) -> None:
    """Once the transaction commits, one transcription task per client voice note still waiting for its text."""
    ids = [m.pk for m in messages if m.direction == Direction.IN and m.transcript_status == TranscriptStatus.PENDING]
    if ids:
        transaction.on_commit(lambda: _enqueue_transcriptions(ids))


def _enqueue_transcriptions(message_ids: list[int]) -> None:
    for message_id in message_ids:
        try:
            enqueue("conversations.transcribe", message_id)
        except Exception as exc:  # broker down: the AI's turn stops waiting after TRANSCRIPT_WAIT_SECONDS
            log.warning("message=%s transcription not queued: %s", message_id, exc)


def _voice_bytes(message: Message) -> bytes:
    """The note's file: our stored copy (fetched from Cloud API / Telegram), or the provider's link (ChatFlow)
    downloaded to MEDIA_FETCH_MAX_BYTES. MediaFetchError / audio_codec.AudioRejected otherwise."""
    url, limit = message.media_url or "", settings.MEDIA_FETCH_MAX_BYTES
    if not url:
        raise audio_codec.AudioRejected("the file was not fetched from the provider")
    if (message.meta or {}).get("media") and settings.MEDIA_URL in url:
        from django.core.files.storage import FileSystemStorage

        name = url.split(settings.MEDIA_URL, 1)[1]
        if not name.startswith(f"{connection.schema_name}/") or ".." in name:
            raise audio_codec.AudioRejected("the stored file is not this tenant's")
        with FileSystemStorage(location=settings.MEDIA_ROOT).open(name, "rb") as stored:
            return stored.read(limit + 1)[:limit]
    # Our own client: the shared TLS context (a fresh one per download costs more than converting the note).
    own = httpx.Client(timeout=MEDIA_TIMEOUT, follow_redirects=True, verify=speech.tls_context())
    with media_client(own) as client:
        try:
            data, _ = download(client, message.provider, url, max_bytes=limit)
        finally:
            client.close()
    return data


def message_transcribe(*, message_id: int, attempt: int = 1) -> str:
    """A client's voice note → its transcript on the message (`transcript`, status done), published, and
    `messages.transcribed` (the AI's turn for the lead). No speech-to-text configured, a file that is not audio or
    is too long, a refusal, or a server still failing after TRANSCRIBE_MAX_ATTEMPTS → status failed with the reason
    in meta.transcript_error, and the same event (the AI asks for text, the lead is flagged for a person).
    Retryable failures raise RetryLater while attempts remain. Returns "done", "failed" or "skipped"."""
    message = Message.objects.filter(pk=message_id, transcript_status=TranscriptStatus.PENDING).first()
    if message is None or media_reference(message):  # done, or its file not fetched yet (the fetch queues us)
        return "skipped"
    server = speech_to_text_server()
    if server is None:
        return _transcript_failed(message, "speech-to-text is not configured")
    try:
        note = audio_codec.for_transcription(_voice_bytes(message), max_seconds=settings.VOICE_MAX_SECONDS)
        text = speech.transcribe(server, note.content, filename=f"voice.{note.extension}", mimetype=note.mimetype,
                                 max_chars=settings.TRANSCRIPT_MAX_CHARS)
    except (speech.SpeechError, MediaFetchError) as exc:
        if exc.retryable and attempt < settings.TRANSCRIBE_MAX_ATTEMPTS:
            log.warning("lead=%s message=%s transcription retry attempt=%s: %s", message.lead_id, message.pk,
                        attempt, exc.detail)
            raise RetryLater(retry_delay(attempt), exc.detail, attempt) from None
        return _transcript_failed(message, exc.detail)
    except audio_codec.AudioRejected as exc:
        return _transcript_failed(message, f"not a usable voice note: {exc}")
    except Exception as exc:  # a bug must not leave the AI waiting for this note
        _transcript_failed(message, f"{type(exc).__name__}: {exc}")
        raise
    with transaction.atomic():
        if not Message.objects.filter(pk=message.pk, transcript_status=TranscriptStatus.PENDING).update(
                transcript=text, transcript_status=TranscriptStatus.DONE):
            return "skipped"  # a duplicate task got here first
        message.transcript, message.transcript_status = text, TranscriptStatus.DONE
        log.info("lead=%s message=%s transcribed seconds=%.1f chars=%s", message.lead_id, message.pk, note.seconds,
                 len(text))
        _publish_message(message, "message.updated")
        _transcribed(message, ok=True)
    return "done"


def _transcript_failed(message: Message, detail: str) -> str:
    with transaction.atomic():
        meta = {**(message.meta or {}), "transcript_error": detail[:500]}
        if not Message.objects.filter(pk=message.pk, transcript_status=TranscriptStatus.PENDING).update(
                transcript_status=TranscriptStatus.FAILED, meta=meta):
            return "skipped"
        message.transcript_status, message.meta = TranscriptStatus.FAILED, meta
        log.warning("lead=%s message=%s not transcribed: %s", message.lead_id, message.pk, detail)
        _publish_message(message, "message.updated")
        _transcribed(message, ok=False)
    return "failed"


def _transcribed(message: Message, *, ok: bool) -> None:
    if message.lead_id is not None:  # always so once the drain has run (it queues the transcription)
        emit("messages.transcribed", lead_id=message.lead_id, message_id=message.pk, ok=ok)


def _voice_prepare(message: Message) -> None:
    """The AI's reply as a voice note: its text spoken (the tenant's text-to-speech server, else espeak-ng),
    encoded to OGG/Opus and stored as the tenant's media; the message keeps its text. Any failure: the reply goes
    as text instead (kind "text", the reason in meta.tts_error) — nothing is lost."""
    language = (message.meta or {}).get("voice_language") or "ru"
    server = text_to_speech_server()
    try:
        if server is not None:
            spoken = speech.synthesize(server, message.text, language=language)
        else:
            spoken = speech.espeak(message.text, language=language, binary=settings.ESPEAK_NG)
        note = audio_codec.to_voice_note(spoken, max_seconds=settings.VOICE_MAX_SECONDS)
    except (speech.SpeechError, audio_codec.AudioRejected) as exc:
        detail = getattr(exc, "detail", None) or str(exc)
        message.kind, message.meta = "text", {**message.meta, "tts_error": detail[:500]}
        Message.objects.filter(pk=message.pk).update(kind=message.kind, meta=message.meta)
        log.warning("lead=%s message=%s voice reply not spoken, sent as text: %s", message.lead_id, message.pk,
                    detail)
        return
    name = _media_store(data=note.content, extension=note.extension)
    message.media_url, message.mimetype = tenant_base_url() + settings.MEDIA_URL + name, note.mimetype
    message.meta = {**message.meta, "tts": {"engine": "server" if server else "espeak-ng",
                                            "seconds": round(note.seconds, 1)}}
    Message.objects.filter(pk=message.pk).update(media_url=message.media_url, mimetype=message.mimetype,
                                                 meta=message.meta)
    log.info("lead=%s message=%s voice reply spoken engine=%s seconds=%.1f", message.lead_id, message.pk,
             message.meta["tts"]["engine"], note.seconds)
