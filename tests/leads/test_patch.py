"""PATCH /api/leads/{id}/: fields, qualification data, stage (pins it), assignee (a manager only to self);
every change is an event in the timeline."""
from __future__ import annotations

import json

from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_followup, make_lead


def events(client, lead_id) -> list[dict]:
    res = client.get(f"/api/leads/{lead_id}/events/")
    assert res.status_code == 200
    return res.json()


def stage_of(tenant, kind):
    from leads.models import Stage

    with tenant_context(tenant):
        return Stage.objects.get(kind=kind)


def test_patch_plain_fields_writes_one_event_each(tenant_a, client_for):
    lead = make_lead(tenant_a, name="Старое", city="Алматы", phone="77010001122")
    client = client_for(tenant_a, "head")
    res = client.patch(f"/api/leads/{lead.pk}/", {"name": "Нурсултан", "city": "Астана", "email": "n@ex.kz",
                                                  "ai_enabled": False, "phone": "77010001122"}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert (body["name"], body["city"], body["email"], body["ai_enabled"]) == ("Нурсултан", "Астана", "n@ex.kz",
                                                                                False)
    assert body["handled_by"] is None
    changed = {e["field"]: e for e in events(client, lead.pk) if e["kind"] == "field_changed"}
    assert set(changed) == {"name", "city", "email", "ai_enabled"}  # the unchanged phone writes nothing
    assert changed["name"]["before"] == "Старое" and changed["name"]["after"] == "Нурсултан"
    assert changed["city"]["actor"]["email"] == "head@alpha.test"
    # the same values again: no new events
    client.patch(f"/api/leads/{lead.pk}/", {"name": "Нурсултан"}, format="json")
    assert len([e for e in events(client, lead.pk) if e["kind"] == "field_changed"]) == 4


def test_patch_ignores_read_only_fields(tenant_a, client_for):
    lead = make_lead(tenant_a, score=12)
    res = client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"score": 99, "temperature": "hot",
                                                                         "handler": 1}, format="json")
    assert res.status_code == 200 and res.json()["score"] == 12 and res.json()["temperature"] == "cold"


def test_patch_bad_values_are_400_with_detail(tenant_a, client_for):
    lead = make_lead(tenant_a, name="X")
    client = client_for(tenant_a, "owner")
    for body in ({"email": "not-an-email"}, {"data": "text"}, {"data": [1, 2]}, {"stage": "abc"},
                 {"assignee": "someone"}, {"name": "x" * 151}, {"ai_enabled": "maybe"}):
        res = client.patch(f"/api/leads/{lead.pk}/", body, format="json")
        assert res.status_code == 400, (body, res.content)
        assert res.json()["detail"]
    with tenant_context(tenant_a):
        from leads.models import Lead

        assert Lead.objects.get(pk=lead.pk).name == "X"


def test_patch_data_merges_and_null_removes(tenant_a, client_for):
    lead = make_lead(tenant_a, data={"city": "Алматы"})
    client = client_for(tenant_a, "owner")
    dims = {"length": 10, "width": 8, "height": 3}
    res = client.patch(f"/api/leads/{lead.pk}/", {"data": {"dimensions": dims, "windows": 6}}, format="json")
    assert res.json()["data"] == {"city": "Алматы", "dimensions": dims, "windows": 6}
    res = client.patch(f"/api/leads/{lead.pk}/", {"data": {"windows": None, "has_project": True}}, format="json")
    assert res.json()["data"] == {"city": "Алматы", "dimensions": dims, "has_project": True}
    data_events = [e for e in events(client, lead.pk) if e["kind"] == "data_changed"]
    assert sorted((e["field"], json.dumps(e["before"], sort_keys=True), json.dumps(e["after"], sort_keys=True))
                  for e in data_events) == sorted([
        ("dimensions", "null", json.dumps(dims, sort_keys=True)), ("windows", "null", "6"), ("windows", "6", "null"),
        ("has_project", "null", "true")])


def test_user_stage_move_pins_the_stage_and_writes_an_event(tenant_a, client_for):
    lead = make_lead(tenant_a)
    complete = stage_of(tenant_a, "complete")
    client = client_for(tenant_a, "manager")
    res = client.patch(f"/api/leads/{lead.pk}/", {"stage": complete.pk}, format="json")
    assert res.status_code == 200 and res.json()["stage"] == complete.pk and res.json()["stage_kind"] == "complete"
    with tenant_context(tenant_a):
        from leads.models import Lead

        assert Lead.objects.get(pk=lead.pk).stage_locked is True
    [moved] = [e for e in events(client, lead.pk) if e["kind"] == "stage_changed"]
    assert moved["before"]["kind"] == "new" and moved["after"] == {"id": complete.pk, "name": complete.name,
                                                                   "kind": "complete"}
    assert moved["actor"]["email"] == "manager@alpha.test"
    # moving to the same stage again writes nothing
    client.patch(f"/api/leads/{lead.pk}/", {"stage": complete.pk}, format="json")
    assert len([e for e in events(client, lead.pk) if e["kind"] == "stage_changed"]) == 1


def test_user_pins_a_stage_even_when_it_does_not_change(tenant_a, client_for):
    lead = make_lead(tenant_a)
    new = stage_of(tenant_a, "new")
    assert client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"stage": new.pk},
                                               format="json").status_code == 200
    with tenant_context(tenant_a):
        from leads.models import Lead

        assert Lead.objects.get(pk=lead.pk).stage_locked is True


def test_moving_to_won_cancels_pending_followups(tenant_a, client_for):
    lead = make_lead(tenant_a)
    pending = add_followup(tenant_a, lead)
    client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"stage": stage_of(tenant_a, "won").pk},
                                        format="json")
    with tenant_context(tenant_a):
        pending.refresh_from_db()
    assert pending.status == "cancelled" and "won" in pending.reason


def test_unknown_stage_is_400_naming_stage(tenant_a, client_for):
    lead = make_lead(tenant_a)
    res = client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"stage": 999999}, format="json")
    assert res.status_code == 400 and "stage" in res.json() and res.json()["detail"].startswith("stage")


def test_owner_and_head_assign_anyone(tenant_a, client_for):
    lead = make_lead(tenant_a)
    manager2 = user_of(tenant_a, "manager2")
    for role in ("owner", "head"):
        res = client_for(tenant_a, role).patch(f"/api/leads/{lead.pk}/", {"assignee": manager2.pk}, format="json")
        assert res.status_code == 200 and res.json()["assignee"]["id"] == manager2.pk
    res = client_for(tenant_a, "head").patch(f"/api/leads/{lead.pk}/", {"assignee": None}, format="json")
    assert res.json()["assignee"] is None
    assigned = [e for e in events(client_for(tenant_a, "owner"), lead.pk) if e["kind"] == "assigned"]
    assert [(e["before"], e["after"]) for e in assigned] == [("manager2@alpha.test", None),
                                                           (None, "manager2@alpha.test")]


def test_manager_may_assign_only_to_self(tenant_a, client_for):
    lead = make_lead(tenant_a)
    manager, manager2 = user_of(tenant_a, "manager"), user_of(tenant_a, "manager2")
    client = client_for(tenant_a, "manager")
    res = client.patch(f"/api/leads/{lead.pk}/", {"assignee": manager2.pk}, format="json")
    assert res.status_code == 403 and res.json()["detail"]
    res = client.patch(f"/api/leads/{lead.pk}/", {"assignee": user_of(tenant_a, "owner").pk}, format="json")
    assert res.status_code == 403
    with tenant_context(tenant_a):
        from leads.models import Lead

        assert Lead.objects.get(pk=lead.pk).assignee_id is None
    res = client.patch(f"/api/leads/{lead.pk}/", {"assignee": manager.pk}, format="json")
    assert res.status_code == 200 and res.json()["assignee"]["id"] == manager.pk


def test_assignee_must_be_an_active_user_of_this_tenant(tenant_a, tenant_b, client_for):
    lead = make_lead(tenant_a)
    client = client_for(tenant_a, "owner")
    assert client.patch(f"/api/leads/{lead.pk}/", {"assignee": 999999}, format="json").status_code == 400
    manager2 = user_of(tenant_a, "manager2")
    with tenant_context(tenant_a):
        from accounts.models import User

        User.objects.filter(pk=manager2.pk).update(is_active=False)
    res = client.patch(f"/api/leads/{lead.pk}/", {"assignee": manager2.pk}, format="json")
    assert res.status_code == 400 and "assignee" in res.json()
