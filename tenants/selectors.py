"""Reads for tenants."""
from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import schema_context, tenant_context

from brain import llm
from core.crypto import decrypt
from core.db import server_bound_cursor
from core.hosts import hostname
from integrations import amocrm, retell, wwebjs
from integrations.registry import channel, channels
from tenants import config as tconfig
from tenants.models import Domain, PlatformSecret, Tenant, TenantStatus, WebhookToken

_CONFIGS: dict[tuple, dict] = {}
VAPID_SECRET = "webpush.vapid"
_VAPID: dict[str, tuple[str, str]] = {}


def platform_vapid_keys() -> tuple[str, str] | None:
    """(private, public) VAPID keys of the platform (base64url), or None before setup_platform made them. Cached per
    process: the pair never changes once browsers subscribed with it."""
    if VAPID_SECRET not in _VAPID:
        with schema_context("public"):
            row = PlatformSecret.objects.filter(name=VAPID_SECRET).first()
        if row is None:
            return None
        _VAPID[VAPID_SECRET] = (decrypt(row.value), row.public)
    return _VAPID[VAPID_SECRET]


def tenant_config_get(tenant: Tenant) -> dict:
    """The tenant's full configuration with secrets decrypted (for our own code, never for display)."""
    return tconfig.decrypt_secrets(tconfig.merge(tconfig.default_config(tenant.config.get("qualification_preset")
                                                                         or "construction"), tenant.config))


def tenant_config_current(*, fresh: bool = False) -> dict:
    """The current tenant's full configuration, secrets decrypted (for our own code, never for display), merged
    and decrypted once per process and stored document. `fresh`: the stored document is read from the database
    first (the follow-up sweep: a change imported a moment ago applies to the very next sweep). The dict is
    shared: read it, never change it."""
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


def ai_llm_settings(cfg: dict) -> llm.LlmSettings:
    """The LLM a tenant's AI talks to (`cfg`: its configuration) over the platform's OPENAI_* settings."""
    platform = llm.LlmDefaults(
        base_url=settings.OPENAI_BASE_URL or "", api_key=settings.OPENAI_API_KEY or "",
        model=settings.OPENAI_MODEL or llm.DEFAULT_MODEL,
        retry_base=float(getattr(settings, "AI_RETRY_BASE_SECONDS", llm.DEFAULT_RETRY_BASE)))
    return llm.llm_settings(cfg, platform)


def tenants_active() -> QuerySet[Tenant]:
    """Tenants whose periodic work beat fans out: not suspended, not marked for deletion."""
    return Tenant.objects.filter(is_active=True, is_template=False, status=TenantStatus.ACTIVE).exclude(
        schema_name="public")


# The providers with a webhook URL (each with its own token): the channels that take webhooks, amoCRM, Retell's calls.
WEBHOOK_PROVIDERS: tuple[str, ...] = (*(c.provider for c in channels() if c.webhook), amocrm.PROVIDER,
                                      retell.PROVIDER)


def webhook_provider_configured(*, config: dict, provider: str, method: str = "POST") -> bool:
    """Whether the tenant configured `provider` enough for its webhook to be accepted (contract section 3 keys:
    the channel's own rule, `Channel.configured`, or amoCRM's); until then its URL answers 404 even with the right
    token. Reads the stored document as it is (a set secret is a non-empty encrypted string): no decryption, no
    query."""
    if provider not in WEBHOOK_PROVIDERS:
        return False
    if provider == amocrm.PROVIDER:
        return amocrm.webhook_configured(config.get("amocrm"))
    if provider == retell.PROVIDER:  # its signature is made with the api_key: none, no way to trust a call event
        voice = config.get("voice_calls")
        section = voice.get("retell") if isinstance(voice, dict) else None
        return method == "POST" and isinstance(section, dict) and bool(section.get("api_key"))
    found = channel(provider)
    sections = config.get("channels")
    return found.configured(sections.get(found.config_key) if isinstance(sections, dict) else None, method=method)


_TENANT_FIELDS = Tenant._meta.concrete_fields
# Schema-qualified, so it reads the same whatever tenant's search path the connection is on. One indexed
# lookup (the unique (token, provider) index) joined to its tenant.
_TENANT_BY_KEY_SQL = (
    f"SELECT {', '.join('t.' + f.column for f in _TENANT_FIELDS)} "
    f"FROM public.{WebhookToken._meta.db_table} w JOIN public.{Tenant._meta.db_table} t ON t.id = w.tenant_id "
    "WHERE w.token = %s AND w.provider = %s AND t.is_active AND NOT t.is_template AND t.schema_name <> 'public'"
)


def tenant_by_webhook_key(key: str, *, provider: str) -> Tenant | None:
    """The active tenant whose `provider` webhook URL carries the token `key` (a token of another provider
    never matches). Runs on every webhook, never cached (a new app secret or a rotated token applies to the
    very next one), so it skips the ORM's query compiler: a quarter of the cost of `.first()`."""
    if not key or len(key) > 64:
        return None
    with server_bound_cursor() as cursor:
        cursor.execute(_TENANT_BY_KEY_SQL, [key, provider])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
              for f, v in zip(_TENANT_FIELDS, row, strict=True)]
    return Tenant.from_db(connection.alias, [f.attname for f in _TENANT_FIELDS], values)


def webhook_base_url() -> str:
    """Where providers reach the platform host (contract section 5)."""
    base = f"http://{settings.PUBLIC_DOMAIN}"
    if settings.PORT not in (80, 443):
        base += f":{settings.PORT}"
    return base


def webhook_tokens(tenant: Tenant) -> dict[str, WebhookToken]:
    """The tenant's webhook token per provider."""
    return {t.provider: t for t in WebhookToken.objects.filter(tenant=tenant, provider__in=list(WEBHOOK_PROVIDERS))}


def webhook_urls(tenant: Tenant) -> dict[str, str]:
    """Every provider's webhook URL of the tenant, each with its own token (what provision_tenant prints)."""
    base, tokens = webhook_base_url(), webhook_tokens(tenant)
    return {p: f"{base}/webhooks/{p}/{tokens[p].token}/" for p in WEBHOOK_PROVIDERS if p in tokens}


def tenant_by_host(host: str) -> Tenant | None:
    """The tenant a Host header names (port stripped), public included; None when unknown."""
    domain = Domain.objects.select_related("tenant").filter(domain=hostname(host)).first()
    return domain.tenant if domain else None


# Counts of work under way in a tenant's schema, contributed by the apps that own that work (conversations: queued,
# failed and pending inbound messages; followups: pending touches). Tenants sit below them and cannot import them:
# each registers a function with `pending_work_counter`, imported by its AppConfig.ready().
_PENDING_WORK: dict[str, Callable[[], dict[str, int]]] = {}


def pending_work_counter(func: Callable[[], dict[str, int]]) -> Callable[[], dict[str, int]]:
    """Registers `func() -> {name: count}`, run inside the tenant's schema, for `tenant_pending_work`."""
    _PENDING_WORK[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def tenant_pending_work(tenant: Tenant) -> dict:
    """Counts of work still under way in a tenant's schema (for the admin health view)."""
    counts: dict[str, int] = {}
    with tenant_context(tenant):
        for counter in _PENDING_WORK.values():
            counts.update(counter())
    return counts


def wwebjs_session_state(tenant: Tenant) -> dict:
    """The tenant's WhatsApp Web session on the bridge: {"state": pairing | connected | logged_out | unreachable |
    not_configured, "qr": a data-URL PNG while pairing, else None}."""
    section = (tenant_config_get(tenant).get("channels") or {}).get("wwebjs") or {}
    if not channel(wwebjs.PROVIDER).configured(section):
        return {"state": "not_configured", "qr": None}
    return wwebjs.session_state(section)


def tenant_currency() -> str:
    """The ISO 4217 code deal amounts are in (config `currency`; KZT when unset or not a 3-letter code)."""
    code = str(tenant_config_current().get("currency") or "").strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else "KZT"
