"""Helpers for lead tests: build leads and messages directly in a tenant's schema, switch visibility mode."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of


def make_lead(tenant, *, stage_kind: str = "new", created_at: datetime | None = None, **fields):
    from leads.models import Lead
    from leads.services import stage_of_kind

    with tenant_context(tenant):
        lead = Lead.objects.create(stage=stage_of_kind(stage_kind), **fields)
        if created_at is not None:
            Lead.objects.filter(pk=lead.pk).update(created_at=created_at)
            lead.created_at = created_at
    return lead


def add_message(tenant, lead, *, direction: str = "in", text: str = "", author_kind: str | None = None,
                at: datetime | None = None, author_user=None):
    from conversations.models import Message

    with tenant_context(tenant):
        message = Message.objects.create(
            lead=lead, direction=direction, text=text, provider=lead.provider or "sandbox",
            status="received" if direction == "in" else "sent", author_user=author_user,
            author_kind=author_kind or ("client" if direction == "in" else "ai"),
        )
        if at is not None:
            Message.objects.filter(pk=message.pk).update(created_at=at)
            message.created_at = at
    return message


def add_followup(tenant, lead, *, status: str = "pending", kind: str = "followup", answered: bool = False):
    from django.utils import timezone

    from followups.models import FollowUp

    with tenant_context(tenant):
        return FollowUp.objects.create(lead=lead, kind=kind, status=status, answered=answered, text="Актуально?",
                                       due_at=timezone.now())


def set_managers_see_all(tenant, value: bool) -> None:
    from tenants.services import tenant_config_import

    tenant_config_import(tenant, {"leads": {"managers_see_all": value}})


def in_tenant(tenant, fn):
    with tenant_context(tenant):
        return fn()


def result_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def trio(tenant_a):
    """Three leads of tenant alpha: one of `manager`, one of `manager2`, one unassigned."""
    manager, manager2 = user_of(tenant_a, "manager"), user_of(tenant_a, "manager2")
    return SimpleNamespace(
        manager=manager, manager2=manager2,
        mine=make_lead(tenant_a, name="Айдана Мои", phone="77010000001", city="Алматы", assignee=manager,
                       score=50),
        other=make_lead(tenant_a, name="Бахыт Чужой", phone="77020000002", city="Астана", assignee=manager2,
                        score=40, stage_kind="in_dialog"),
        free=make_lead(tenant_a, name="Вадим Ничей", phone="77030000003", city="Шымкент", score=30),
    )
