from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """A customer company: one PostgreSQL schema. Configuration is one JSON document (secrets encrypted)."""

    slug = models.SlugField(max_length=41, unique=True)
    name = models.CharField(max_length=200)
    webhook_key = models.CharField(max_length=64, unique=True, db_index=True)
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    # The migrated schema that provisioning clones is a tenant row too, so migrate_schemas keeps it current.
    is_template = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Domain(DomainMixin):
    pass


class TenantHealth(models.Model):
    """Technical health the platform owner sees per tenant in admin."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="health")
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_inbound_provider = models.CharField(max_length=32, blank=True)
    last_send_ok_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_source = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"health of {self.tenant.slug}"
