"""Celery tasks of the send pipeline: thin wrappers over conversations.services."""
from celery import shared_task

from conversations import services


@shared_task(bind=True, name="conversations.deliver_message", acks_late=True, max_retries=None)
def deliver_message(self, message_id: int, attempt: int | None = None) -> str:
    try:
        return services.message_deliver(message_id=message_id, attempt=attempt)
    except services.RetryLater as later:
        raise self.retry(args=(message_id,), kwargs={"attempt": later.attempt + 1}, countdown=later.delay) from None


@shared_task(name="conversations.deliver_messages", acks_late=True)
def deliver_messages(message_ids: list[int]) -> int:
    """A batch queued at once (the follow-up sweep): first attempts here, retries as tasks of their own.
    Run again after a crash, the messages already claimed are skipped."""
    outcome = services.messages_deliver(message_ids=message_ids)
    for message_id, result in outcome.items():
        if isinstance(result, services.RetryLater):
            deliver_message.apply_async((message_id,), {"attempt": result.attempt + 1}, countdown=result.delay)
    return sum(1 for result in outcome.values() if result == services.MessageStatus.SENT)


@shared_task(bind=True, name="conversations.process_inbound", acks_late=True, ignore_result=True, max_retries=600)
def process_inbound(self) -> int:
    """Drains the tenant's stored client messages (kicked by each webhook; also swept by beat)."""
    processed = services.inbound_process_pending()
    if processed is None:  # another drainer holds the tenant: look again shortly, it may have just finished
        raise self.retry(countdown=1)
    return processed


@shared_task(name="conversations.requeue_stale", acks_late=True, ignore_result=True)
def requeue_stale() -> int:
    """Every minute (beat fans it out to every tenant): queued messages no worker got."""
    return services.messages_requeue_stale()


@shared_task(bind=True, name="conversations.fetch_media", acks_late=True, ignore_result=True, max_retries=None)
def fetch_media(self, message_id: int, attempt: int = 1) -> str:
    """A client's media fetched from its provider into our storage (queued by the inbound drain); retries with
    backoff are bounded by MEDIA_FETCH_MAX_ATTEMPTS in the service."""
    try:
        return services.message_media_fetch(message_id=message_id, attempt=attempt)
    except services.RetryLater as later:
        raise self.retry(args=(message_id,), kwargs={"attempt": later.attempt + 1}, countdown=later.delay) from None


@shared_task(bind=True, name="conversations.transcribe", acks_late=True, ignore_result=True, max_retries=None)
def transcribe(self, message_id: int, attempt: int = 1) -> str:
    """A client's voice note to text (queued by the inbound drain or once its file is fetched); then the AI's turn.
    Retries with backoff are bounded by TRANSCRIBE_MAX_ATTEMPTS in the service."""
    try:
        return services.message_transcribe(message_id=message_id, attempt=attempt)
    except services.RetryLater as later:
        raise self.retry(args=(message_id,), kwargs={"attempt": later.attempt + 1}, countdown=later.delay) from None


@shared_task(name="conversations.fetch_profile", acks_late=True, ignore_result=True)
def fetch_profile(lead_id: int) -> str:
    """A new lead's name looked up at its channel (Instagram's profile), once."""
    return services.lead_profile_fetch(lead_id=lead_id)
