"""POST /api/leads/bulk/: assign, move or tag the selected rows in one call — each lead checked for visibility, a
manager assigns only to themselves, one timeline entry and event per lead, a count in the answer."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all


@pytest.fixture
def three(tenant_a):
    return [make_lead(tenant_a, name=f"Лид {n}", phone=f"7701222000{n}") for n in range(3)]


def bulk(client, **body):
    return client.post("/api/leads/bulk/", body, format="json")


def test_assign_move_and_tag_many_leads(tenant_a, client_for, three, django_capture_on_commit_callbacks):
    from leads.models import Lead, Stage

    manager = user_of(tenant_a, "manager")
    ids = [lead.pk for lead in three]
    client = client_for(tenant_a, "head")
    res = bulk(client, ids=ids, action="assign", assignee=manager.pk)
    assert res.status_code == 200 and res.json() == {"updated": 3, "unchanged": 0, "skipped": 0}
    res = bulk(client, ids=ids, action="assign", assignee=manager.pk)
    assert res.json() == {"updated": 0, "unchanged": 3, "skipped": 0}
    with tenant_context(tenant_a):
        won = Stage.objects.get(kind="won")
    res = bulk(client, ids=[*ids, 99999999], action="move", stage=won.pk)
    assert res.json() == {"updated": 3, "unchanged": 0, "skipped": 1}
    res = bulk(client, ids=ids[:2], action="tag", tag="Выставка")
    assert res.json()["updated"] == 2
    with tenant_context(tenant_a):
        for lead in Lead.objects.filter(pk__in=ids):
            assert lead.assignee_id == manager.pk and lead.stage_id == won.pk and lead.stage_locked
            kinds = list(lead.events.values_list("kind", flat=True))
            assert kinds.count("assigned") == 1 and kinds.count("stage_changed") == 1
            assert lead.tags == (["выставка"] if lead.pk in ids[:2] else [])


def test_bulk_emits_one_domain_event_per_lead(tenant_a, client_for, three, monkeypatch):
    from core import events

    seen: list[int] = []

    def record(*, lead_id: int, **_: object) -> None:
        seen.append(lead_id)

    # One more listener of lead.assigned for this test, beside the apps' own (restored afterwards).
    monkeypatch.setitem(events._listeners, "lead.assigned",
                        [*events._listeners.get("lead.assigned", []), events.Listener("lead.assigned", record, False)])
    bulk(client_for(tenant_a, "owner"), ids=[lead.pk for lead in three], action="assign",
         assignee=user_of(tenant_a, "manager2").pk)
    assert sorted(seen) == sorted(lead.pk for lead in three)


def test_a_manager_assigns_only_to_themselves_and_touches_only_visible_leads(tenant_a, client_for):
    from leads.models import Lead

    set_managers_see_all(tenant_a, False)
    manager, manager2 = user_of(tenant_a, "manager"), user_of(tenant_a, "manager2")
    mine = make_lead(tenant_a, name="Мой", phone="77012220010", assignee=manager)
    theirs = make_lead(tenant_a, name="Чужой", phone="77012220011", assignee=manager2)
    client = client_for(tenant_a, "manager")
    assert bulk(client, ids=[mine.pk], action="assign", assignee=manager2.pk).status_code == 403
    res = bulk(client, ids=[mine.pk, theirs.pk], action="tag", tag="срочно")
    assert res.json() == {"updated": 1, "unchanged": 0, "skipped": 1}
    res = bulk(client, ids=[theirs.pk], action="assign", assignee=manager.pk)  # not visible: no grabbing
    assert res.json()["skipped"] == 1
    with tenant_context(tenant_a):
        assert Lead.objects.get(pk=theirs.pk).tags == [] and Lead.objects.get(pk=theirs.pk).assignee_id == manager2.pk
        assert Lead.objects.get(pk=mine.pk).tags == ["срочно"]


@pytest.mark.parametrize("body", [
    {}, {"ids": [], "action": "tag", "tag": "x"}, {"ids": [1], "action": "delete"}, {"ids": [1], "action": "move"},
    {"ids": [1], "action": "move", "stage": 99999999}, {"ids": [1], "action": "tag"},
    {"ids": [1], "action": "tag", "tag": "a,b"}, {"ids": [1], "action": "tag", "tag": "  "},
    {"ids": [1], "action": "assign", "assignee": 99999999}, {"ids": ["x"], "action": "tag", "tag": "a"},
    {"ids": list(range(1, 502)), "action": "tag", "tag": "a"}, {"ids": [2**70], "action": "tag", "tag": "a"},
    {"ids": 5, "action": "tag", "tag": "a"},
])
def test_bad_input_is_a_400(tenant_a, client_for, body):
    res = client_for(tenant_a, "owner").post("/api/leads/bulk/", body, format="json")
    assert res.status_code == 400, res.content
    assert res.json()["detail"]


def test_other_tenants_and_anonymous_touch_nothing(tenant_a, tenant_b, client_for, three):
    from leads.models import Lead

    ids = [lead.pk for lead in three]
    assert bulk(client_for(tenant_a), ids=ids, action="tag", tag="x").status_code == 401
    res = bulk(client_for(tenant_b, "owner"), ids=ids, action="tag", tag="x")
    assert res.status_code == 200 and res.json()["updated"] == 0
    with tenant_context(tenant_a):
        assert not Lead.objects.filter(pk__in=ids, tags__contains=["x"]).exists()
