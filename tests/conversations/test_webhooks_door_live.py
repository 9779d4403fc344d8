"""The webhook door under daphne: the fast path (buildcrm/asgi_webhooks.py) answers 404 for an unconfigured
provider or another provider's token and 429 with Retry-After over the rate limit, as Django's view does."""
from __future__ import annotations

import httpx
import pytest
from asgiref.sync import sync_to_async

from buildcrm.asgi import application
from tenants.services import tenant_config_import
from tests.conftest import webhook_path
from tests.conversations.test_webhooks import chatflow_event, tg_update

pytestmark = pytest.mark.live


@pytest.mark.asyncio
async def test_the_fast_path_answers_429_with_retry_after_and_404_for_unconfigured(live_tenant, live_db, settings):
    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 0.5, 2
    await sync_to_async(tenant_config_import)(live_tenant, {"ai": {"enabled": False}, "channels": {
        "chatflow": {"api_url": "http://127.0.0.1:9/api/v1", "token": "t", "instance_id": "i"}}})
    path_of = sync_to_async(webhook_path)
    chatflow, telegram = await path_of(live_tenant, "chatflow"), await path_of(live_tenant, "telegram")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url=f"http://{settings.PUBLIC_DOMAIN}") as web:
        codes = [(await web.post(chatflow, json=chatflow_event(f"FAST-RATE-{n}"))) for n in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert codes[2].headers["retry-after"] == "2"
        assert (await web.post(telegram, json=tg_update())).status_code == 404  # telegram is not configured
        assert (await web.post(chatflow.replace("/chatflow/", "/telegram/"), json=tg_update())).status_code == 404
