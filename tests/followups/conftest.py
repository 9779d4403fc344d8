"""Helpers of the follow-up tests: leads through the real inbound path, our messages through the real send
pipeline (delivered in-process here, by the worker in live tests), and a controllable clock (`now=`)."""
from __future__ import annotations

import itertools
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

NO_QUIET = {"start": "00:00", "end": "00:00"}  # start == end: no quiet hours at all
_phones = itertools.count(1)


def local(tenant_tz: str, *args) -> datetime:
    """A wall-clock time in a zone as an aware datetime (a fixed day far in the future: controllable clock)."""
    return datetime(*args, tzinfo=ZoneInfo(tenant_tz))


def phone() -> str:
    return f"7700{random.randint(100, 999)}{next(_phones):04d}"


def client_writes(text: str, *, number: str | None = None, name: str = "Ерлан"):
    """A client message through the real inbound path (the sandbox channel's service)."""
    from conversations.services import inbound_receive_now
    from integrations import sandbox

    item = sandbox.inbound(number or phone(), name, text)
    message = inbound_receive_now(provider="sandbox", item=item, raw={"text": text}, source="sandbox")
    message.lead.refresh_from_db()
    return message.lead


def ai_says(lead, text: str = "Подскажите, какой дом вы планируете?", **kwargs):
    """Our message through message_send, delivered at once in this process (no worker needed)."""
    from conversations.models import Message
    from conversations.services import message_deliver, message_send

    message = message_send(lead=lead, author_kind=kwargs.pop("author_kind", "ai"), text=text,
                           purpose=kwargs.pop("purpose", "reply"), **kwargs)
    message_deliver(message_id=message.pk)
    lead.refresh_from_db()
    return Message.objects.get(pk=message.pk)


@pytest.fixture
def alpha(tenant_a):
    """tenant_a's schema for the test (its changes roll back); steps of 15 and 45 minutes, no quiet hours."""
    from tenants.services import tenant_config_import

    tenant_config_import(tenant_a, {"timezone": "Asia/Almaty", "ai": {"enabled": True},
                                    "followups": {"enabled": True, "quiet_hours": NO_QUIET, "max_per_lead": 3,
                                                  "spread_minutes": 20,
                                                  "steps": [{"after_minutes": 15, "text": "Подскажите, актуально?"},
                                                            {"after_minutes": 45,
                                                             "text": "Когда удобно созвониться?"}]}})
    tenant_a.refresh_from_db()
    with tenant_context(tenant_a):
        yield tenant_a


def configure(tenant, document: dict) -> None:
    from tenants.services import tenant_config_import

    tenant_config_import(tenant, document)
    tenant.refresh_from_db()
