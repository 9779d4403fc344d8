"""Seeding committed data for browser tests and reading it back (real ORM, tenant schema)."""
from __future__ import annotations

import itertools
import time

from django.db import connection
from django_tenants.utils import tenant_context

_phones = itertools.count(1)


def phone() -> str:
    return f"+7702{time.time_ns() % 10**5:05d}{next(_phones) % 100:02d}"


def stages(tenant) -> dict[str, int]:
    """Stage id by kind."""
    from leads.models import Stage

    with tenant_context(tenant):
        return dict(Stage.objects.values_list("kind", "id"))


def lead_make(tenant, *, name: str, kind: str = "new", score: int = 10, temperature: str = "cold",
              assignee: str | None = None, city: str = "", channel: str = "whatsapp", text: str = "") -> int:
    from django.utils import timezone

    from accounts.models import User
    from leads.models import Lead, Stage

    with tenant_context(tenant):
        user = User.objects.get(email=f"{assignee}@{tenant.slug}.test") if assignee else None
        last = ({"text": text, "direction": "in", "author_kind": "client", "created_at": timezone.now().isoformat()}
                if text else None)
        lead = Lead.objects.create(name=name, phone=phone(), city=city, channel=channel, provider=channel,
                                   stage=Stage.objects.get(kind=kind), score=score, temperature=temperature,
                                   assignee=user, last_message=last, last_message_at=timezone.now() if text else None)
        pk = lead.pk
    connection.set_schema_to_public()
    return pk


def lead_get(tenant, pk: int):
    from leads.models import Lead

    with tenant_context(tenant):
        lead = Lead.objects.select_related("stage", "handler", "assignee").get(pk=pk)
    connection.set_schema_to_public()
    return lead


def configure(tenant, document: dict) -> None:
    from tenants.services import tenant_config_import

    tenant_config_import(tenant, document)
    tenant.refresh_from_db()
    connection.set_schema_to_public()


def column(page, stage_id: int):
    return page.get_by_test_id(f"board-column-{stage_id}")


def card(page, lead_id: int):
    return page.get_by_test_id(f"lead-card-{lead_id}")
