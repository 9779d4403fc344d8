"""Celery app that carries the tenant schema into every task (tenant-schemas-celery)."""

import logging
import os

from django.db import connection
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
log = logging.getLogger("buildcrm.tasks")

# Tasks whose work a beat sweep finds again on its own (queued sends, pending inbound, unanswered messages, due
# follow-ups): for a suspended tenant they return at once and leave it where it is, for after the resume.
DEFERRED_WHILE_SUSPENDED = frozenset(
    {
        "conversations.deliver_message",
        "conversations.deliver_messages",
        "conversations.process_inbound",
        "conversations.requeue_stale",
        "aiagent.reply",
        "aiagent.tasks.sweep_unanswered",
        "followups.tasks.sweep_due",
        "followups.tasks.reengage",
        "tasks.tasks.remind_due",
        "notifications.tasks.release_held",
    }
)


def tenant_suspended(schema: str) -> bool:
    """Read fresh (one indexed query): the connection's tenant object may be one cached before the suspension."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT status <> 'active' FROM public.tenants_tenant WHERE schema_name = %s", [schema])
        row = cursor.fetchone()
    return bool(row and row[0])


class Task(TenantTask):
    abstract = True

    def __call__(self, *args, **kwargs):
        schema = connection.schema_name
        if self.name in DEFERRED_WHILE_SUSPENDED and schema != "public" and tenant_suspended(schema):
            log.info("tenant=%s task %s deferred: tenant suspended", schema, self.name)
            return None
        return super().__call__(*args, **kwargs)


app = CeleryApp("buildcrm", task_cls="buildcrm.celery:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
