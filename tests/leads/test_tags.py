"""Tags: edited as a whole on the card (PATCH tags), filtered in the list, and put on by the AI from what the client
writes (marked auto; one a person removed is not put back). Roles and tenants as for every card edit."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import make_lead, result_ids, set_managers_see_all


def test_tags_are_cleaned_saved_and_filtered(tenant_a, client_for):
    lead = make_lead(tenant_a, name="С тегами", phone="77011110100")
    other = make_lead(tenant_a, name="Без", phone="77011110101", tags=["дом"])
    client = client_for(tenant_a, "manager")
    res = client.patch(f"/api/leads/{lead.pk}/", {"tags": [" VIP ", "#Дом", "vip", ""]}, format="json")
    assert res.status_code == 200 and res.json()["tags"] == ["vip", "дом"]
    assert set(result_ids(client.get("/api/leads/", {"tag": "дом"}))) == {lead.pk, other.pk}
    assert result_ids(client.get("/api/leads/", {"tag": "VIP,дом"})) == [lead.pk]
    assert result_ids(client.get("/api/leads/", {"tag": "нет такого"})) == []
    with tenant_context(tenant_a):
        event = lead.events.get(kind="tags_changed")
        assert (event.before, event.after, event.actor_user_id) == ([], ["vip", "дом"], user_of(tenant_a,
                                                                                              "manager").pk)


@pytest.mark.parametrize("tags", [["x" * 33], ["a,b"], ["bad\x07"], [f"t{i}" for i in range(21)], "vip", [{"a": 1}]])
def test_bad_tags_are_a_400(tenant_a, client_for, tags):
    lead = make_lead(tenant_a, name="Т", phone="77011110102")
    res = client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"tags": tags}, format="json")
    assert res.status_code == 400 and res.json()["detail"]


def test_the_ai_tags_from_what_the_client_writes_and_respects_removals(tenant_a):
    from leads.services import AI, lead_tags_add, lead_tags_set, user_actor

    lead = make_lead(tenant_a, name="Авто", phone="77011110103", tags=["vip"])
    with tenant_context(tenant_a):
        lead_tags_add(lead=lead, tags=["цена", "звонок", "bad\x00", "x" * 40], actor=AI, auto=True)
        assert lead.tags == ["vip", "цена", "звонок"] and lead.tags_auto == ["цена", "звонок"]
        owner = user_of(tenant_a, "owner")
        lead_tags_set(lead=lead, tags=["vip", "звонок"], actor=user_actor(owner))  # the person drops «цена»
        assert lead.tags_auto == ["звонок"] and lead.ai_state["tags_declined"] == ["цена"]
        lead_tags_add(lead=lead, tags=["цена"], actor=AI, auto=True)
        assert "цена" not in lead.tags
        lead_tags_add(lead=lead, tags=["звонок"], actor=user_actor(owner))  # a person's own now
        assert lead.tags_auto == []


def test_brain_tags_of_reuse_the_nlu(tenant_a):
    from brain.nlu import extract
    from brain.tagging import tags_of

    ex = extract("Сколько стоит дом? Перезвоните завтра", [])
    assert tags_of(intents=ex.intents, data={"urgency": "now", "interests": ["Баня", 5]}) == [
        "звонок", "цена", "срочно", "баня"]


def test_an_ai_turn_puts_auto_tags_on_the_lead(tenant_a, client_for):
    from aiagent.services import ai_turn_run
    from leads.models import Lead

    res = client_for(tenant_a, "owner").post("/api/sandbox/messages/", {"phone": "77011110104", "name": "Ерлан",
                                                                        "text": "Сколько стоит баня?"}, format="json")
    assert res.status_code == 201, res.content
    lead_id, message_id = res.json()["lead_id"], res.json()["message"]["id"]
    with tenant_context(tenant_a):
        assert ai_turn_run(lead_id=lead_id, message_id=message_id) == "ok"  # the turn as the worker runs it
        lead = Lead.objects.get(pk=lead_id)
        assert "цена" in lead.tags and "цена" in lead.tags_auto
        assert lead.events.filter(kind="tags_changed", actor_kind="ai").exists()


def test_restricted_manager_cannot_tag_others_leads_and_tenants_are_apart(tenant_a, tenant_b, client_for):
    set_managers_see_all(tenant_a, False)
    other = make_lead(tenant_a, name="Чужой", phone="77011110105", assignee=user_of(tenant_a, "manager2"))
    assert client_for(tenant_a, "manager").patch(f"/api/leads/{other.pk}/", {"tags": ["x"]},
                                                 format="json").status_code == 404
    assert client_for(tenant_b, "owner").patch(f"/api/leads/{other.pk}/", {"tags": ["x"]},
                                               format="json").status_code == 404
    with tenant_context(tenant_a):
        other.refresh_from_db()
        assert other.tags == []
