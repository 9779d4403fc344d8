"""Celery tasks of leads: thin wrappers, one run per tenant (beat fans them out in public)."""

from celery import shared_task

from leads import services


@shared_task(name="leads.tasks.decay_scores", acks_late=True, ignore_result=True)
def decay_scores() -> int:
    """Hourly: the score of a lead whose client has been silent a day or more drops (idempotent recompute)."""
    return services.leads_decay_scores()
