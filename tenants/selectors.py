"""Reads for tenants."""
from __future__ import annotations

import json

from django.db import connection
from django.db.models import QuerySet

from buildcrm.db import server_bound_cursor
from buildcrm.hosts import hostname
from tenants.models import Domain, Tenant

_CONFIGS: dict[tuple, dict] = {}


def tenant_config_current(*, fresh: bool = False) -> dict:
    """The current tenant's full configuration, secrets decrypted (for our own code, never for display), merged
    and decrypted once per process and stored document. `fresh`: the stored document is read from the database
    first (the follow-up sweep: a change imported a moment ago applies to the very next sweep). The dict is
    shared: read it, never change it."""
    from tenants.services import tenant_config_get

    tenant = connection.tenant
    if fresh:
        tenant = Tenant(pk=tenant.pk, config=Tenant.objects.filter(pk=tenant.pk).values_list("config", flat=True)
                        .first() or {})
    key = (tenant.pk, json.dumps(tenant.config or {}, sort_keys=True, default=str))
    hit = _CONFIGS.get(key)
    if hit is None:
        if len(_CONFIGS) > 500:
            _CONFIGS.clear()
        hit = _CONFIGS[key] = tenant_config_get(tenant)
    return hit


def tenants_active() -> QuerySet[Tenant]:
    return Tenant.objects.filter(is_active=True, is_template=False).exclude(schema_name="public")


_TENANT_FIELDS = Tenant._meta.concrete_fields
# Schema-qualified, so it reads the same whatever tenant's search path the connection is on.
_TENANT_BY_KEY_SQL = (
    f"SELECT {', '.join(f.column for f in _TENANT_FIELDS)} FROM public.{Tenant._meta.db_table} "
    "WHERE webhook_key = %s AND is_active AND NOT is_template AND schema_name <> 'public'"
)


def tenant_by_webhook_key(key: str) -> Tenant | None:
    """The active tenant a webhook key names. Runs on every webhook, never cached (a new app secret applies
    to the very next one), so it skips the ORM's query compiler: a quarter of the cost of `.first()`."""
    with server_bound_cursor() as cursor:
        cursor.execute(_TENANT_BY_KEY_SQL, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
              for f, v in zip(_TENANT_FIELDS, row, strict=True)]
    return Tenant.from_db(connection.alias, [f.attname for f in _TENANT_FIELDS], values)


def tenant_by_host(host: str) -> Tenant | None:
    """The tenant a Host header names (port stripped), public included; None when unknown."""
    domain = Domain.objects.select_related("tenant").filter(domain=hostname(host)).first()
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
            # Client messages stored but not yet processed by the inbound drain, and those it set aside.
            "inbound_pending": Message.objects.filter(inbound_pending=True).count(),
            "inbound_set_aside": Message.objects.filter(inbound_pending=False).exclude(inbound_error="").count(),
        }
