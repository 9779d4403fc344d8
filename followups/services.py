"""Writes for follow-ups."""
from __future__ import annotations

import logging

from django.utils import timezone

from followups.models import FollowUp, FollowUpStatus

log = logging.getLogger("buildcrm.followups")


def followups_cancel(*, lead, reason: str, kinds: tuple[str, ...] | None = None) -> int:
    """Cancels the lead's pending follow-ups, keeping why (shown on the lead card)."""
    qs = FollowUp.objects.filter(lead=lead, status=FollowUpStatus.PENDING)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    count = qs.update(status=FollowUpStatus.CANCELLED, reason=reason[:200], done_at=timezone.now())
    if count:
        log.info("lead=%s followups cancelled=%s reason=%s", lead.pk, count, reason)
    return count


def followups_on_client_message(*, lead) -> None:
    """The client answered: the silence is over, so its follow-ups stop; the last touch counts as answered."""
    last_sent = FollowUp.objects.filter(lead=lead, status=FollowUpStatus.SENT, answered=False).order_by("-id").first()
    if last_sent is not None:
        FollowUp.objects.filter(pk=last_sent.pk).update(answered=True)
    followups_cancel(lead=lead, reason="client answered", kinds=("followup", "reengagement"))


def followups_on_outbound_sent(*, lead, message) -> None:
    """Our message now waits for an answer: the follow-up schedule starts (see followups.scheduling)."""
    try:
        from followups.scheduling import schedule_after_outbound
    except ImportError:
        return
    schedule_after_outbound(lead=lead, message=message)
