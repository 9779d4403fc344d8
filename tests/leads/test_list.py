"""GET /api/leads/: filters, search, ordering, paging; bad input is a 400, never a 500."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import user_of
from tests.leads.conftest import add_message, make_lead, result_ids

UTC = ZoneInfo("UTC")


@pytest.fixture
def catalog(tenant_a):
    manager, head = user_of(tenant_a, "manager"), user_of(tenant_a, "head")
    d = SimpleNamespace(manager=manager, head=head)
    d.asel = make_lead(tenant_a, name="Асель Омарова", phone="77011112233", city="Алматы", score=90,
                       temperature="hot", assignee=manager, channel="whatsapp", source="instagram",
                       created_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    d.bekzat = make_lead(tenant_a, name="Бекзат", phone="77022223344", city="Астана", score=50, temperature="warm",
                         stage_kind="in_dialog", handler=head, channel="telegram", source="site",
                         created_at=datetime(2025, 3, 2, 12, tzinfo=UTC))
    d.vera = make_lead(tenant_a, name="Вера", phone="77033334455", city="Шымкент", score=10, temperature="cold",
                       stage_kind="won", assignee=head, ai_enabled=False, channel="sandbox", source="sandbox",
                       created_at=datetime(2025, 3, 3, 12, tzinfo=UTC))
    d.gani = make_lead(tenant_a, name="Гани", phone="77044445566", city="Караганда", score=70, temperature="hot",
                       channel="whatsapp", source="site", created_at=datetime(2025, 3, 4, 12, tzinfo=UTC))
    add_message(tenant_a, d.gani, text="Нужен ФУНДАМЕНТ под дом 10 на 12")
    add_message(tenant_a, d.bekzat, direction="out", text="Здравствуйте! Чем помочь?")
    return d


def ids(client, **params) -> set[int]:
    return set(result_ids(client.get("/api/leads/", params)))


def stage_id(tenant, kind):
    from django_tenants.utils import tenant_context

    from leads.models import Stage

    with tenant_context(tenant):
        return Stage.objects.get(kind=kind).pk


def test_filters(tenant_a, client_for, catalog):
    c = catalog
    owner = client_for(tenant_a, "owner")
    new, in_dialog = stage_id(tenant_a, "new"), stage_id(tenant_a, "in_dialog")
    assert ids(owner) == {c.asel.pk, c.bekzat.pk, c.vera.pk, c.gani.pk}
    assert ids(owner, stage=str(new)) == {c.asel.pk, c.gani.pk}
    assert ids(owner, stage=f"{new},{in_dialog}") == {c.asel.pk, c.bekzat.pk, c.gani.pk}
    assert ids(owner, stage_kind="won") == {c.vera.pk}
    assert ids(owner, temperature="hot") == {c.asel.pk, c.gani.pk}
    assert ids(owner, temperature="warm,cold") == {c.bekzat.pk, c.vera.pk}
    assert ids(owner, assignee="none") == {c.bekzat.pk, c.gani.pk}
    assert ids(owner, assignee=str(c.head.pk)) == {c.vera.pk}
    assert ids(client_for(tenant_a, "manager"), assignee="me") == {c.asel.pk}
    assert ids(client_for(tenant_a, "head"), assignee="me") == {c.vera.pk}
    assert ids(owner, ai="on") == {c.asel.pk, c.gani.pk}
    assert ids(owner, ai="off") == {c.bekzat.pk, c.vera.pk}
    assert ids(owner, channel="whatsapp") == {c.asel.pk, c.gani.pk}
    assert ids(owner, channel="telegram,sandbox") == {c.bekzat.pk, c.vera.pk}
    assert ids(owner, source="site") == {c.bekzat.pk, c.gani.pk}
    assert ids(owner, created_from="2025-03-02") == {c.bekzat.pk, c.vera.pk, c.gani.pk}
    assert ids(owner, created_to="2025-03-02") == {c.asel.pk, c.bekzat.pk}
    assert ids(owner, created_from="2025-03-02", created_to="2025-03-03") == {c.bekzat.pk, c.vera.pk}
    assert ids(owner, temperature="hot", channel="whatsapp", assignee="none") == {c.gani.pk}


@pytest.mark.parametrize("q,who", [
    ("асель", "asel"), ("ОМАРОВА", "asel"), ("7011112233", "asel"), ("+7 (701) 111-22-33", "asel"),
    ("шымкент", "vera"), ("Караганда", "gani"), ("фундамент", "gani"), ("10 на 12", "gani"),
    ("чем помочь", "bekzat"),
])
def test_search_over_name_phone_city_and_message_text(tenant_a, client_for, catalog, q, who):
    assert ids(client_for(tenant_a, "owner"), q=q) == {getattr(catalog, who).pk}


def test_search_with_no_match_and_blank_query(tenant_a, client_for, catalog):
    owner = client_for(tenant_a, "owner")
    assert ids(owner, q="Несуществующий") == set()
    assert len(ids(owner, q="   ")) == 4


def test_ordering(tenant_a, client_for, catalog):
    c = catalog
    owner = client_for(tenant_a, "owner")
    assert result_ids(owner.get("/api/leads/")) == [c.asel.pk, c.gani.pk, c.bekzat.pk, c.vera.pk]
    assert result_ids(owner.get("/api/leads/", {"ordering": "score"})) == [c.vera.pk, c.bekzat.pk, c.gani.pk,
                                                                            c.asel.pk]
    assert result_ids(owner.get("/api/leads/", {"ordering": "-created_at"})) == [c.gani.pk, c.vera.pk, c.bekzat.pk,
                                                                                  c.asel.pk]
    assert result_ids(owner.get("/api/leads/", {"ordering": "name"})) == [c.asel.pk, c.bekzat.pk, c.vera.pk,
                                                                           c.gani.pk]
    # an unknown ordering falls back to the default, not an error
    assert result_ids(owner.get("/api/leads/", {"ordering": "password"}))[0] == c.asel.pk


def test_paging(tenant_a, client_for, catalog):
    owner = client_for(tenant_a, "owner")
    first = owner.get("/api/leads/", {"page_size": 3})
    body = first.json()
    assert body["count"] == 4 and len(body["results"]) == 3 and body["next"]
    assert "page=2" in body["next"]
    second = owner.get("/api/leads/", {"page_size": 3, "page": 2}).json()
    assert second["count"] == 4 and len(second["results"]) == 1 and second["next"] is None
    seen = [r["id"] for r in body["results"]] + [r["id"] for r in second["results"]]
    assert len(set(seen)) == 4
    assert owner.get("/api/leads/", {"page": 9}).status_code == 404


def test_card_shape(tenant_a, client_for, catalog):
    body = client_for(tenant_a, "owner").get(f"/api/leads/{catalog.bekzat.pk}/").json()
    for key in ("name", "phone", "city", "data", "stage", "score", "temperature", "score_reasons", "assignee",
                "ai_enabled", "handled_by", "last_message", "waiting_since", "channel"):
        assert key in body
    assert body["handled_by"]["id"] == catalog.head.pk and body["stage_kind"] == "in_dialog"
    assert {f["key"] for f in body["fields"]} >= {"city", "dimensions", "windows", "doors", "foundation_closed",
                                                  "has_project"}
    vera = client_for(tenant_a, "owner").get(f"/api/leads/{catalog.vera.pk}/").json()
    assert vera["handled_by"] is None and vera["assignee"]["email"] == "head@alpha.test"


@pytest.mark.parametrize("params", [{"created_from": "not-a-date"}, {"created_to": "2025-02-31"}])
def test_bad_date_filter_is_400(tenant_a, client_for, catalog, params):
    res = client_for(tenant_a, "owner").get("/api/leads/", params)
    assert res.status_code == 400 and res.json()["detail"]


def test_lead_of_unknown_id_is_404(tenant_a, client_for, catalog):
    assert client_for(tenant_a, "owner").get(f"/api/leads/{catalog.gani.pk + 1000}/").status_code == 404


def test_board_lists_stages_in_order_with_counts_and_cards(tenant_a, client_for, catalog):
    res = client_for(tenant_a, "owner").get("/api/board/")
    stages = res.json()["stages"]
    assert [s["kind"] for s in stages] == ["new", "in_dialog", "requests_call", "incomplete", "complete", "won",
                                           "lost"]
    new = stages[0]
    assert new["count"] == 2 and [card["id"] for card in new["leads"]] == [catalog.asel.pk, catalog.gani.pk]
    assert client_for(tenant_a, "owner").get("/api/board/", {"per_stage": 1}).json()["stages"][0]["count"] == 2
    assert len(client_for(tenant_a, "owner").get("/api/board/", {"per_stage": 1}).json()["stages"][0]["leads"]) == 1
    for bad in ("x", "-1", "1000"):
        assert client_for(tenant_a, "owner").get("/api/board/", {"per_stage": bad}).status_code == 400


def test_created_at_filter_uses_dates(tenant_a, client_for, catalog):
    recent = make_lead(tenant_a, name="Сегодня", created_at=datetime.now(UTC) - timedelta(minutes=1))
    today = recent.created_at.date().isoformat()
    assert recent.pk in ids(client_for(tenant_a, "owner"), created_from=today)
