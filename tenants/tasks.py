"""Beat runs in the public schema; these fan periodic work out to every tenant's schema."""
import logging

from celery import shared_task
from django_tenants.utils import tenant_context

from core.tasks import enqueue
from tenants.selectors import tenants_active
from tenants.services import tenants_purge_due

log = logging.getLogger("buildcrm.tasks")


@shared_task(name="tenants.tasks.dispatch_to_tenants", ignore_result=True)
def dispatch_to_tenants(task_name: str) -> int:
    """Enqueues `task_name` once per active tenant; tenant-schemas-celery stamps each with its schema."""
    count = 0
    for tenant in tenants_active().only("id", "schema_name", "slug"):
        with tenant_context(tenant):
            enqueue(task_name)
        count += 1
    return count


@shared_task(name="tenants.tasks.purge_deleted", ignore_result=True)
def purge_deleted() -> list[str]:
    """Drops the tenants whose deletion grace period is over (schema, media, public rows)."""
    return tenants_purge_due()
