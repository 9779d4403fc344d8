"""Takeover and return-to-AI: who handles the dialog, the timeline, and pending follow-ups cancelled."""
from __future__ import annotations

from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_followup, make_lead, result_ids


def refreshed(tenant, obj):
    with tenant_context(tenant):
        obj.refresh_from_db()
    return obj


def test_takeover_hands_the_dialog_to_the_user_and_cancels_pending_followups(tenant_a, client_for):
    lead = make_lead(tenant_a, name="Лид")
    pending = add_followup(tenant_a, lead)
    reengage = add_followup(tenant_a, lead, kind="reengagement")
    sent = add_followup(tenant_a, lead, status="sent")
    client = client_for(tenant_a, "manager")
    res = client.post(f"/api/leads/{lead.pk}/takeover/")
    assert res.status_code == 200, res.content
    body = res.json()
    manager = user_of(tenant_a, "manager")
    assert body["handled_by"] == {"id": manager.pk, "email": manager.email, "full_name": manager.full_name}
    assert body["assignee"]["id"] == manager.pk  # an unassigned lead goes to whoever took it
    assert refreshed(tenant_a, pending).status == "cancelled" and pending.reason == "takeover"
    assert refreshed(tenant_a, reengage).status == "cancelled"
    assert refreshed(tenant_a, sent).status == "sent"
    [event] = [e for e in client.get(f"/api/leads/{lead.pk}/events/").json() if e["kind"] == "takeover"]
    assert (event["field"], event["before"], event["after"]) == ("handled_by", "ai", manager.email)
    assert event["actor"]["id"] == manager.pk
    assert result_ids(client.get("/api/leads/", {"ai": "off"})) == [lead.pk]
    assert result_ids(client.get("/api/leads/", {"ai": "on"})) == []
    followups = client.get(f"/api/leads/{lead.pk}/followups/").json()
    assert {f["status"] for f in followups} == {"cancelled", "sent"}


def test_takeover_keeps_an_existing_assignee_and_records_the_previous_handler(tenant_a, client_for):
    manager2 = user_of(tenant_a, "manager2")
    lead = make_lead(tenant_a, assignee=manager2, handler=manager2)
    res = client_for(tenant_a, "head").post(f"/api/leads/{lead.pk}/takeover/")
    assert res.json()["assignee"]["id"] == manager2.pk
    assert res.json()["handled_by"]["email"] == "head@alpha.test"
    [event] = [e for e in client_for(tenant_a, "head").get(f"/api/leads/{lead.pk}/events/").json()
               if e["kind"] == "takeover"]
    assert event["before"] == "manager2@alpha.test" and event["after"] == "head@alpha.test"


def test_return_to_ai(tenant_a, client_for):
    head = user_of(tenant_a, "head")
    lead = make_lead(tenant_a, handler=head, ai_enabled=False, needs_human=True, needs_human_reason="ругается")
    pending = add_followup(tenant_a, lead)
    client = client_for(tenant_a, "owner")
    res = client.post(f"/api/leads/{lead.pk}/return-to-ai/")
    assert res.status_code == 200
    body = res.json()
    assert body["handled_by"] == "ai" and body["ai_enabled"] is True and body["needs_human"] is False
    assert refreshed(tenant_a, pending).status == "cancelled"
    [event] = [e for e in client.get(f"/api/leads/{lead.pk}/events/").json() if e["kind"] == "returned_to_ai"]
    assert (event["before"], event["after"]) == ("head@alpha.test", "ai")
    assert event["actor"]["email"] == "owner@alpha.test"


def test_takeover_and_return_refuse_other_methods(tenant_a, client_for):
    lead = make_lead(tenant_a)
    client = client_for(tenant_a, "owner")
    assert client.get(f"/api/leads/{lead.pk}/takeover/").status_code == 405
    assert client.get(f"/api/leads/{lead.pk}/return-to-ai/").status_code == 405


def test_events_timeline_is_newest_first_with_actors(tenant_a, client_for):
    from leads.services import AI, SYSTEM, event_add

    lead = make_lead(tenant_a)
    with tenant_context(tenant_a):
        event_add(lead=lead, actor=SYSTEM, kind="created", text="Новая заявка")
        event_add(lead=lead, actor=AI, kind="score_changed", field="score", before={"score": 0},
                  after={"score": 40})
    client = client_for(tenant_a, "manager")
    client.post(f"/api/leads/{lead.pk}/takeover/")
    timeline = client.get(f"/api/leads/{lead.pk}/events/").json()
    assert [e["kind"] for e in timeline] == ["takeover", "score_changed", "created"]
    assert [e["actor"] if isinstance(e["actor"], str) else "user" for e in timeline] == ["user", "ai", "system"]
    assert timeline[1]["after"] == {"score": 40} and timeline[2]["text"] == "Новая заявка"
    assert all(e["created_at"] for e in timeline)
