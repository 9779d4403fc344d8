"""Celery tasks of the send pipeline: thin wrappers over conversations.services."""
import logging

from celery import shared_task

from conversations import services

log = logging.getLogger("buildcrm.conversations")


@shared_task(bind=True, name="conversations.deliver_message", acks_late=True, max_retries=None)
def deliver_message(self, message_id: int, attempt: int | None = None) -> str:
    try:
        return services.message_deliver(message_id=message_id, attempt=attempt)
    except services.RetryLater as later:
        raise self.retry(args=(message_id,), kwargs={"attempt": later.attempt + 1}, countdown=later.delay) from None


@shared_task(name="conversations.deliver_messages", acks_late=True)
def deliver_messages(message_ids: list[int]) -> int:
    """A batch queued at once (the follow-up sweep): each message's first attempt here, retries on their own.
    Run again after a crash, the messages already sent find their attempt taken and are skipped."""
    sent = 0
    for message_id in message_ids:
        try:
            sent += services.message_deliver(message_id=message_id, attempt=1) == services.MessageStatus.SENT
        except services.RetryLater as later:
            deliver_message.apply_async((message_id,), {"attempt": later.attempt + 1}, countdown=later.delay)
        except Exception:  # message_deliver marked it failed; the rest of the batch still goes
            log.exception("message=%s delivery crashed", message_id)
    return sent


@shared_task(bind=True, name="conversations.process_inbound", acks_late=True, ignore_result=True, max_retries=600)
def process_inbound(self) -> int:
    """Drains the tenant's stored client messages (kicked by each webhook; also swept by beat)."""
    processed = services.inbound_process_pending()
    if processed is None:  # another drainer holds the tenant: look again shortly, it may have just finished
        raise self.retry(countdown=1)
    return processed
