"""POST /api/leads/: a lead entered by hand — the phone checked as E.164 digits, a duplicate phone offers the
existing lead, a manager's lead is theirs, the AI does not greet it; nothing crosses tenants."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all


def test_owner_creates_a_lead_with_every_field_and_no_greeting(tenant_a, client_for,
                                                                django_capture_on_commit_callbacks):
    from aiagent.models import AiTurn
    from conversations.models import Message
    from leads.models import Lead, LeadIdentity, Stage

    manager = user_of(tenant_a, "manager")
    with tenant_context(tenant_a):
        stage = Stage.objects.get(kind="complete")
    client = client_for(tenant_a, "owner")
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post("/api/leads/", {"name": "Ерлан", "phone": "+7 (701) 555-12-34", "channel": "whatsapp",
                                          "source": "выставка", "city": "Алматы", "assignee": manager.pk,
                                          "stage": stage.pk, "tags": ["VIP", " дом "]}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert (body["name"], body["phone"], body["source"], body["city"]) == ("Ерлан", "77015551234", "выставка",
                                                                           "Алматы")
    assert body["assignee"]["id"] == manager.pk and body["stage"] == stage.pk and body["stage_pinned"]
    assert body["tags"] == ["vip", "дом"] and body["tags_auto"] == []
    with tenant_context(tenant_a):
        lead = Lead.objects.get(pk=body["id"])
        assert LeadIdentity.objects.filter(lead=lead, channel="whatsapp", identity="77015551234").exists()
        assert set(lead.events.values_list("kind", flat=True)) >= {"created", "assigned", "stage_changed"}
        assert not AiTurn.objects.filter(lead=lead).exists() and not Message.objects.filter(lead=lead).exists()


@pytest.mark.parametrize("phone", ["12345", "+7 701 555 12 34 56 78 90", "7701abc1234", "+", "７７０１５５５１２３４",
                                   "8\x0070155512"])
def test_a_phone_that_is_not_e164_is_a_400(tenant_a, client_for, phone):
    res = client_for(tenant_a, "owner").post("/api/leads/", {"name": "X", "phone": phone}, format="json")
    detail = res.json()["detail"]
    assert res.status_code == 400 and ("E.164" in detail or "\\x00" in detail), detail  # NUL: the parser's 400


@pytest.mark.parametrize("body", [{}, {"name": " ", "phone": ""}, {"name": "x" * 151}, {"name": "A", "channel": "fax"},
                                  {"name": "A", "stage": 999999}, {"name": "A", "assignee": 999999},
                                  {"name": "A", "tags": ["x" * 33]}, {"name": "A", "tags": "vip"},
                                  {"name": "A", "stage": "1e20"}])
def test_bad_input_is_a_400_with_a_message(tenant_a, client_for, body):
    res = client_for(tenant_a, "owner").post("/api/leads/", body, format="json")
    assert res.status_code == 400, res.content
    assert res.json()["detail"]


def test_a_telegram_lead_gets_no_phone_identity_on_telegram(tenant_a, client_for):
    from leads.models import LeadIdentity

    res = client_for(tenant_a, "owner").post("/api/leads/", {"name": "Телеграм", "phone": "1234567890",
                                                             "channel": "telegram"}, format="json")
    assert res.status_code == 201 and res.json()["channel"] == "telegram"
    with tenant_context(tenant_a):
        assert not LeadIdentity.objects.filter(lead_id=res.json()["id"]).exists()  # a chat id is not a phone


def test_a_duplicate_phone_offers_the_existing_lead(tenant_a, client_for):
    from leads.models import Lead

    existing = make_lead(tenant_a, name="Уже есть", phone="77015550000")
    res = client_for(tenant_a, "head").post("/api/leads/", {"name": "Второй", "phone": "+7 701 555 00 00"},
                                            format="json")
    assert res.status_code == 409
    assert res.json()["existing"]["id"] == existing.pk
    with tenant_context(tenant_a):
        assert Lead.objects.filter(phone="77015550000").count() == 1


def test_a_restricted_manager_gets_no_data_of_a_duplicate_they_may_not_see(tenant_a, client_for):
    set_managers_see_all(tenant_a, False)
    make_lead(tenant_a, name="Чужая тайна", phone="77015550001", assignee=user_of(tenant_a, "manager2"))
    res = client_for(tenant_a, "manager").post("/api/leads/", {"phone": "77015550001"}, format="json")
    assert res.status_code == 409 and res.json()["existing"] is None
    assert "Чужая" not in res.content.decode()


def test_a_managers_lead_is_theirs_and_they_may_not_assign_another(tenant_a, client_for):
    set_managers_see_all(tenant_a, False)
    manager, manager2 = user_of(tenant_a, "manager"), user_of(tenant_a, "manager2")
    client = client_for(tenant_a, "manager")
    res = client.post("/api/leads/", {"name": "Звонок с улицы"}, format="json")
    assert res.status_code == 201 and res.json()["assignee"]["id"] == manager.pk
    assert client.get(f"/api/leads/{res.json()['id']}/").status_code == 200
    res = client.post("/api/leads/", {"name": "Коллеге", "assignee": manager2.pk}, format="json")
    assert res.status_code == 403


def test_anonymous_and_other_tenants_cannot_create_here(tenant_a, tenant_b, client_for):
    from leads.models import Lead

    assert client_for(tenant_a).post("/api/leads/", {"name": "A"}, format="json").status_code == 401
    header = client_for(tenant_b, "owner")._credentials["HTTP_AUTHORIZATION"]
    res = client_for(tenant_a).post("/api/leads/", {"name": "Из беты"}, format="json", HTTP_AUTHORIZATION=header)
    assert res.status_code == 401
    res = client_for(tenant_b, "owner").post("/api/leads/", {"name": "В бете", "phone": "77015559999"},
                                             format="json")
    assert res.status_code == 201
    with tenant_context(tenant_a):
        assert not Lead.objects.filter(phone="77015559999").exists()
    make_lead(tenant_a, name="Альфа", phone="77015558888")  # the same phone in another tenant is no duplicate
    res = client_for(tenant_b, "owner").post("/api/leads/", {"phone": "77015558888"}, format="json")
    assert res.status_code == 201
