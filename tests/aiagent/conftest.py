"""Helpers for the AI manager's live tests: a tenant with a short debounce, and a sandbox client that
writes as a customer and waits for the AI's turn (AiTurn rows are the barrier, never a sleep)."""
from __future__ import annotations

import itertools
import time

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

FACTS = [
    {"when": {"field": "city", "op": "eq", "value": "Алматы"}, "keywords": ["склад", "самовывоз"],
     "text": "У нас склад в Алматы — можно забрать самим или привезём.", "text_en": "We have a warehouse in Almaty."},
    {"when": {"field": "city", "op": "ne", "value": "Алматы"}, "keywords": ["доставка", "delivery"],
     "text": "Доставляем по всему Казахстану.", "text_en": "We deliver across Kazakhstan."},
]

_phones = itertools.count(1)


def configure(tenant, document: dict) -> None:
    from tenants.services import tenant_config_import

    tenant_config_import(tenant, document)
    tenant.refresh_from_db()
    connection.set_schema_to_public()


@pytest.fixture
def ai_tenant(live_tenant):
    configure(live_tenant, {"company": "ПанельСтрой", "ai": {"debounce_seconds": 0.3, "facts": FACTS},
                            "followups": {"enabled": False}})
    return live_tenant


class Chat:
    """One sandbox client of a tenant: `say` writes and waits for the AI's turn."""

    def __init__(self, client, tenant, name: str = "") -> None:
        self.client, self.tenant, self.name = client, tenant, name
        self.phone = f"7701{time.time_ns() % 10**6:06d}{next(_phones) % 100:02d}"
        self.lead_id: int | None = None

    def post(self, text: str) -> int:
        response = self.client.post("/api/sandbox/messages/", {"phone": self.phone, "name": self.name, "text": text},
                                    format="json")
        assert response.status_code == 201, response.content
        self.lead_id = response.json()["lead_id"]
        return response.json()["message"]["id"]

    def turns(self) -> list:
        from aiagent.models import AiTurn

        with tenant_context(self.tenant):
            return list(AiTurn.objects.filter(lead_id=self.lead_id, kind="reply").order_by("id"))

    def wait_turn(self, message_id: int, timeout: float = 25.0):
        """Waits until a turn answered (or deliberately skipped) `message_id`; returns that AiTurn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for turn in self.turns():
                if turn.message_id and turn.message_id >= message_id:
                    return turn
            time.sleep(0.05)
        raise AssertionError(f"no AI turn for message {message_id} within {timeout}s")

    def say(self, text: str) -> list[dict]:
        """Writes as the client, waits for the turn, returns the AI messages it queued."""
        before = {m["id"] for m in self.dialog()}
        turn = self.wait_turn(self.post(text))
        return [m for m in self.dialog() if m["id"] not in before and m["direction"] == "out"
                and m["id"] in turn.reply_ids]

    def dialog(self) -> list[dict]:
        response = self.client.get(f"/api/sandbox/messages/?phone={self.phone}")
        assert response.status_code == 200
        return response.json()

    def ai_messages(self) -> list[dict]:
        return [m for m in self.dialog() if m["author_kind"] == "ai"]

    def lead(self):
        from leads.models import Lead

        with tenant_context(self.tenant):
            return Lead.objects.select_related("stage").get(pk=self.lead_id)


@pytest.fixture
def chat(client_for, ai_tenant, worker):
    """chat(name="") → a new sandbox client of `ai_tenant` talking to the real worker."""
    api = client_for(ai_tenant, "owner")
    return lambda name="", tenant=None: Chat(api if tenant is None else client_for(tenant, "owner"),
                                             tenant or ai_tenant, name)
