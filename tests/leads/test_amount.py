"""The deal amount: edited on the card, filled from the client's budget until a person sets it, summed per stage on
the board under the same visibility and filters as the list."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all


def column(board: dict, kind: str) -> dict:
    return next(c for c in board["stages"] if c["kind"] == kind)


def test_person_sets_amount_on_the_card_and_clears_it(tenant_a, client_for):
    lead = make_lead(tenant_a, name="A")
    client = client_for(tenant_a, "manager")
    res = client.patch(f"/api/leads/{lead.pk}/", {"amount": "2500000.50"}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["amount"] == "2500000.50" and res.json()["amount_by_person"] is True
    events = client.get(f"/api/leads/{lead.pk}/events/").json()
    assert any(e["field"] == "amount" and e["after"] == "2500000.50" for e in events)
    res = client.patch(f"/api/leads/{lead.pk}/", {"amount": None}, format="json")
    assert res.status_code == 200 and res.json()["amount"] is None


@pytest.mark.parametrize("bad", ["abc", "-1", "1e30", "NaN", "Infinity", {"x": 1}, "1" * 40])
def test_bad_amount_is_a_400(tenant_a, client_for, bad):
    lead = make_lead(tenant_a)
    res = client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"amount": bad}, format="json")
    assert res.status_code == 400, res.content
    assert "amount" in res.json()


def test_budget_fills_the_amount_until_a_person_sets_it(tenant_a, client_for):
    from leads.models import Lead
    from leads.services import AI, lead_update

    lead = make_lead(tenant_a)
    with tenant_context(tenant_a):
        lead_update(lead=lead, actor=AI, data={"budget": "около 2 млн тенге"})
        assert Lead.objects.get(pk=lead.pk).amount == Decimal("2000000.00")
        lead_update(lead=lead, actor=AI, data={"budget": 3_500_000})
        assert Lead.objects.get(pk=lead.pk).amount == Decimal("3500000.00")
        lead_update(lead=lead, actor=AI, data={"budget": "не знаю"})  # nothing readable: the amount stays
        assert Lead.objects.get(pk=lead.pk).amount == Decimal("3500000.00")
    res = client_for(tenant_a, "head").patch(f"/api/leads/{lead.pk}/", {"amount": "1000000"}, format="json")
    assert res.status_code == 200
    with tenant_context(tenant_a):
        lead = Lead.objects.get(pk=lead.pk)
        lead_update(lead=lead, actor=AI, data={"budget": "5 млн"})
        assert Lead.objects.get(pk=lead.pk).amount == Decimal("1000000.00")  # the person's figure stays


def test_person_clearing_the_amount_keeps_the_budget_out(tenant_a, client_for):
    from leads.models import Lead
    from leads.services import AI, lead_update

    lead = make_lead(tenant_a)
    assert client_for(tenant_a, "owner").patch(f"/api/leads/{lead.pk}/", {"amount": None},
                                               format="json").status_code == 200
    with tenant_context(tenant_a):
        lead_update(lead=Lead.objects.get(pk=lead.pk), actor=AI, data={"budget": 700000})
        assert Lead.objects.get(pk=lead.pk).amount is None


def test_board_totals_per_stage_with_filters(tenant_a, client_for):
    make_lead(tenant_a, stage_kind="in_dialog", amount=Decimal("100.50"), temperature="hot", channel="whatsapp")
    make_lead(tenant_a, stage_kind="in_dialog", amount=Decimal("200"), temperature="cold", channel="telegram")
    make_lead(tenant_a, stage_kind="in_dialog", temperature="hot")  # no amount: counted, adds nothing
    make_lead(tenant_a, stage_kind="won", amount=Decimal("1000000"), temperature="hot")
    client = client_for(tenant_a, "owner")
    board = client.get("/api/board/").json()
    assert board["currency"] == "KZT"
    assert (column(board, "in_dialog")["count"], column(board, "in_dialog")["amount"]) == (3, "300.50")
    assert (column(board, "won")["count"], column(board, "won")["amount"]) == (1, "1000000.00")
    assert (column(board, "new")["count"], column(board, "new")["amount"]) == (0, "0.00")
    hot = client.get("/api/board/?temperature=hot").json()
    assert (column(hot, "in_dialog")["count"], column(hot, "in_dialog")["amount"]) == (2, "100.50")
    assert len(column(hot, "in_dialog")["leads"]) == 2
    tg = client.get("/api/board/", {"channel": "telegram"}).json()
    assert (column(tg, "in_dialog")["count"], column(tg, "in_dialog")["amount"]) == (1, "200.00")
    assert client.get("/api/board/?temperature=boiling").status_code == 400


def test_board_totals_respect_manager_visibility(tenant_a, client_for):
    manager = user_of(tenant_a, "manager")
    make_lead(tenant_a, stage_kind="complete", amount=Decimal("10"), assignee=manager)
    make_lead(tenant_a, stage_kind="complete", amount=Decimal("90"))
    set_managers_see_all(tenant_a, False)
    mine = column(client_for(tenant_a, "manager").get("/api/board/").json(), "complete")
    assert (mine["count"], mine["amount"]) == (1, "10.00")
    assert column(client_for(tenant_a, "manager2").get("/api/board/").json(), "complete")["amount"] == "0.00"
    everything = column(client_for(tenant_a, "head").get("/api/board/").json(), "complete")
    assert (everything["count"], everything["amount"]) == (2, "100.00")


def test_other_tenant_sees_no_amounts(tenant_a, tenant_b, client_for):
    lead = make_lead(tenant_a, stage_kind="complete", amount=Decimal("555"))
    other = client_for(tenant_b, "owner")
    assert column(other.get("/api/board/").json(), "complete")["amount"] == "0.00"
    assert other.patch(f"/api/leads/{lead.pk}/", {"amount": "1"}, format="json").status_code == 404


def test_currency_follows_the_tenant_config(tenant_a, client_for):
    from tenants.services import tenant_config_import

    tenant_config_import(tenant_a, {"currency": "RUB"})
    client = client_for(tenant_a, "manager")
    assert client.get("/api/board/").json()["currency"] == "RUB"
    assert client.get("/api/auth/me/").json()["tenant"]["currency"] == "RUB"


def test_board_without_totals_has_counts_only(tenant_a, client_for):
    make_lead(tenant_a, stage_kind="in_dialog", amount=Decimal("100"))
    board = client_for(tenant_a, "owner").get("/api/board/?totals=false").json()
    assert column(board, "in_dialog")["count"] == 1 and "amount" not in column(board, "in_dialog")
    assert client_for(tenant_a, "owner").get("/api/board/?totals=maybe").status_code == 400


@pytest.mark.parametrize(("said", "amount"), [(2_000_000, "2000000.00"), ("2 млн", "2000000.00"),
                                              ("1,5 mln", "1500000.00"), ("300 000 тг", "300000.00")])
def test_the_ai_tool_records_the_budget_and_the_amount_follows(tenant_a, said, amount):
    from aiagent.tools import ToolRunner
    from leads.models import Lead
    from tenants.presets import PRESETS

    lead = make_lead(tenant_a, stage_kind="in_dialog")
    with tenant_context(tenant_a):
        result = ToolRunner(lead=lead, fields=PRESETS["generic_b2b"]).run("update_lead", {"data": {"budget": said}})
        assert result["ok"], result
        assert Lead.objects.get(pk=lead.pk).amount == Decimal(amount)
