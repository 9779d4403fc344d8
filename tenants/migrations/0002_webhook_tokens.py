"""Each provider's webhook URL gets its own secret token (before: one `webhook_key` for every provider), and
new amoCRM leads are greeted over the tenant's configured WhatsApp channel by default.

Existing tenants: a provider already configured keeps the old `webhook_key` as its token (marked `legacy`), so
the URL registered at ChatFlow, Meta, Telegram or amoCRM goes on working after the deploy — a fresh token
would turn every live integration into 404s until someone re-registered it (amoCRM switches failing hooks
off). The admin flags legacy tokens and rotates them. A provider not configured gets a fresh token (its old
URL answers 404 anyway: an unconfigured provider's URL never opens).

`outbound_channel: "sandbox"` was the stored default of every tenant; it becomes `auto` (the configured
WhatsApp channel, else the sandbox), which is what the contract names as the default.
"""
import secrets

import django.db.models.deletion
from django.db import migrations, models

# Frozen copy of tenants.selectors.WEBHOOK_PROVIDERS as of this migration.
REQUIRED = {
    "chatflow": (("channels", "chatflow"), ("token", "instance_id")),
    "whatsapp": (("channels", "whatsapp_cloud"), ("app_secret",)),
    "telegram": (("channels", "telegram"), ("bot_token", "secret_token")),
    "amocrm": (("amocrm",), ("base_url",)),
}


def _configured(config: dict, path: tuple, keys: tuple) -> bool:
    section = config
    for key in path:
        section = section.get(key) if isinstance(section, dict) else None
    return isinstance(section, dict) and all(section.get(key) for key in keys)


def give_each_provider_a_token(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    WebhookToken = apps.get_model("tenants", "WebhookToken")
    rows = []
    for tenant in Tenant.objects.filter(is_template=False).exclude(schema_name="public"):
        for provider, (path, keys) in REQUIRED.items():
            legacy = _configured(tenant.config or {}, path, keys)
            rows.append(WebhookToken(tenant=tenant, provider=provider, legacy=legacy,
                                     token=tenant.webhook_key if legacy else secrets.token_urlsafe(24)))
    WebhookToken.objects.bulk_create(rows)


def greet_over_whatsapp_by_default(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.exclude(schema_name="public"):
        if (tenant.config or {}).get("outbound_channel") == "sandbox":
            Tenant.objects.filter(pk=tenant.pk).update(config={**tenant.config, "outbound_channel": "auto"})


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=32)),
                ('token', models.CharField(max_length=64)),
                ('legacy', models.BooleanField(default=False)),
                ('rotated_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_tokens', to='tenants.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('token', 'provider'), name='uniq_webhook_token'), models.UniqueConstraint(fields=('tenant', 'provider'), name='uniq_webhook_token_per_provider')],
            },
        ),
        migrations.RunPython(give_each_provider_a_token, migrations.RunPython.noop),
        migrations.RunPython(greet_over_whatsapp_by_default, migrations.RunPython.noop),
    ]
