"""Celery tasks of follow-ups: thin wrappers, one run per tenant (beat fans them out in public)."""
from celery import shared_task
from django.conf import settings
from django.db import connection

from core.redis_client import redis_lock
from core.tasks import enqueue
from followups import reminders, services


@shared_task(name="followups.tasks.sweep_due", acks_late=True, ignore_result=True)
def sweep_due() -> dict:
    """Every few seconds: claim due touches of this tenant in batches and send them. One sweep per tenant at a
    time (a beat tick that finds the previous sweep still running returns at once, so sweeps never pile up in the
    queue); the claim itself is safe with any number of sweepers. A sweep runs a short budget and, with rows
    still due, queues its own continuation: behind the deliveries it has just queued, so under a burst the
    worker slots alternate between sweeping and sending instead of sweeping for long while sends wait."""
    budget = settings.FOLLOWUP_SWEEP_BUDGET_SECONDS
    with redis_lock(f"followups:sweep:{connection.schema_name}", timeout=budget + 60) as held:
        if not held:
            return {"busy": 1}
        result = services.followups_sweep(time_budget=budget)
    if result.more:
        enqueue("followups.tasks.sweep_due")
    return result.as_dict()


@shared_task(name="followups.tasks.reengage", acks_late=True, ignore_result=True)
def reengage() -> int:
    """Hourly (each lead at most once per K days): plan re-engagement touches for sleeping leads."""
    return len(services.reengagement_plan())


@shared_task(name="followups.tasks.meeting_reminders", acks_late=True, ignore_result=True)
def meeting_reminders() -> dict:
    """Every few minutes: the client's meeting reminders due now (each exactly once, never in quiet hours)."""
    with redis_lock(f"followups:meeting-reminders:{connection.schema_name}", timeout=600) as held:
        if not held:
            return {"busy": 1}
        return reminders.meeting_reminders_sweep()
