"""Celery tasks of tasks: the due-reminder sweep (beat fans it out to every tenant)."""
from celery import shared_task

from tasks import services


@shared_task(name="tasks.tasks.remind_due", acks_late=True, ignore_result=True)
def remind_due() -> int:
    """Every minute: `task.due` once for each task that came due (the claim makes it once with any sweepers)."""
    return len(services.tasks_due_sweep())
