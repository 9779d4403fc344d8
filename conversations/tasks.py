"""Celery tasks of the send pipeline: thin wrappers over conversations.services."""
from celery import shared_task

from conversations import services


@shared_task(bind=True, name="conversations.deliver_message", acks_late=True, max_retries=None)
def deliver_message(self, message_id: int, attempt: int | None = None) -> str:
    try:
        return services.message_deliver(message_id=message_id, attempt=attempt)
    except services.RetryLater as later:
        raise self.retry(args=(message_id,), kwargs={"attempt": later.attempt + 1}, countdown=later.delay) from None


@shared_task(bind=True, name="conversations.process_inbound", acks_late=True, ignore_result=True, max_retries=600)
def process_inbound(self) -> int:
    """Drains the tenant's stored client messages (kicked by each webhook; also swept by beat)."""
    processed = services.inbound_process_pending()
    if processed is None:  # another drainer holds the tenant: look again shortly, it may have just finished
        raise self.retry(countdown=1)
    return processed
