"""Who sees which lead: owner/head see all; a manager sees all or only assigned ones (tenant setting);
nothing crosses tenants; anonymous callers get 401."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.leads.conftest import add_message, make_lead, result_ids, set_managers_see_all


def board_counts(response) -> dict[str, int]:
    assert response.status_code == 200, response.content
    return {col["kind"]: col["count"] for col in response.json()["stages"]}


def board_ids(response) -> set[int]:
    return {card["id"] for col in response.json()["stages"] for card in col["leads"]}


@pytest.mark.parametrize("see_all", [True, False])
@pytest.mark.parametrize("role", ["owner", "head"])
def test_owner_and_head_see_every_lead_in_both_modes(tenant_a, client_for, trio, role, see_all):
    set_managers_see_all(tenant_a, see_all)
    client = client_for(tenant_a, role)
    everyone = {trio.mine.pk, trio.other.pk, trio.free.pk}
    assert set(result_ids(client.get("/api/leads/"))) == everyone
    for lead in (trio.mine, trio.other, trio.free):
        assert client.get(f"/api/leads/{lead.pk}/").status_code == 200
        assert client.get(f"/api/leads/{lead.pk}/events/").status_code == 200
        assert client.get(f"/api/leads/{lead.pk}/messages/").status_code == 200
    board = client.get("/api/board/")
    assert sum(board_counts(board).values()) == 3 and board_ids(board) == everyone
    assert set(result_ids(client.get("/api/leads/", {"q": "Чужой"}))) == {trio.other.pk}


def test_manager_sees_all_leads_when_the_setting_is_on(tenant_a, client_for, trio):
    set_managers_see_all(tenant_a, True)
    client = client_for(tenant_a, "manager")
    assert set(result_ids(client.get("/api/leads/"))) == {trio.mine.pk, trio.other.pk, trio.free.pk}
    assert client.get(f"/api/leads/{trio.other.pk}/").status_code == 200
    assert client.patch(f"/api/leads/{trio.other.pk}/", {"city": "Тараз"}, format="json").status_code == 200
    assert client.get(f"/api/leads/{trio.free.pk}/messages/").status_code == 200
    assert client.get(f"/api/leads/{trio.other.pk}/events/").status_code == 200
    assert sum(board_counts(client.get("/api/board/")).values()) == 3
    assert result_ids(client.get("/api/leads/", {"q": "Чужой"})) == [trio.other.pk]
    res = client.post(f"/api/leads/{trio.free.pk}/takeover/")
    assert res.status_code == 200 and res.json()["handled_by"]["id"] == trio.manager.pk


def test_restricted_manager_sees_and_touches_only_assigned_leads(tenant_a, client_for, trio):
    set_managers_see_all(tenant_a, False)
    add_message(tenant_a, trio.other, text="секретный вопрос про фундамент")
    client = client_for(tenant_a, "manager")

    assert result_ids(client.get("/api/leads/")) == [trio.mine.pk]
    assert result_ids(client.get("/api/leads/", {"q": "Чужой"})) == []
    assert result_ids(client.get("/api/leads/", {"q": "фундамент"})) == []
    assert result_ids(client.get("/api/leads/", {"q": "77020000002"})) == []
    assert result_ids(client.get("/api/leads/", {"assignee": str(trio.manager2.pk)})) == []
    assert result_ids(client.get("/api/leads/", {"q": "Мои"})) == [trio.mine.pk]
    board = client.get("/api/board/")
    assert board_counts(board) == {"new": 1, "in_dialog": 0, "requests_call": 0, "incomplete": 0, "complete": 0,
                                   "won": 0, "lost": 0}
    assert board_ids(board) == {trio.mine.pk}

    for lead in (trio.other, trio.free):
        base = f"/api/leads/{lead.pk}/"
        assert client.get(base).status_code == 404
        assert client.patch(base, {"city": "Тараз"}, format="json").status_code == 404
        assert client.patch(base, {"assignee": trio.manager.pk}, format="json").status_code == 404
        assert client.get(base + "messages/").status_code == 404
        assert client.post(base + "messages/", {"text": "привет"}, format="json").status_code == 404
        assert client.post(base + "takeover/").status_code == 404
        assert client.post(base + "return-to-ai/").status_code == 404
        assert client.get(base + "events/").status_code == 404
        assert client.get(base + "followups/").status_code == 404
    with tenant_context(tenant_a):
        from leads.models import Lead

        for lead in (trio.other, trio.free):
            fresh = Lead.objects.get(pk=lead.pk)
            assert fresh.city == lead.city and fresh.handler_id is None and fresh.assignee_id == lead.assignee_id
            assert fresh.messages.filter(direction="out").count() == 0

    # ...and works normally on its own lead
    mine = f"/api/leads/{trio.mine.pk}/"
    assert client.get(mine).status_code == 200
    assert client.patch(mine, {"city": "Тараз"}, format="json").json()["city"] == "Тараз"
    assert client.get(mine + "events/").status_code == 200
    assert client.post(mine + "takeover/").status_code == 200
    assert client.post(mine + "messages/", {"text": "Здравствуйте!"}, format="json").status_code == 201

    # manager2 sees the mirror image; owner still sees all
    assert result_ids(client_for(tenant_a, "manager2").get("/api/leads/")) == [trio.other.pk]
    assert len(result_ids(client_for(tenant_a, "owner").get("/api/leads/"))) == 3


def test_restricted_manager_who_unassigns_themselves_gets_the_result_then_loses_the_lead(tenant_a, client_for,
                                                                                      trio):
    set_managers_see_all(tenant_a, False)
    client = client_for(tenant_a, "manager")
    res = client.patch(f"/api/leads/{trio.mine.pk}/", {"assignee": None}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["assignee"] is None
    assert client.get(f"/api/leads/{trio.mine.pk}/").status_code == 404


def test_switching_the_setting_back_restores_visibility(tenant_a, client_for, trio):
    client = client_for(tenant_a, "manager")
    set_managers_see_all(tenant_a, False)
    assert len(result_ids(client.get("/api/leads/"))) == 1
    set_managers_see_all(tenant_a, True)
    assert len(result_ids(client.get("/api/leads/"))) == 3


ENDPOINTS = [
    ("get", "/api/leads/"), ("get", "/api/leads/{id}/"), ("patch", "/api/leads/{id}/"),
    ("post", "/api/leads/{id}/takeover/"), ("post", "/api/leads/{id}/return-to-ai/"),
    ("get", "/api/leads/{id}/events/"), ("get", "/api/leads/{id}/followups/"),
    ("get", "/api/leads/{id}/messages/"), ("post", "/api/leads/{id}/messages/"), ("get", "/api/board/"),
    ("get", "/api/stages/"), ("post", "/api/stages/"), ("get", "/api/analytics/summary/"),
    ("get", "/api/sandbox/messages/?phone=77010000001"), ("post", "/api/sandbox/messages/"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_anonymous_gets_401(tenant_a, client_for, trio, method, path):
    res = getattr(client_for(tenant_a), method)(path.format(id=trio.mine.pk), {}, format="json")
    assert res.status_code == 401 and res.json()["detail"]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_token_of_another_tenant_gets_401(tenant_a, tenant_b, client_for, trio, method, path):
    header = client_for(tenant_b, "owner")._credentials["HTTP_AUTHORIZATION"]
    res = getattr(client_for(tenant_a), method)(path.format(id=trio.mine.pk), {}, format="json",
                                                HTTP_AUTHORIZATION=header)
    assert res.status_code == 401


def test_lead_id_of_another_tenant_is_404(tenant_a, tenant_b, client_for):
    from leads.models import Lead

    lead = make_lead(tenant_a, name="Только в альфе", phone="77070000007")
    add_message(tenant_a, lead, text="привет")
    with tenant_context(tenant_b):
        assert not Lead.objects.filter(pk=lead.pk).exists()
    client = client_for(tenant_b, "owner")
    base = f"/api/leads/{lead.pk}/"
    assert client.get(base).status_code == 404
    assert client.patch(base, {"name": "взлом"}, format="json").status_code == 404
    assert client.get(base + "messages/").status_code == 404
    assert client.post(base + "messages/", {"text": "x"}, format="json").status_code == 404
    assert client.post(base + "takeover/").status_code == 404
    assert client.get(base + "events/").status_code == 404
    assert result_ids(client.get("/api/leads/", {"q": "альфе"})) == []
    assert client.get("/api/sandbox/messages/", {"phone": "77070000007"}).json() == []
    with tenant_context(tenant_a):
        assert Lead.objects.get(pk=lead.pk).name == "Только в альфе"
