"""Writes of notifications: who is told what when something happens (from the event listeners, in a Celery task),
the in-app row, the live bell, Web Push to every device and the linked Telegram chat; preferences, push
subscriptions and Telegram linking."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from conversations.services import channel_config
from core.realtime import group_account, publish
from core.tasks import enqueue
from integrations import telegram, webpush
from integrations.base import InboundMessage, OutboundMessage, SendError
from leads.models import Lead
from notifications import selectors, texts
from notifications.models import (
    HeldDelivery,
    Kind,
    Notification,
    NotificationPrefs,
    PushSubscription,
    TelegramLinkCode,
    Way,
)
from tasks.models import Task
from tenants.selectors import platform_vapid_keys, tenant_config_current

log = logging.getLogger("buildcrm.notifications")

PUSH_ATTEMPTS = 4  # the first and three retries, 2 s, 4 s, 8 s apart
TELEGRAM_CODE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Push:
    """What a device shows: the service worker reads exactly these keys."""

    title: str
    body: str
    url: str
    tag: str
    kind: str

    def as_dict(self) -> dict:
        return {"title": self.title, "body": self.body, "url": self.url, "tag": self.tag, "kind": self.kind}


def _lead_label(lead: Lead) -> str:
    return lead.name or (f"+{lead.phone}" if lead.phone else f"#{lead.pk}")


def _language() -> str:
    return tenant_config_current().get("language") or "ru"


def notify(
    *, kind: str, lead_id: int | None, user_ids: list[int], body: str = "", now: datetime | None = None
) -> list[int]:
    """Tells each user who may see the lead: an in-app row (and the live bell), pushes to their devices and a
    Telegram message — each as their preferences say; pushes and Telegram held in quiet hours. Returns the users
    told. Never raises for one user's failed delivery."""
    now = now or timezone.now()
    lead = Lead.objects.filter(pk=lead_id).first() if lead_id else None
    if lead_id and lead is None:
        return []
    users = (selectors.users_who_see_lead(user_ids=user_ids, lead_id=lead.pk) if lead is not None
             else list(User.objects.filter(pk__in=set(user_ids), is_active=True).exclude(role="")))
    if not users:
        return []
    cfg = tenant_config_current()
    tz = cfg.get("timezone") or "UTC"
    title = texts.title_of(kind, _language())
    label = _lead_label(lead) if lead is not None else ""
    text = (f"{label}: {body}" if body and label else body or label)[:500]
    url = f"/leads/{lead.pk}" if lead is not None else "/"
    prefs_by_user = {p.user_id: p for p in NotificationPrefs.objects.filter(user__in=users)}
    told = []
    for user in users:
        prefs = prefs_by_user.get(user.pk)
        ways = selectors.prefs_ways(prefs)[kind]
        quiet = selectors.in_quiet_hours(prefs=prefs, now=now, tz=tz)
        if ways[Way.IN_APP]:
            note = Notification.objects.create(user=user, kind=kind, lead_id=lead_id, title=title, body=text, url=url)
            _publish_created(note)
        push = Push(title=title, body=text, url=url, tag=f"{kind}:{lead_id or 0}", kind=kind)
        outside = [way for way in (Way.PUSH, Way.TELEGRAM) if ways[way]]
        if Way.TELEGRAM in outside and (prefs is None or not prefs.telegram_chat_id):
            outside.remove(Way.TELEGRAM)
        if outside and quiet:
            # Held, not lost: sent when the quiet hours end (several of them as one digest).
            HeldDelivery.objects.create(user=user, push=push.as_dict(), ways=list(outside),
                                        release_at=selectors.quiet_hours_end(prefs=prefs, now=now, tz=tz))
        else:
            _deliver_outside(user=user, prefs=prefs, push=push, ways=outside)
        told.append(user.pk)
        log.info("notify kind=%s lead=%s user=%s quiet=%s", kind, lead_id, user.pk, quiet)
    return told


def _deliver_outside(*, user, prefs: NotificationPrefs | None, push: Push, ways: list[str]) -> None:
    if Way.PUSH in ways:
        for subscription in PushSubscription.objects.filter(user=user):
            push_deliver(subscription=subscription, push=push)
    if Way.TELEGRAM in ways and prefs is not None and prefs.telegram_chat_id:
        telegram_say(chat_id=prefs.telegram_chat_id, text=f"{push.title}\n{push.body}".strip())


def held_release(*, now: datetime | None = None, limit: int = 500) -> int:
    """Sends what quiet hours held, once they are over: per user one push (the notification itself, or a digest
    "N notifications" opening the app) and one Telegram message. Claimed and deleted in one transaction (SKIP LOCKED):
    with two sweepers each row goes once. Returns the users reached."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(HeldDelivery.objects.select_for_update(skip_locked=True).filter(release_at__lte=now)
                    .order_by("user_id", "id")[:limit])
        HeldDelivery.objects.filter(pk__in=[row.pk for row in rows]).delete()
    by_user: dict[int, list[HeldDelivery]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    prefs_by_user = {p.user_id: p for p in NotificationPrefs.objects.filter(user_id__in=list(by_user))}
    users = {u.pk: u for u in User.objects.filter(pk__in=list(by_user), is_active=True)}
    language = _language()
    for user_id, held in by_user.items():
        if user_id not in users:
            continue
        ways = sorted({way for row in held for way in row.ways})
        if len(held) == 1:
            push = Push(**held[0].push)
        else:
            titles = "; ".join(dict.fromkeys(row.push.get("title", "") for row in held))
            push = Push(title=texts.held_title(len(held), language), body=titles[:300], url="/",
                        tag="held", kind="held")
        _deliver_outside(user=users[user_id], prefs=prefs_by_user.get(user_id), push=push, ways=ways)
        log.info("notify held released user=%s count=%s", user_id, len(held))
    return len(by_user)


def _publish_created(note: Notification) -> None:
    tenant_id = connection.tenant.pk
    payload = {"type": "notification.created", "notification": {
        "id": note.pk, "kind": note.kind, "lead_id": note.lead_id, "title": note.title, "body": note.body,
        "url": note.url, "created_at": note.created_at.isoformat(), "read_at": None}}
    transaction.on_commit(lambda: publish([group_account(tenant_id, note.user_id)], payload), robust=True)


def push_deliver(*, subscription: PushSubscription, push: Push, attempt: int = 1) -> bool:
    """One push to one device. 404/410 forgets the subscription; a 5xx or a network failure is retried with
    backoff (a task, PUSH_ATTEMPTS in all), and the last failure is logged as such."""
    keys = platform_vapid_keys()
    if keys is None:
        log.warning("push user=%s skipped: no VAPID keys (run setup_platform)", subscription.user_id)
        return False
    try:
        webpush.send(endpoint=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth,
                     payload=push.as_dict(), private_key=keys[0], subject=settings.WEBPUSH_SUBJECT)
    except webpush.PushGone:
        PushSubscription.objects.filter(pk=subscription.pk).delete()
        log.info("push user=%s subscription=%s gone: removed", subscription.user_id, subscription.pk)
        return False
    except webpush.PushFailed as exc:
        PushSubscription.objects.filter(pk=subscription.pk).update(failures=subscription.failures + 1)
        if exc.retryable and attempt < PUSH_ATTEMPTS:
            log.warning("push user=%s subscription=%s attempt %s failed, retrying: %s",
                        subscription.user_id, subscription.pk, attempt, exc)
            enqueue("notifications.tasks.push_retry", subscription.pk, push.as_dict(), attempt + 1,
                    countdown=2 ** attempt)
        else:
            log.error("push user=%s subscription=%s failed for good after %s attempts: %s",
                      subscription.user_id, subscription.pk, attempt, exc)
        return False
    if subscription.failures:
        PushSubscription.objects.filter(pk=subscription.pk).update(failures=0)
    log.info("push user=%s subscription=%s delivered attempt=%s", subscription.user_id, subscription.pk, attempt)
    return True


def telegram_say(*, chat_id: int, text: str) -> None:
    config = channel_config("telegram")
    if not config.get("bot_token"):
        log.info("telegram notification to chat=%s skipped: no bot", chat_id)
        return
    try:
        telegram.send(config, OutboundMessage(kind="text", to=str(chat_id), text=text[:4000]))
    except SendError as exc:
        log.warning("telegram notification to chat=%s failed: %s", chat_id, exc)


# --- who hears of what -------------------------------------------------------------------------------------------


def _assignee_or_staff(lead_id: int) -> list[int]:
    assignee_id = Lead.objects.filter(pk=lead_id).values_list("assignee_id", flat=True).first()
    return [assignee_id] if assignee_id else selectors.staff_ids()


def on_event(event: str, payload: dict) -> int:
    """The notifications one domain event makes (run by the listeners' task, after the emitter committed)."""
    told = 0
    if event == "lead.created":
        told += _new_lead(payload["lead_id"])
    elif event == "messages.received":
        new = {int(i) for i in payload.get("new_lead_ids") or []}
        for lead_id in new:
            told += _new_lead(lead_id)
        replied = [int(i) for i in payload.get("lead_ids") or [] if int(i) not in new]
        for lead_id, assignee_id, last in Lead.objects.filter(pk__in=replied, assignee__isnull=False).values_list(
            "pk", "assignee_id", "last_message"
        ):
            # What the client wrote, as the board shows it (their newest message, when it still is the last one).
            said = str(last.get("text") or "")[:120] if isinstance(last, dict) and last.get("direction") == "in" else ""
            told += len(notify(kind=Kind.CLIENT_REPLIED, lead_id=lead_id, user_ids=[assignee_id], body=said))
    elif event == "lead.call_requested":
        body = str(payload.get("preferred_time") or "")[:200]
        told += len(notify(kind=Kind.CALL_REQUESTED, lead_id=payload["lead_id"],
                           user_ids=_assignee_or_staff(payload["lead_id"]), body=body))
    elif event == "lead.became_hot":
        told += len(notify(kind=Kind.BECAME_HOT, lead_id=payload["lead_id"],
                           user_ids=_assignee_or_staff(payload["lead_id"])))
    elif event == "lead.needs_human":
        told += len(notify(kind=Kind.NEEDS_HUMAN, lead_id=payload["lead_id"],
                           user_ids=_assignee_or_staff(payload["lead_id"]),
                           body=str(payload.get("reason") or "")[:200]))
    elif event == "messages.failed":
        if payload.get("lead_id"):
            told += len(notify(kind=Kind.MESSAGE_FAILED, lead_id=payload["lead_id"],
                               user_ids=_assignee_or_staff(payload["lead_id"]),
                               body=str(payload.get("error") or "")[:200]))
    elif event == "lead.assigned":
        if payload.get("assignee_id"):
            told += len(notify(kind=Kind.ASSIGNED, lead_id=payload["lead_id"], user_ids=[payload["assignee_id"]]))
    elif event == "task.due":
        user_ids = [payload["assignee_id"]] if payload.get("assignee_id") else selectors.staff_ids()
        told += len(notify(kind=Kind.TASK_DUE, lead_id=payload["lead_id"], user_ids=user_ids,
                           body=_task_words(payload.get("task_id"))))
    return told


def _new_lead(lead_id: int) -> int:
    assignee_id = Lead.objects.filter(pk=lead_id).values_list("assignee_id", flat=True).first()
    user_ids = selectors.staff_ids() + ([assignee_id] if assignee_id else [])
    return len(notify(kind=Kind.NEW_LEAD, lead_id=lead_id, user_ids=user_ids))


def _task_words(task_id: int | None) -> str:
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        return ""
    local = timezone.localtime(task.due_at, timezone=_zone()).strftime("%H:%M")
    return f"{task.title or task.get_kind_display()} {local}".strip()


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(tenant_config_current().get("timezone") or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


# --- the user's own settings ---------------------------------------------------------------------------------------


def prefs_get_or_create(*, user) -> NotificationPrefs:
    prefs, _ = NotificationPrefs.objects.get_or_create(user=user)
    return prefs


def prefs_update(*, user, ways: dict | None = None, quiet_start: time | None | str = "keep",
                 quiet_end: time | None | str = "keep") -> NotificationPrefs:
    """Stores the user's choices: `ways` {kind: {way: bool}} merged over what was there; quiet hours as given
    (None clears; "keep" leaves them)."""
    prefs = prefs_get_or_create(user=user)
    if ways is not None:
        merged = selectors.prefs_ways(prefs)
        for kind, by_way in ways.items():
            merged[kind].update({way: bool(on) for way, on in by_way.items()})
        prefs.ways = merged
    if quiet_start != "keep":
        prefs.quiet_start = quiet_start
    if quiet_end != "keep":
        prefs.quiet_end = quiet_end
    prefs.save()
    log.info("notification prefs user=%s quiet=%s-%s", user.pk, prefs.quiet_start, prefs.quiet_end)
    return prefs


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Marks the user's notifications read (these ids, or all); never anyone else's."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    count = qs.update(read_at=timezone.now())
    log.info("notifications user=%s read=%s", user.pk, count)
    return count


def push_subscribe(*, user, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """This device's subscription for the user (a device that changes hands moves to its new user)."""
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300],
                                     "failures": 0})
    log.info("push subscribe user=%s subscription=%s", user.pk, subscription.pk)
    return subscription


def push_unsubscribe(*, user, endpoint: str) -> int:
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    log.info("push unsubscribe user=%s removed=%s", user.pk, deleted)
    return deleted


def telegram_code_new(*, user) -> TelegramLinkCode:
    """A fresh one-time code (the user's older unused ones stop working)."""
    TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).delete()
    code = TelegramLinkCode.objects.create(
        user=user, code=f"{secrets.randbelow(10**8):08d}", expires_at=timezone.now() + TELEGRAM_CODE_TTL)
    log.info("telegram link code user=%s", user.pk)
    return code


def telegram_unlink(*, user) -> None:
    NotificationPrefs.objects.filter(user=user).update(telegram_chat_id=None)
    log.info("telegram unlinked user=%s", user.pk)


# "/start 12345678" (the bot's deep link or typed) or the bare code. A bare number links only when it is a live code:
# a client's 8-digit number is a client's message.
_LINK_TEXT = re.compile(r"^\s*(/start\s+)?(\d{8})\s*$")


def telegram_link_messages(items: list) -> list:
    """The items of a Telegram webhook with the linking messages taken out (they link a user's chat and never become
    a lead's message); every other item as it came."""
    kept = []
    for item in items:
        match = _LINK_TEXT.match(item.text[:64]) if isinstance(item, InboundMessage) and item.kind == "text" else None
        if match is not None and item.identity.lstrip("-").isdigit():
            live = TelegramLinkCode.objects.filter(code=match.group(2), used_at__isnull=True,
                                                   expires_at__gt=timezone.now()).exists()
            if live or match.group(1):
                telegram_link(code=match.group(2), chat_id=int(item.identity))
                continue
        kept.append(item)
    return kept


def telegram_link(*, code: str, chat_id: int) -> User | None:
    """The bot got `code` from `chat_id`: links the code's user (once, within 10 minutes). None when it does not
    match. Answers in the chat either way."""
    now = timezone.now()
    with transaction.atomic():
        found = (TelegramLinkCode.objects.select_for_update().select_related("user")
                 .filter(code=code, used_at__isnull=True, expires_at__gt=now).first())
        if found is not None:
            TelegramLinkCode.objects.filter(pk=found.pk).update(used_at=now)
            NotificationPrefs.objects.filter(telegram_chat_id=chat_id).exclude(user=found.user).update(
                telegram_chat_id=None)
            prefs = prefs_get_or_create(user=found.user)
            prefs.telegram_chat_id = chat_id
            prefs.save(update_fields=["telegram_chat_id"])
    language = _language()
    reply = texts.TELEGRAM_LINKED if found is not None else texts.TELEGRAM_CODE_BAD
    # Answered by a worker: the webhook that brought the code never waits for the Bot API.
    enqueue("notifications.tasks.telegram_say", chat_id, reply.get(language, reply["ru"]))
    log.info("telegram link chat=%s user=%s", chat_id, found.user_id if found else None)
    return found.user if found is not None else None
