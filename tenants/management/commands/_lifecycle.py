"""Shared by the lifecycle commands: the customer tenant a slug names, or a clear CommandError."""

from django.core.management.base import CommandError

from tenants.models import Tenant


def customer_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug, is_template=False).exclude(schema_name="public").first()
    if tenant is None:
        raise CommandError(f"no tenant {slug!r}")
    return tenant
