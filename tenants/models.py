from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    # Webhooks answer 503 (providers retry: nothing is lost), users see a page saying so, beat skips the tenant.
    SUSPENDED = "suspended", "Suspended"
    # Suspended, and dropped (schema and media) by beat once `delete_after` has passed.
    DELETING = "deleting", "Marked for deletion"


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
    status = models.CharField(max_length=10, choices=TenantStatus.choices, default=TenantStatus.ACTIVE)
    suspended_at = models.DateTimeField(null=True, blank=True)
    delete_after = models.DateTimeField(null=True, blank=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """New tenants copy the migrated base schema (tenants.schema_clone); the base itself migrates."""
        from django.conf import settings
        from django.db import connection, transaction
        from django_tenants.utils import get_creation_fakes_migrations, schema_exists

        base = settings.TENANT_BASE_SCHEMA
        if (not sync_schema or not get_creation_fakes_migrations() or self.schema_name in (base, "public")
                or not schema_exists(base)):
            return super().create_schema(check_if_exists, sync_schema, verbosity)
        if check_if_exists and schema_exists(self.schema_name):
            return False
        from tenants.schema_clone import schema_clone

        with transaction.atomic():
            schema_clone(base, self.schema_name)
        connection.set_schema_to_public()
        return True


class Domain(DomainMixin):
    pass


class WebhookToken(models.Model):
    """The secret in one provider's webhook URL of one tenant (`/webhooks/<provider>/<token>/`): each provider
    has its own, so whoever sees the Telegram URL cannot post as ChatFlow or amoCRM. Looked up on every
    webhook by (token, provider), one indexed query (tenants.selectors.tenant_by_webhook_key)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_tokens")
    provider = models.CharField(max_length=32)
    token = models.CharField(max_length=64)
    # The tenant's old single webhook_key, carried over by migration 0002 for the providers it was configured
    # for, so live integrations kept working; the admin asks to rotate it.
    legacy = models.BooleanField(default=False)
    rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "provider"], name="uniq_webhook_token"),
            models.UniqueConstraint(fields=["tenant", "provider"], name="uniq_webhook_token_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} webhook of {self.tenant_id}"


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


class PlatformSecret(models.Model):
    """A platform-wide key kept in the public schema (the Web Push VAPID pair): made once by setup_platform.
    `value` is encrypted at rest (core.crypto); `public` is what may be shown (the VAPID public key)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.TextField()
    public = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
