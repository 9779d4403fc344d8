"""Celery tasks of follow-ups: thin wrappers, one run per tenant (beat fans them out in public)."""
from celery import shared_task
from django.db import connection
from redis.exceptions import LockError

from buildcrm.redis_client import redis_client
from followups import services

SWEEP_BUDGET_SECONDS = 10.0


@shared_task(name="followups.tasks.sweep_due", acks_late=True, ignore_result=True)
def sweep_due() -> dict:
    """Every few seconds: claim due touches of this tenant in batches and send them. One sweep per tenant at a
    time (a beat tick that finds the previous sweep still running returns at once, so sweeps never pile up in the
    queue ahead of deliveries); the claim itself is safe with any number of sweepers."""
    lock = redis_client().lock(f"followups:sweep:{connection.schema_name}", timeout=SWEEP_BUDGET_SECONDS + 60)
    if not lock.acquire(blocking=False):
        return {"busy": 1}
    try:
        return services.followups_sweep(time_budget=SWEEP_BUDGET_SECONDS).as_dict()
    finally:
        try:
            lock.release()
        except LockError:
            pass


@shared_task(name="followups.tasks.reengage", acks_late=True, ignore_result=True)
def reengage() -> int:
    """Hourly (each lead at most once per K days): plan re-engagement touches for sleeping leads."""
    return len(services.reengagement_plan())
