"""GET /api/analytics/tables/ and /api/analytics/export/<table>/ on hand-built leads and stage histories."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_message, make_lead

ALMATY = ZoneInfo("Asia/Almaty")
PERIOD = {"from": "2025-03-01", "to": "2025-03-31"}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=ALMATY)


def history(tenant, lead, *kinds_and_days):
    """Writes stage_changed events lead went through: (kind, day) pairs in order, from its creation stage."""
    from leads.models import LeadEvent, Stage

    with tenant_context(tenant):
        stages = {s.kind: s for s in Stage.objects.all()}
        previous = stages["new"]
        for kind, day in kinds_and_days:
            stage = stages[kind]
            event = LeadEvent.objects.create(lead=lead, kind="stage_changed", actor_kind="ai", field="stage",
                                             before={"id": previous.pk, "name": previous.name, "kind": previous.kind},
                                             after={"id": stage.pk, "name": stage.name, "kind": stage.kind})
            LeadEvent.objects.filter(pk=event.pk).update(created_at=at(day))
            previous = stage


@pytest.fixture
def sales(tenant_a):
    t = tenant_a
    manager, manager2 = user_of(t, "manager"), user_of(t, "manager2")
    d = SimpleNamespace(manager=manager, manager2=manager2)
    # won after new → in_dialog → complete → won, 4 days after creation
    d.a = make_lead(t, stage_kind="won", channel="whatsapp", source="instagram", amount=Decimal("1000000"),
                    assignee=manager, temperature="hot", score=90, created_at=at(1),
                    ai_state={"intents": ["greeting", "price_question", "call_request"], "facts_used": [0]})
    history(t, d.a, ("in_dialog", 1), ("complete", 3), ("won", 5))
    # lost after reaching complete: reached in_dialog, incomplete… by position up to complete, and lost
    d.b = make_lead(t, stage_kind="lost", channel="whatsapp", source="instagram", amount=Decimal("500000"),
                    assignee=manager2, temperature="cold", score=10, created_at=at(2),
                    ai_state={"intents": ["price_question"]})
    history(t, d.b, ("in_dialog", 2), ("complete", 2), ("lost", 4))
    # still in dialog, open deal
    d.c = make_lead(t, stage_kind="in_dialog", channel="telegram", source="site", amount=Decimal("300000"),
                    temperature="warm", score=50, created_at=at(3), call_requested=True,
                    ai_state={"intents": "not a list"})
    history(t, d.c, ("in_dialog", 3))
    # won straight from new, 2 days later, no amount
    d.d = make_lead(t, stage_kind="won", channel="telegram", source="site", assignee=manager, temperature="hot",
                    score=70, created_at=at(10))
    history(t, d.d, ("won", 12))
    # outside the period
    d.old = make_lead(t, stage_kind="won", channel="whatsapp", amount=Decimal("9"),
                      created_at=at(1) - timedelta(days=40))
    for lead in (d.a, d.b, d.c):
        add_message(t, lead, text="Здравствуйте", at=at(lead.created_at.day, 11))
        add_message(t, lead, direction="out", text="Добрый день", at=at(lead.created_at.day, 12))
    add_message(t, d.old, text="x", at=at(1) - timedelta(days=40))
    from leads.models import Lead
    with tenant_context(t):
        for lead in (d.a, d.b, d.c):
            Lead.objects.filter(pk=lead.pk).update(last_inbound_at=at(lead.created_at.day, 11))
        recent = timezone.now() - timedelta(days=1)
        Lead.objects.filter(pk=d.c.pk).update(last_inbound_at=recent, last_outbound_at=recent)
    return d


def tables(client, **params) -> dict:
    res = client.get("/api/analytics/tables/", {**PERIOD, **params})
    assert res.status_code == 200, res.content
    return res.json()


def by(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


def test_money_by_manager_source_and_channel(tenant_a, client_for, sales):
    body = tables(client_for(tenant_a, "owner"))
    assert body["currency"] == "KZT" and body["period"]["from"] == "2025-03-01"
    managers = by(body["tables"]["money_by_manager"]["rows"], "manager")
    assert managers["manager@alpha.test"] == {"manager": "manager@alpha.test", "leads": 2, "won": 2,
                                              "won_amount": "1000000.00", "open_amount": "0.00",
                                              "avg_deal": "500000.00"}
    assert managers["manager2@alpha.test"]["won_amount"] == "0.00" and managers["manager2@alpha.test"]["won"] == 0
    assert managers[""]["open_amount"] == "300000.00"
    sources = by(body["tables"]["money_by_source"]["rows"], "source")
    assert (sources["instagram"]["won_amount"], sources["site"]["open_amount"]) == ("1000000.00", "300000.00")
    channels = body["tables"]["money_by_channel"]["rows"]
    assert channels[0]["channel"] == "whatsapp" and channels[0]["leads"] == 2


def test_cohort_funnel_from_the_stage_history(tenant_a, client_for, sales):
    rows = by(tables(client_for(tenant_a, "head"))["tables"]["cohort_funnel"]["rows"], "kind")
    # 4 leads: all were new; a, b, c reached in_dialog; d jumped new → won, so by position it passed every stage
    assert rows["new"]["reached"] == 4
    assert rows["in_dialog"]["reached"] == 4
    assert rows["requests_call"]["reached"] == 3  # a and b reached complete (later), d won; c did not
    assert rows["complete"]["reached"] == 3
    assert rows["won"]["reached"] == 2 and rows["won"]["share"] == 0.5
    assert rows["lost"]["reached"] == 1 and rows["lost"]["share"] == 0.25


def test_the_other_tables(tenant_a, client_for, sales):
    t = tables(client_for(tenant_a, "owner"))["tables"]
    messages = by(t["messages_by_channel"]["rows"], "channel")
    assert messages == {"sandbox": {"channel": "sandbox", "inbound": 3, "outbound": 3, "total": 6}}
    conversion = by(t["message_conversion"]["rows"], "channel")
    # whatsapp: a (won) and b (reached complete) wrote; telegram: c wrote and asked for a call
    assert conversion["whatsapp"] == {"channel": "whatsapp", "dialogs": 2, "qualified": 2, "won": 1,
                                      "qualified_rate": 1.0, "won_rate": 0.5}
    assert conversion["telegram"]["dialogs"] == 1 and conversion["telegram"]["qualified"] == 1
    quality = by(t["quality_by_source"]["rows"], "source")
    assert quality["instagram"]["hot_share"] == 0.5 and quality["instagram"]["avg_score"] == 50.0
    assert quality["site"]["hot"] == 1 and quality["site"]["warm"] == 1
    questions = [(r["kind"], r["question"], r["leads"]) for r in t["top_questions"]["rows"]]
    assert questions[0] == ("intent", "price_question", 2)
    assert ("intent", "call_request", 1) in questions and not any(q[1] == "greeting" for q in questions)
    assert by(t["active_conversations"]["rows"], "channel") == {"telegram": {"channel": "telegram", "active": 1}}
    cycle = by(t["sales_cycle"]["rows"], "segment")
    assert cycle["all"]["won"] == 2 and cycle["all"]["median_days"] == 3.0 and cycle["all"]["avg_days"] == 3.0
    assert cycle["whatsapp"]["median_days"] == 4.0 and cycle["telegram"]["median_days"] == 2.0


def test_manager_sees_only_own_leads(tenant_a, client_for, sales):
    t = tables(client_for(tenant_a, "manager"))["tables"]
    assert [r["manager"] for r in t["money_by_manager"]["rows"]] == ["manager@alpha.test"]
    assert by(t["cohort_funnel"]["rows"], "kind")["new"]["reached"] == 2
    csv_text = client_for(tenant_a, "manager").get("/api/analytics/export/money_by_manager/", PERIOD) \
        .content.decode("utf-8-sig")
    assert "manager2@alpha.test" not in csv_text and "manager@alpha.test" in csv_text


def test_csv_export(tenant_a, client_for, sales):
    client = client_for(tenant_a, "owner")
    res = client.get("/api/analytics/export/money_by_source/", PERIOD)
    assert res.status_code == 200 and res["Content-Type"].startswith("text/csv")
    assert 'filename="money_by_source_2025-03-01_2025-03-31.csv"' in res["Content-Disposition"]
    assert res.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert rows[0] == ["Источник", "Заявки", "Успешно", "Выручка", "В работе, сумма", "Средний чек"]
    assert ["instagram", "2", "1", "1000000.00", "0.00", "1000000.00"] in rows
    en = client.get("/api/analytics/export/cohort_funnel/", {**PERIOD, "lang": "en"}).content.decode("utf-8-sig")
    assert en.splitlines()[0] == "Stage,Kind,Reached,Share"
    for name in ("messages_by_channel", "message_conversion", "quality_by_source", "top_questions",
                 "active_conversations", "sales_cycle", "money_by_manager", "money_by_channel"):
        assert client.get(f"/api/analytics/export/{name}/", PERIOD).status_code == 200


def test_csv_cells_that_look_like_formulas_are_defused(tenant_a, client_for):
    make_lead(tenant_a, source="=HYPERLINK(\"x\")", created_at=at(5))
    text = client_for(tenant_a, "owner").get("/api/analytics/export/quality_by_source/", PERIOD) \
        .content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/analytics/export/nope/", PERIOD, 404),
    ("/api/analytics/tables/", {"from": "2025-13-01"}, 400),
    ("/api/analytics/tables/", {"from": "2025-03-05", "to": "2025-03-01"}, 400),
    ("/api/analytics/tables/", {"active_days": "0"}, 400),
    ("/api/analytics/tables/", {"active_days": "9" * 30}, 400),
    ("/api/analytics/export/sales_cycle/", {"lang": "de"}, 400),
])
def test_bad_input_is_4xx(tenant_a, client_for, path, params, status):
    assert client_for(tenant_a, "owner").get(path, params).status_code == status


def test_anonymous_and_other_tenant(tenant_a, tenant_b, client_for, sales):
    assert client_for(tenant_a).get("/api/analytics/tables/").status_code == 401
    assert client_for(tenant_a).get("/api/analytics/export/sales_cycle/").status_code == 401
    other = tables(client_for(tenant_b, "owner"))["tables"]
    assert other["money_by_manager"]["rows"] == [] and other["sales_cycle"]["rows"][0]["won"] == 0
    assert all(r["reached"] == 0 for r in other["cohort_funnel"]["rows"])


def test_top_questions_name_the_tenant_facts_and_the_csv_says_them_in_words(tenant_a, client_for):
    from tenants.services import tenant_config_import

    tenant_config_import(tenant_a, {"ai": {"facts": [{"keywords": ["доставка"], "text": "Доставка бесплатно"},
                                                     {"text": "Гарантия 5 лет"}]}})
    make_lead(tenant_a, created_at=at(4), ai_state={"facts_used": [1, 7, "x"], "intents": ["price_question"]})
    make_lead(tenant_a, created_at=at(5), ai_state={"facts_used": [1, 0]})
    client = client_for(tenant_a, "owner")
    rows = tables(client)["tables"]["top_questions"]["rows"]
    assert rows == [{"kind": "fact", "question": "Гарантия 5 лет", "leads": 2},
                    {"kind": "fact", "question": "доставка", "leads": 1},
                    {"kind": "intent", "question": "price_question", "leads": 1}]
    text = client.get("/api/analytics/export/top_questions/", PERIOD).content.decode("utf-8-sig")
    assert "Намерение,Сколько стоит?,1" in text and "Факт,Гарантия 5 лет,2" in text
    en = client.get("/api/analytics/export/top_questions/", {**PERIOD, "lang": "en"}).content.decode("utf-8-sig")
    assert "Intent,How much is it?,1" in en
