"""Pipeline stages: everyone reads; owner and head create, rename, recolour, reorder and delete."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.leads.conftest import make_lead

KINDS = ["new", "in_dialog", "requests_call", "incomplete", "complete", "won", "lost"]


def stages(client) -> list[dict]:
    res = client.get("/api/stages/")
    assert res.status_code == 200
    return res.json()


def test_every_role_reads_the_seven_default_stages_in_order(tenant_a, client_for):
    for role in ("owner", "head", "manager"):
        body = stages(client_for(tenant_a, role))
        assert [s["kind"] for s in body] == KINDS
        assert [s["position"] for s in body] == list(range(7))
        assert body[0]["name"] == "Новые" and body[5]["name"] == "Успешно"


@pytest.mark.parametrize("role", ["owner", "head"])
def test_create_at_end_and_at_a_position_at_most_eight(tenant_a, client_for, role):
    client = client_for(tenant_a, role)
    res = client.post("/api/stages/", {"name": "Первый", "color": "#123abc", "position": 0}, format="json")
    assert res.status_code == 201, res.content
    assert res.json()["kind"] == "custom" and res.json()["position"] == 0 and res.json()["color"] == "#123abc"
    assert res.json()["deletable"] is True
    # Eight stages at most (the board stays readable on a phone): the ninth is a 400 that says so.
    res = client.post("/api/stages/", {"name": "Замер"}, format="json")
    assert res.status_code == 400 and "8" in res.json()["detail"]
    names = [s["name"] for s in stages(client)]
    assert names[0] == "Первый" and len(names) == 8
    assert [s["position"] for s in stages(client)] == list(range(8))


def test_manager_cannot_change_stages(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    first = stages(client)[0]
    assert client.post("/api/stages/", {"name": "X"}, format="json").status_code == 403
    assert client.patch(f"/api/stages/{first['id']}/", {"name": "X"}, format="json").status_code == 403
    assert client.delete(f"/api/stages/{first['id']}/").status_code == 403
    assert len(stages(client)) == 7 and stages(client)[0]["name"] == "Новые"


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 81}, {"name": "X", "color": "red"},
                                  {"name": "X", "position": -1}])
def test_create_bad_input_is_400(tenant_a, client_for, body):
    res = client_for(tenant_a, "owner").post("/api/stages/", body, format="json")
    assert res.status_code == 400 and res.json()["detail"]


def test_rename_recolour_and_reorder(tenant_a, client_for):
    client = client_for(tenant_a, "head")
    lost = stages(client)[6]
    res = client.patch(f"/api/stages/{lost['id']}/", {"name": "Отказались", "color": "#000000", "position": 1},
                       format="json")
    assert res.status_code == 200
    assert (res.json()["name"], res.json()["color"], res.json()["position"]) == ("Отказались", "#000000", 1)
    assert [s["kind"] for s in stages(client)] == ["new", "lost", "in_dialog", "requests_call", "incomplete",
                                                   "complete", "won"]
    assert [s["position"] for s in stages(client)] == list(range(7))
    res = client.patch(f"/api/stages/{lost['id']}/", {"position": 100}, format="json")
    assert res.status_code == 200 and [s["kind"] for s in stages(client)][-1] == "lost"
    assert client.patch(f"/api/stages/{lost['id']}/", {"color": "#zzzzzz"}, format="json").status_code == 400
    assert client.patch("/api/stages/999999/", {"name": "X"}, format="json").status_code == 404
    board = client.get("/api/board/").json()["stages"]
    assert board[-1]["name"] == "Отказались"


def test_delete_an_empty_stage(tenant_a, client_for):
    client = client_for(tenant_a, "owner")
    created = client.post("/api/stages/", {"name": "Временный", "position": 2}, format="json").json()
    assert client.delete(f"/api/stages/{created['id']}/").status_code == 204
    assert [s["kind"] for s in stages(client)] == KINDS
    assert client.delete(f"/api/stages/{created['id']}/").status_code == 404


def test_delete_a_stage_with_leads_needs_move_to(tenant_a, client_for):
    client = client_for(tenant_a, "owner")
    by_kind = {s["kind"]: s["id"] for s in stages(client)}
    custom = client.post("/api/stages/", {"name": "Замер"}, format="json").json()["id"]
    lead = make_lead(tenant_a, stage_kind="incomplete")
    from leads.models import Lead, Stage

    with tenant_context(tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage=Stage.objects.get(pk=custom))
    url = f"/api/stages/{custom}/"
    for query in ("", f"?move_to={custom}", "?move_to=999999", "?move_to=abc"):
        res = client.delete(url + query)
        assert res.status_code == 400, (query, res.content)
        assert "move_to" in res.json() and "move_to" in res.json()["detail"]
    assert len(stages(client)) == 8
    res = client.delete(f"{url}?move_to={by_kind['complete']}")
    assert res.status_code == 204

    with tenant_context(tenant_a):
        moved = Lead.objects.get(pk=lead.pk)
        assert moved.stage_id == by_kind["complete"]
        event = moved.events.get(kind="stage_changed")
        assert event.before["kind"] == "custom" and event.after["kind"] == "complete"
    assert [s["kind"] for s in stages(client)] == KINDS


def test_delete_with_move_to_in_the_body(tenant_a, client_for):
    client = client_for(tenant_a, "head")
    by_kind = {s["kind"]: s["id"] for s in stages(client)}
    make_lead(tenant_a, stage_kind="lost")
    res = client.delete(f"/api/stages/{by_kind['lost']}/", {"move_to": by_kind["won"]}, format="json")
    assert res.status_code == 204
    assert client.get("/api/board/").json()["stages"][-1]["count"] == 1


def test_the_ai_stages_can_be_renamed_and_recoloured_but_not_deleted(tenant_a, client_for):
    """The stages the AI moves leads into stay; won and lost are a person's and may go."""
    client = client_for(tenant_a, "owner")
    body = stages(client)
    assert {s["kind"]: s["deletable"] for s in body} == {
        "new": False, "in_dialog": False, "requests_call": False, "incomplete": False, "complete": False,
        "won": True, "lost": True}
    for stage in body[:5]:
        res = client.delete(f"/api/stages/{stage['id']}/")
        assert res.status_code == 400 and "AI" in res.json()["detail"], stage["kind"]
    complete = next(s for s in body if s["kind"] == "complete")
    res = client.patch(f"/api/stages/{complete['id']}/", {"name": "Данные собраны", "color": "#111111"},
                       format="json")
    assert res.status_code == 200 and (res.json()["name"], res.json()["kind"]) == ("Данные собраны", "complete")
    assert len(stages(client)) == 7
