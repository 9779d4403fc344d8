"""amoCRM for one tenant: the configured client (shared rate limit, persisted token refresh) and the
write-back of our lead's changes (stage → status_id, notes, responsible user).

`amocrm_on_lead_change` is the entry point, for crmsync's listeners (a lead moved, taken over, qualified, a meeting
booked): it only enqueues; the Celery task `integrations.amocrm_write_back` calls `amocrm_write_back` in the tenant's
schema.
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from core.redis_client import redis_client, redis_lock
from core.tasks import enqueue
from crmsync.models import AmoLeadLink
from integrations.amocrm import AMO_PER, AMO_RATE, AmoApiError, AmoAuthError, AmoClient, RedisRateLimiter
from leads.models import Lead
from tenants.models import Tenant
from tenants.selectors import tenant_config_get
from tenants.services import health_record, tenant_config_import

log = logging.getLogger("buildcrm.amocrm")

WHATS = ("stage", "takeover", "qualified", "meeting")
TOKEN_LOCK_SECONDS = 60



def _fresh_tenant(tenant_id: int) -> Tenant:
    # Workers may hold a tenant object loaded before an admin change or another worker's token refresh.
    return Tenant.objects.get(pk=tenant_id)


def amocrm_config(tenant: Tenant) -> dict:
    return dict(tenant_config_get(tenant).get("amocrm") or {})


def amocrm_configured(config: dict) -> bool:
    return bool(config.get("base_url") and (config.get("access_token") or config.get("refresh_token")))


def _account_key(config: dict) -> str:
    return str(config.get("account_id") or config.get("base_url") or "")


def amocrm_tokens_save(*, tenant_id: int, access_token: str, refresh_token: str) -> None:
    """Stores a rotated token pair (encrypted) on a fresh, row-locked tenant so nothing else is lost."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
        tenant_config_import(tenant, {"amocrm": {"access_token": access_token, "refresh_token": refresh_token}})
    log.info("tenant=%s amocrm tokens refreshed and saved", tenant.slug)


class TenantAmoClient(AmoClient):
    """AmoClient whose refresh runs under a per-account Redis lock and re-reads the stored tokens first:
    amoCRM rotates the refresh token, so two workers refreshing with the same one would break it."""

    def __init__(self, base_url: str, *, tenant_id: int, account_key: str, **kwargs: Any) -> None:
        self.tenant_id = tenant_id
        self.account_key = account_key
        super().__init__(
            base_url,
            on_tokens=lambda access, refresh: amocrm_tokens_save(
                tenant_id=tenant_id, access_token=access, refresh_token=refresh
            ),
            **kwargs,
        )

    def refresh_tokens(self) -> tuple[str, str]:
        with redis_lock(f"amocrm:token-lock:{self.account_key}", timeout=TOKEN_LOCK_SECONDS,
                        wait=TOKEN_LOCK_SECONDS) as held:
            if not held:
                raise AmoApiError("amocrm: token refresh lock not acquired", retryable=True)
            stored = amocrm_config(_fresh_tenant(self.tenant_id))
            if stored.get("access_token") and stored["access_token"] != self.access_token:
                # Another worker refreshed while we waited: use its pair instead of spending ours.
                self.access_token = stored["access_token"]
                self.refresh_token = stored.get("refresh_token") or self.refresh_token
                return self.access_token, self.refresh_token or ""
            return super().refresh_tokens()


def amocrm_client(*, tenant: Tenant, config: dict | None = None) -> TenantAmoClient:
    """The tenant's amoCRM client: 7 requests/s per account shared through Redis by every worker."""
    config = config if config is not None else amocrm_config(tenant)
    if not amocrm_configured(config):
        raise AmoAuthError("amocrm: not configured (base_url and a token are needed)", status_code=None)
    return TenantAmoClient(
        config["base_url"],
        tenant_id=tenant.pk,
        account_key=_account_key(config),
        access_token=config.get("access_token") or "",
        refresh_token=config.get("refresh_token") or None,
        client_id=config.get("client_id") or None,
        client_secret=config.get("client_secret") or None,
        redirect_uri=config.get("redirect_uri") or None,
        limiter=RedisRateLimiter(redis_client(), rate=AMO_RATE, per=AMO_PER),
        max_retries=getattr(settings, "AMOCRM_MAX_RETRIES", 4),
        backoff=getattr(settings, "AMOCRM_BACKOFF_SECONDS", 0.5),
    )


# --- write-back ------------------------------------------------------------------------------------


def amocrm_on_lead_change(*, lead_id: int, what: str, text: str = "") -> bool:
    """Queues the mirror of a change of our lead in amoCRM (after commit). `what`: "stage", "takeover",
    "qualified" (note with `text`), "meeting" (note with `text`). Returns False when there is nothing to
    mirror: amoCRM not configured for this tenant, or the lead did not come from amoCRM."""
    if what not in WHATS:
        raise ValueError(f"what must be one of {', '.join(WHATS)}")
    if what in ("qualified", "meeting") and not (text or "").strip():
        return False
    tenant = getattr(connection, "tenant", None)
    stored = (getattr(tenant, "config", None) or {}).get("amocrm") or {}
    if not stored.get("base_url"):
        return False
    if not AmoLeadLink.objects.filter(lead_id=lead_id).exists():
        return False

    transaction.on_commit(lambda: enqueue("integrations.amocrm_write_back", lead_id, what, text or ""))
    return True


def _status_for(stage_map: dict, stage) -> tuple[int | None, int | None]:
    """stage_map: {stage id or stage kind: status_id | {"status_id", "pipeline_id"}}; the id wins."""
    value = stage_map.get(str(stage.pk))
    if value is None:
        value = stage_map.get(stage.kind)
    if value is None and stage.kind == "custom":
        value = stage_map.get(stage.name)
    if isinstance(value, dict):
        status, pipeline = value.get("status_id"), value.get("pipeline_id")
    else:
        status, pipeline = value, None
    try:
        return (int(status) if status is not None else None), (int(pipeline) if pipeline is not None else None)
    except (TypeError, ValueError):
        return None, None


def amocrm_write_back(*, lead_id: int, what: str, text: str = "") -> str:
    """Applies one change to every amoCRM lead linked to our lead (runs in the tenant schema) and returns
    what it did. Raises AmoApiError(retryable=True) for 429/5xx/network after the client's own retries;
    refusals are recorded in the tenant's health and not retried."""
    links = list(AmoLeadLink.objects.filter(lead_id=lead_id).order_by("id"))
    if not links:
        return "not linked"
    lead = Lead.objects.select_related("stage", "handler").get(pk=lead_id)
    tenant = _fresh_tenant(connection.tenant.pk)
    config = amocrm_config(tenant)
    if not amocrm_configured(config):
        return "not configured"
    account = config.get("account_id")
    links = [link for link in links if not account or link.account_id == int(account)]
    if not links:
        return "not linked"

    body: dict[str, int | None] = {}
    note = ""
    if what == "stage":
        status_id, pipeline_id = _status_for(config.get("stage_map") or {}, lead.stage)
        if status_id is None:
            log.info("lead=%s amocrm stage %s not mapped", lead.pk, lead.stage.kind)
            return "stage not mapped"
        body = {"status_id": status_id, "pipeline_id": pipeline_id or config.get("pipeline_id") or None}
        result = f"status {status_id}"
    elif what == "takeover":
        email = lead.handler.email if lead.handler_id else ""
        mapped = (config.get("responsible_map") or {}).get(email) if email else None
        if mapped is None:
            log.info("lead=%s amocrm responsible for %s not mapped", lead.pk, email or "-")
            return "responsible not mapped"
        try:
            body = {"responsible_user_id": int(mapped)}
        except (TypeError, ValueError):
            health_record(tenant_id=tenant.pk, source="amocrm",
                          error=f"amocrm: responsible_map[{email}] is not a user id: {mapped!r}")
            return "responsible not mapped"
        result = f"responsible {mapped}"
    elif what in ("qualified", "meeting"):
        note = (text or "").strip()
        if not note:
            return "empty note"
        result = f"note {what}"
    else:
        raise ValueError(f"unknown change {what!r}")

    try:
        with amocrm_client(tenant=tenant, config=config) as client:
            for link in links:
                if note:
                    client.add_note(link.amo_lead_id, note)
                else:
                    client.update_lead(link.amo_lead_id, **body)
    except AmoApiError as exc:
        if not exc.retryable:
            health_record(tenant_id=tenant.pk, error=f"amocrm write-back {what}: {exc.detail}", source="amocrm")
            log.warning("lead=%s amocrm write-back %s failed: %s", lead.pk, what, exc.detail)
            return "failed"
        raise
    log.info("lead=%s amocrm lead=%s %s by=system", lead.pk, ",".join(str(x.amo_lead_id) for x in links), result)
    return result
