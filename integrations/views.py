"""Webhooks on the platform host: verify, store the raw event and messages idempotently, answer 200 fast.
Everything after storage (AI turn, sends, live events) runs on commit in workers."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from conversations.services import adapter, channel_config, inbound_receive
from integrations.base import InboundMessage, WebhookError
from tenants.selectors import tenant_by_webhook_key

log = logging.getLogger("buildcrm.webhooks")
PROVIDERS = ("chatflow", "whatsapp", "telegram", "amocrm")


def _event_id(items: list, body: bytes) -> str:
    ids = [i.provider_message_id for i in items if isinstance(i, InboundMessage)]
    return ids[0] if len(ids) == 1 else "sha256:" + hashlib.sha256(body).hexdigest()


def webhook_answer(*, provider: str, key: str, method: str, body: bytes | None, headers: Mapping[str, str],
                   query: Mapping[str, str]) -> HttpResponse:
    """Everything a webhook request gets, whoever serves it (Django's view below, or the ASGI fast path in
    buildcrm/asgi_webhooks.py). `body` is None when it was over the size limit. Leaves the connection on the
    tenant's schema: the caller resets it (the next webhook on the same tenant then needs no SET search_path)."""
    if provider not in PROVIDERS:
        return JsonResponse({"detail": f"unknown provider {provider!r}"}, status=404)
    tenant = tenant_by_webhook_key(key)  # never cached: a new app or bot secret applies to the next webhook
    if tenant is None:
        return JsonResponse({"detail": "unknown webhook key"}, status=404)
    connection.set_tenant(tenant)
    try:
        if method == "GET" and provider == "whatsapp":
            module = adapter(provider)
            return HttpResponse(module.verify_subscription(query, channel_config(provider)),
                                content_type="text/plain")
        if method != "POST":
            return JsonResponse({"detail": "method not allowed"}, status=405)
        if body is None:
            return JsonResponse({"detail": "request body too large (limit 1 MiB)"}, status=413)
        if provider == "amocrm":
            from integrations.amocrm_intake import amocrm_webhook

            return amocrm_webhook(body)
        config = channel_config(provider)
        module = adapter(provider)
        items = module.parse_webhook(body, headers, config)
        inbound_receive(provider=provider, items=items, raw=body, event_id=_event_id(items, body), source=provider)
        return JsonResponse({"ok": True})
    except WebhookError as exc:
        log.info("tenant=%s webhook %s refused %s: %s", tenant.slug, provider, exc.status_code, exc.detail)
        return JsonResponse({"detail": exc.detail}, status=exc.status_code)


@csrf_exempt
def webhook(request, provider: str, key: str):
    body: bytes | None = b""
    if request.method == "POST" and provider in PROVIDERS:
        try:
            body = request.body
        except RequestDataTooBig:
            body = None
    try:
        return webhook_answer(provider=provider, key=key, method=request.method, body=body,
                              headers=request.headers, query=request.GET)
    finally:
        connection.set_schema_to_public()
