"""Celery tasks of follow-ups: thin wrappers, one run per tenant (beat fans them out in public)."""
import redis
from celery import shared_task
from django.conf import settings
from django.db import connection

from followups import services

SWEEP_BUDGET_SECONDS = 10.0
_client = None


def _redis():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


@shared_task(name="followups.tasks.sweep_due", acks_late=True, ignore_result=True)
def sweep_due() -> dict:
    """Every few seconds: claim due touches of this tenant in batches and send them. One sweep per tenant at a
    time (a beat tick that finds the previous sweep still running returns at once, so sweeps never pile up in the
    queue ahead of deliveries); the claim itself is safe with any number of sweepers."""
    lock = _redis().lock(f"followups:sweep:{connection.schema_name}", timeout=SWEEP_BUDGET_SECONDS + 60)
    if not lock.acquire(blocking=False):
        return {"busy": 1}
    try:
        return services.followups_sweep(time_budget=SWEEP_BUDGET_SECONDS).as_dict()
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass


@shared_task(name="followups.tasks.reengage", acks_late=True, ignore_result=True)
def reengage() -> int:
    """Hourly (each lead at most once per K days): plan re-engagement touches for sleeping leads."""
    return len(services.reengagement_plan())
