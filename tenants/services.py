"""Writes for tenants: provisioning, configuration import, health records."""
from __future__ import annotations

import logging
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from core.crypto import encrypt
from core.events import emit
from core.realtime import group_tenant, publish
from integrations import webpush, wwebjs
from integrations.base import SendError
from tenants import config as tconfig
from tenants.models import Domain, PlatformSecret, Tenant, TenantHealth, TenantStatus, WebhookToken
from tenants.schema_clone import base_schema_refresh
from tenants.selectors import VAPID_SECRET, WEBHOOK_PROVIDERS, tenant_config_get, webhook_tokens, webhook_urls

log = logging.getLogger("buildcrm.tenants")

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,40}$")
RESERVED_SLUGS = {"public", "www", "admin", "api", "static", "media", "webhooks", "ws", "app", "mail",
                  "platform", "tenant-base", "tenant_base", "root", "postgres", "pg-catalog", "information-schema"}


class ProvisioningError(ValueError):
    pass


@dataclass
class ProvisionResult:
    tenant: Tenant
    domain: str
    webhook_key: str

    def as_dict(self) -> dict:
        """What provision_tenant prints (contract section 3): one URL per provider, each with its own token."""
        return {
            "slug": self.tenant.slug,
            "domain": self.domain,
            "webhook_key": self.webhook_key,
            "webhooks": webhook_urls(self.tenant),
        }


def tenant_domain_for(slug: str) -> str:
    return f"{slug}.{settings.TENANT_BASE_DOMAIN}"


def slug_check(slug: str) -> None:
    if not SLUG_RE.fullmatch(slug or ""):
        raise ProvisioningError(f"invalid slug {slug!r}: use a-z, 0-9 and '-', start with a letter, 2–41 characters")
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise ProvisioningError(f"slug {slug!r} is reserved")
    schema = slug.replace("-", "_")
    if Tenant.objects.filter(slug=slug).exists() or Tenant.objects.filter(schema_name=schema).exists():
        raise ProvisioningError(f"slug {slug!r} is taken")
    if Domain.objects.filter(domain=tenant_domain_for(slug)).exists():
        raise ProvisioningError(f"domain {tenant_domain_for(slug)} is taken")


def platform_setup(*, admin_email: str | None = None, admin_password: str | None = None) -> None:
    """Readies the public tenant, its domain and the base schema that provisioning clones."""
    public, _ = Tenant.objects.get_or_create(
        schema_name="public", defaults={"slug": "public", "name": "Platform", "webhook_key": secrets.token_hex(16)}
    )
    Domain.objects.get_or_create(domain=settings.PUBLIC_DOMAIN, defaults={"tenant": public, "is_primary": True})
    base = settings.TENANT_BASE_SCHEMA
    if not Tenant.objects.filter(schema_name=base).exists():
        # Created by running every migration once; later tenants clone it.
        Tenant.objects.create(schema_name=base, slug="tenant-base", name="Base schema (template)",
                              webhook_key=secrets.token_hex(16), is_template=True, is_active=False)
    platform_vapid_ensure()
    if admin_email and admin_password:
        User = get_user_model()  # the platform owner: the user model, named through Django's registry
        with schema_context("public"):
            user = User.objects.filter(email=admin_email.lower()).first()
            if user is None:
                User.objects.create_superuser(admin_email, admin_password, full_name="Platform owner")
            log.info("platform admin=%s ready", admin_email)


def platform_vapid_ensure() -> str:
    """The platform's Web Push (VAPID) key pair, made once and kept in the public schema; returns its public key.
    Idempotent: a second run (or a second process racing the first) keeps the pair the browsers subscribed with."""
    with schema_context("public"):
        found = PlatformSecret.objects.filter(name=VAPID_SECRET).first()
        if found is not None:
            return found.public
        keys = webpush.vapid_keys_new()
        secret, created = PlatformSecret.objects.get_or_create(
            name=VAPID_SECRET, defaults={"value": encrypt(keys.private_key), "public": keys.public_key}
        )
    if created:
        log.info("platform vapid keys created")
    return secret.public


def tenant_provision(*, slug: str, name: str, owner_email: str, owner_password: str,
                     timezone_name: str = "Asia/Almaty", preset: str = "construction",
                     owner_name: str = "") -> ProvisionResult:
    """Creates a tenant: schema (cloned from the base), domain, owner, default stages and settings."""
    slug_check(slug)
    try:
        validate_password(owner_password)
    except ValidationError as exc:
        raise ProvisioningError("owner password: " + " ".join(exc.messages)) from None
    if not schema_exists(settings.TENANT_BASE_SCHEMA):
        raise ProvisioningError("the platform is not set up: run `python manage.py setup_platform` first")
    base_schema_refresh(settings.TENANT_BASE_SCHEMA)  # a migration added since: the base catches up first
    document = tconfig.default_config(preset)
    document["timezone"] = tconfig.validate({"timezone": timezone_name})["timezone"]
    document["company"] = name
    tenant = Tenant(
        schema_name=slug.replace("-", "_"), slug=slug, name=name, webhook_key=secrets.token_urlsafe(24),
        config=tconfig.encrypt_secrets(document),
    )
    try:
        tenant.save(verbosity=0)  # creates the schema by cloning TENANT_BASE_SCHEMA
        domain = tenant_domain_for(slug)
        with transaction.atomic():
            Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
            TenantHealth.objects.create(tenant=tenant)
            WebhookToken.objects.bulk_create([WebhookToken(tenant=tenant, provider=provider, token=_new_token())
                                              for provider in WEBHOOK_PROVIDERS])
            with schema_context(tenant.schema_name):
                # The apps that own a new tenant's first rows make them here, in this transaction (accounts: the
                # owner; leads: the default stages). The password travels hashed, never in clear.
                emit("tenant.provisioned", tenant_id=tenant.pk, owner_email=owner_email, owner_name=owner_name,
                     owner_password_hash=make_password(owner_password))
    except Exception:
        # Nothing half-made stays behind: drop the schema and the rows.
        connection.set_schema_to_public()
        if tenant.pk:
            tenant.delete(force_drop=True)
        raise
    log.info("tenant=%s provisioned domain=%s by=system", slug, domain)
    return ProvisionResult(tenant=tenant, domain=domain, webhook_key=tenant.webhook_key)


def _new_token() -> str:
    return secrets.token_urlsafe(24)  # 32 URL-safe characters, 192 bits


def webhook_token_rotate(*, tenant: Tenant, provider: str, by: str = "") -> WebhookToken:
    """Gives the tenant's `provider` webhook URL a new token: the old URL answers 404 from the next webhook on
    (register the new one at the provider)."""
    if provider not in WEBHOOK_PROVIDERS:
        raise ValueError(f"unknown webhook provider {provider!r}")
    token, _ = WebhookToken.objects.update_or_create(
        tenant=tenant, provider=provider,
        defaults={"token": _new_token(), "legacy": False, "rotated_at": timezone.now()})
    log.info("tenant=%s webhook token %s rotated by=%s", tenant.slug, provider, by or "system")
    return token


def tenant_config_export(tenant: Tenant, *, with_secrets: bool = False) -> dict:
    document = tenant_config_get(tenant)
    return document if with_secrets else tconfig.mask_secrets(document)


@transaction.atomic
def tenant_config_import(tenant: Tenant, document: dict) -> dict:
    """Validates the whole document, then applies it in one write; nothing changes on error."""
    checked = tconfig.validate(document)
    current = tenant_config_get(tenant)
    merged = tconfig.merge(current, checked)
    bridge = (merged.get("channels") or {}).get("wwebjs")
    if isinstance(bridge, dict) and bridge.get("enabled") is True:
        merged["channels"]["wwebjs"] = _wwebjs_platform_section(tenant, bridge)
    tconfig.validate(merged)
    tenant.config = tconfig.encrypt_secrets(merged)
    Tenant.objects.filter(pk=tenant.pk).update(config=tenant.config)
    log.info("tenant=%s config imported keys=%s", tenant.slug, ",".join(sorted(checked)))
    return merged


def health_record(*, tenant_id: int, inbound_provider: str | None = None, send_ok: bool = False,
                  error: str | None = None, source: str = "") -> None:
    """Updates the tenant's technical health; cheap single UPDATE, callable from any schema. Good news (an
    inbound event, a send that worked) is written at most about once a second: under a burst of webhooks or
    sends the UPDATE matches no row, so it writes no WAL and costs no extra durable commit per message."""
    from django.db.models import Q

    now = timezone.now()
    rows = TenantHealth.objects.filter(tenant_id=tenant_id)
    fields: dict = {}
    if inbound_provider:
        fields.update(last_inbound_at=now, last_inbound_provider=inbound_provider)
    if send_ok:
        fields["last_send_ok_at"] = now
    if error:
        fields.update(last_error_at=now, last_error=error[:2000], last_error_source=source)
    elif fields:
        recent = now - timedelta(seconds=1)
        if inbound_provider:
            rows = rows.filter(Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=recent)
                               | ~Q(last_inbound_provider=inbound_provider))
        if send_ok:
            rows = rows.filter(Q(last_send_ok_at__isnull=True) | Q(last_send_ok_at__lt=recent))
    if fields:
        rows.update(**fields)


# ---------------------------------------------------------------------------------------------------------
# Lifecycle: suspend, resume, delete after a grace period (global admin actions and CLI commands).


class LifecycleError(ValueError):
    pass


def _lifecycle_target(tenant: Tenant) -> None:
    if tenant.schema_name == "public" or tenant.is_template:
        raise LifecycleError(f"{tenant.slug} is not a customer tenant")


def tenant_suspend(*, tenant: Tenant, by: str = "") -> Tenant:
    """Webhooks answer 503 from now on (providers retry them later: nothing is lost), users see a page saying the
    account is suspended, beat skips the tenant (its due follow-ups and drains wait). Resume undoes it."""
    _lifecycle_target(tenant)
    if tenant.status == TenantStatus.ACTIVE:
        tenant.status, tenant.suspended_at = TenantStatus.SUSPENDED, timezone.now()
        Tenant.objects.filter(pk=tenant.pk).update(status=tenant.status, suspended_at=tenant.suspended_at)
        log.info("tenant=%s suspended by=%s", tenant.slug, by or "system")
        _sockets_close(tenant)
    return tenant


def _sockets_close(tenant: Tenant) -> None:
    """Closes the tenant's open board sockets once the change is committed (reconnects are refused until resume)."""
    tenant_id = tenant.pk
    transaction.on_commit(lambda: publish([group_tenant(tenant_id)], {"tenant": tenant_id},
                                          handler="tenant.suspended"))


def tenant_resume(*, tenant: Tenant, by: str = "") -> Tenant:
    """Back to active (also cancels a pending deletion); beat's sweeps take up the waiting work at once."""
    _lifecycle_target(tenant)
    if tenant.status != TenantStatus.ACTIVE:
        tenant.status, tenant.suspended_at, tenant.delete_after = TenantStatus.ACTIVE, None, None
        Tenant.objects.filter(pk=tenant.pk).update(status=tenant.status, suspended_at=None, delete_after=None)
        log.info("tenant=%s resumed by=%s", tenant.slug, by or "system")
    return tenant


def tenant_delete_mark(*, tenant: Tenant, grace_days: float | None = None, by: str = "") -> Tenant:
    """Suspends the tenant now and deletes it (schema, media, public rows) once `grace_days` (default
    TENANT_DELETE_GRACE_DAYS) have passed; resume before then keeps everything."""
    _lifecycle_target(tenant)
    days = settings.TENANT_DELETE_GRACE_DAYS if grace_days is None else grace_days
    if days < 0:
        raise LifecycleError("the grace period cannot be negative")
    now = timezone.now()
    tenant.status, tenant.suspended_at = TenantStatus.DELETING, tenant.suspended_at or now
    tenant.delete_after = now + timedelta(days=days)
    Tenant.objects.filter(pk=tenant.pk).update(status=tenant.status, suspended_at=tenant.suspended_at,
                                               delete_after=tenant.delete_after)
    log.info("tenant=%s marked for deletion after=%s by=%s", tenant.slug, tenant.delete_after.isoformat(),
             by or "system")
    _sockets_close(tenant)
    return tenant


def tenant_media_dir(tenant: Tenant) -> Path:
    """Where the tenant's stored media live (conversations' media storage: MEDIA_ROOT/<schema>/)."""
    return Path(settings.MEDIA_ROOT) / tenant.schema_name


def tenants_purge_due(*, now: datetime | None = None) -> list[str]:
    """Drops every tenant marked for deletion whose grace period is over: its schema, its media, its public rows
    (domains, webhook tokens, health). Returns their slugs."""
    now = now or timezone.now()
    purged = []
    for tenant in Tenant.objects.filter(status=TenantStatus.DELETING, delete_after__lte=now, is_template=False) \
            .exclude(schema_name="public"):
        media = tenant_media_dir(tenant)
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)  # DROP SCHEMA … CASCADE, then the rows that reference the tenant
        shutil.rmtree(media, ignore_errors=True)
        log.info("tenant=%s deleted: schema dropped, media removed", tenant.slug)
        purged.append(tenant.slug)
    return purged


def _wwebjs_platform_section(tenant: Tenant, section: dict) -> dict:
    """The platform's own bridge (BRIDGE_SECRET set): a section without its session gets the tenant's slug and the
    secret derived for it, so `{"enabled": true}` is all a tenant needs to write. Without that bridge: as it is."""
    if not settings.BRIDGE_SECRET or (section.get("secret") and section.get("session")):
        return section
    return {**section, "bridge_url": section.get("bridge_url") or settings.BRIDGE_URL, "session": tenant.slug,
            "secret": wwebjs.tenant_secret(settings.BRIDGE_SECRET, tenant.slug)}


def wwebjs_session_call(*, tenant: Tenant, action: str, by: str = "") -> dict:
    """Starts (`start`: the bridge opens the tenant's WhatsApp Web session and posts what it receives to the
    tenant's wwebjs webhook URL) or ends (`logout`) the tenant's session on the bridge. Returns the bridge's answer
    {"state", "qr"} or {"state": "unreachable", "detail"}."""
    if action not in ("start", "logout"):
        raise ValueError(f"unknown bridge action {action!r}")
    section = (tenant_config_get(tenant).get("channels") or {}).get("wwebjs") or {}
    if action == "start" and settings.BRIDGE_SECRET and not (section.get("secret") and section.get("session")):
        section = _wwebjs_platform_section(tenant, section)
        tenant_config_import(tenant, {"channels": {"wwebjs": section}})
    payload: dict = {}
    if action == "start":
        token = webhook_tokens(tenant).get(wwebjs.PROVIDER)
        token = token or webhook_token_rotate(tenant=tenant, provider=wwebjs.PROVIDER, by=by)
        payload = {"token": token.token}
    try:
        response = wwebjs.bridge_call(section, action, payload)
    except SendError as exc:
        log.warning("tenant=%s wwebjs %s failed: %s", tenant.slug, action, exc.detail)
        return {"state": "unreachable", "qr": None, "detail": exc.detail}
    answer = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        detail = str(answer.get("detail") or f"bridge HTTP {response.status_code}")[:300]
        log.warning("tenant=%s wwebjs %s refused: %s", tenant.slug, action, detail)
        return {"state": "unreachable", "qr": None, "detail": detail}
    log.info("tenant=%s wwebjs session %s by=%s", tenant.slug, action, by or "system")
    return {"state": answer.get("state"), "qr": answer.get("qr")}
