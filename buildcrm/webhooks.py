"""Webhooks on the platform host, `/webhooks/<provider>/<token>/`: verify, store the raw event and messages
idempotently, answer 200 fast. Everything after storage (AI turn, sends, live events) runs on commit in workers.
The channel of the provider (integrations.registry) parses and verifies; amoCRM's form body goes to its intake."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from buildcrm.webhook_rate import retry_after, webhook_rate_wait
from conversations.services import channel_config, inbound_receive
from core import metrics
from crmsync.intake import amocrm_webhook
from integrations.base import InboundMessage, WebhookError
from integrations.registry import find
from notifications.services import telegram_link_messages
from tenants.selectors import WEBHOOK_PROVIDERS, tenant_by_webhook_key, webhook_provider_configured
from voicecalls.services import retell_webhook

log = logging.getLogger("buildcrm.webhooks")
UNKNOWN_KEY = "unknown webhook key"


def _event_id(items: list, body: bytes) -> str:
    ids = [i.provider_message_id for i in items if isinstance(i, InboundMessage)]
    return ids[0] if len(ids) == 1 else "sha256:" + hashlib.sha256(body).hexdigest()


def webhook_answer(*, provider: str, key: str, method: str, body: bytes | None, headers: Mapping[str, str],
                   query: Mapping[str, str]) -> HttpResponse:
    """`_webhook_answer`, counted in the metrics by provider and status (an exception counts as 500)."""
    status: int | str = 500
    try:
        response = _webhook_answer(provider=provider, key=key, method=method, body=body, headers=headers, query=query)
        status = response.status_code
        return response
    finally:
        metrics.webhook_answered(provider=provider if provider in WEBHOOK_PROVIDERS else "other", status=status,
                                 tenant=getattr(connection, "schema_name", None))


def _webhook_answer(*, provider: str, key: str, method: str, body: bytes | None, headers: Mapping[str, str],
                    query: Mapping[str, str]) -> HttpResponse:
    """Everything a webhook request gets, whoever serves it (Django's view below, or the ASGI fast path in
    buildcrm/asgi_webhooks.py). `body` is None when it was over the size limit. Leaves the connection on the
    tenant's schema: the caller resets it (the next webhook on the same tenant then needs no SET search_path).

    `key` is the provider's own token: it opens only that provider's URL, and only once the tenant configured
    the provider (tenants.selectors.WEBHOOK_PROVIDERS); otherwise 404, the same answer as an unknown token."""
    if provider not in WEBHOOK_PROVIDERS:
        return JsonResponse({"detail": f"unknown provider {provider!r}"}, status=404)
    tenant = tenant_by_webhook_key(key, provider=provider)  # never cached: a new secret applies to the next one
    if tenant is None:
        return JsonResponse({"detail": UNKNOWN_KEY}, status=404)
    if tenant.status != "active":
        # Suspended (or awaiting deletion): not stored, and not a 2xx, so the provider keeps it and retries later.
        response = JsonResponse({"detail": "this account is suspended, retry later"}, status=503)
        response["Retry-After"] = "600"
        return response
    if not webhook_provider_configured(config=tenant.config or {}, provider=provider, method=method):
        log.info("tenant=%s webhook %s refused 404: not configured (%s)", tenant.slug, provider, method)
        return JsonResponse({"detail": UNKNOWN_KEY}, status=404)
    wait = webhook_rate_wait(tenant_id=tenant.pk, provider=provider)
    if wait:
        log.info("tenant=%s webhook %s refused 429: over the rate limit", tenant.slug, provider)
        response = JsonResponse({"detail": "too many webhooks for this URL, retry later"}, status=429)
        response["Retry-After"] = retry_after(wait)
        return response
    connection.set_tenant(tenant)
    try:
        source = find(provider)  # None: amoCRM, whose form body its intake reads
        if method == "GET" and source is not None:  # a subscription handshake: only the Cloud API has one
            return HttpResponse(source.verify_subscription(query, channel_config(provider)), content_type="text/plain")
        if method != "POST":
            return JsonResponse({"detail": "method not allowed"}, status=405)
        if body is None:
            return JsonResponse({"detail": "request body too large (limit 1 MiB)"}, status=413)
        if provider == "retell":  # AI call events (voicecalls), verified with the tenant's Retell key
            return retell_webhook(body, headers)
        if source is None:
            return amocrm_webhook(body)
        items = source.parse_webhook(body, headers, channel_config(provider))
        if provider == "telegram":  # a user linking their chat for notifications is not a client writing
            items = telegram_link_messages(items)
            if not items:
                return JsonResponse({"ok": True})
        inbound_receive(provider=provider, items=items, raw=body, event_id=_event_id(items, body), source=provider)
        return JsonResponse({"ok": True})
    except WebhookError as exc:
        log.info("tenant=%s webhook %s refused %s: %s", tenant.slug, provider, exc.status_code, exc.detail)
        return JsonResponse({"detail": exc.detail}, status=exc.status_code)


@csrf_exempt
def webhook(request, provider: str, key: str):
    body: bytes | None = b""
    if request.method == "POST" and provider in WEBHOOK_PROVIDERS:
        try:
            body = request.body
        except RequestDataTooBig:
            body = None
    try:
        return webhook_answer(provider=provider, key=key, method=request.method, body=body,
                              headers=request.headers, query=request.GET)
    finally:
        connection.set_schema_to_public()
