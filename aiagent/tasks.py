"""Celery tasks of the AI manager: thin wrappers over aiagent.services."""
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from aiagent import services
from conversations.models import Direction, Message
from core.db import database_unavailable
from leads.models import Lead

log = logging.getLogger("buildcrm.aiagent")

DATABASE_RETRY_SECONDS = 2.0


@shared_task(bind=True, name="aiagent.reply", acks_late=True)
def ai_reply(self, lead_id: int, message_id: int) -> str:
    try:
        outcome = services.ai_turn_run(lead_id=lead_id, message_id=message_id)
    except Exception as exc:
        if database_unavailable(exc):  # the database went away mid-turn: no reply was written, run it again
            log.warning("lead=%s ai turn interrupted, database unavailable: %s", lead_id, exc)
            raise self.retry(countdown=DATABASE_RETRY_SECONDS) from None
        services.ai_turn_failed(lead_id=lead_id, message_id=message_id, error=f"{type(exc).__name__}: {exc}")
        log.exception("lead=%s ai turn crashed", lead_id)
        return "failed"
    if outcome == "busy":  # another turn of the same lead runs: retried for as long as its lock may live
        raise self.retry(countdown=services.BUSY_RETRY_SECONDS, max_retries=services.busy_retries())
    return outcome


@shared_task(name="aiagent.first_contact", acks_late=True)
def ai_first_contact(lead_id: int) -> int:
    return len(services.ai_first_contact(lead_id=lead_id))


@shared_task(name="aiagent.tasks.sweep_unanswered", ignore_result=True)
def sweep_unanswered() -> int:
    """Safety net: a client message whose turn was never queued (broker down at commit), got lost or died with its
    worker gets a turn now. Looks only at the last day, past AI_UNANSWERED_AFTER_SECONDS (well beyond the
    debounce)."""
    now = timezone.now()
    leads = (Lead.objects.filter(last_inbound_at__lt=now - timedelta(seconds=settings.AI_UNANSWERED_AFTER_SECONDS),
                                 last_inbound_at__gt=now - timedelta(days=1), ai_enabled=True, handler__isnull=True,
                                 refused=False)
             .exclude(last_outbound_at__gt=F("last_inbound_at")).only("id", "ai_state")[:200])
    count = 0
    for lead in leads:
        newest = (Message.objects.filter(lead=lead, direction=Direction.IN).order_by("-id")
                  .values_list("id", flat=True).first())
        if newest and newest > int((lead.ai_state or {}).get("answered_upto", 0)):
            ai_reply.delay(lead.pk, newest)
            count += 1
    if count:
        log.info("ai sweep queued=%s unanswered turns", count)
    return count
