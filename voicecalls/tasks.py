"""Celery tasks of voice calls: thin wrappers over voicecalls.services."""

from celery import shared_task

from voicecalls import services


@shared_task(bind=True, name="voicecalls.place_call", acks_late=True, ignore_result=True, max_retries=3)
def place_call(self, lead_id: int) -> str:
    """One outbound AI call through Retell; a 5xx, 429 or timeout is tried again a little later (3 times)."""
    try:
        return services.call_place(lead_id=lead_id, final=self.request.retries >= self.max_retries)
    except services.CallRetry as later:
        raise self.retry(countdown=later.delay) from None
