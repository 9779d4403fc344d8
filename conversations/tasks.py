"""Celery tasks of the send pipeline: thin wrappers over conversations.services."""
from celery import shared_task

from conversations import services


@shared_task(bind=True, name="conversations.deliver_message", acks_late=True, max_retries=None)
def deliver_message(self, message_id: int, attempt: int | None = None) -> str:
    try:
        return services.message_deliver(message_id=message_id, attempt=attempt)
    except services.RetryLater as later:
        raise self.retry(args=(message_id,), kwargs={"attempt": later.attempt + 1}, countdown=later.delay) from None
