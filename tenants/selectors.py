"""Reads for tenants."""
from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import Domain, Tenant


def tenants_active() -> QuerySet[Tenant]:
    return Tenant.objects.filter(is_active=True, is_template=False).exclude(schema_name="public")


def tenant_by_webhook_key(key: str) -> Tenant | None:
    return tenants_active().filter(webhook_key=key).first()


def tenant_by_host(host: str) -> Tenant | None:
    """The tenant a Host header names (port stripped), public included; None when unknown."""
    hostname = host.split(":", 1)[0].strip().lower().rstrip(".")
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    return domain.tenant if domain else None


def tenant_pending_work(tenant: Tenant) -> dict:
    """Counts of work still under way in a tenant's schema (for the admin health view)."""
    from django_tenants.utils import tenant_context

    from conversations.models import Message
    from followups.models import FollowUp

    with tenant_context(tenant):
        return {
            "queued_messages": Message.objects.filter(status="queued").count(),
            "failed_messages": Message.objects.filter(status="failed").count(),
            "pending_followups": FollowUp.objects.filter(status="pending").count(),
        }
