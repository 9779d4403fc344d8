"""GET /api/analytics/summary/ on a small constructed dataset (tenant time zone Asia/Almaty, UTC+5)."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_followup, add_message, make_lead, set_managers_see_all

ALMATY = ZoneInfo("Asia/Almaty")
PERIOD = {"from": "2025-03-01", "to": "2025-03-03"}


def local(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=ALMATY)


@pytest.fixture
def dataset(tenant_a):
    from leads.services import SYSTEM, event_add

    t = tenant_a
    d = SimpleNamespace()
    d.a = make_lead(t, name="A", stage_kind="won", channel="whatsapp", source="instagram", created_at=local(1, 10))
    add_message(t, d.a, text="Здравствуйте", at=local(1, 10))
    add_message(t, d.a, direction="out", text="Добрый день!", at=local(1, 10, 0, 30))
    add_message(t, d.a, direction="out", text="Ещё", at=local(1, 10, 5))
    add_followup(t, d.a, status="sent", answered=True)

    d.b = make_lead(t, name="B", stage_kind="in_dialog", channel="telegram", source="site", created_at=local(1, 12))
    add_message(t, d.b, text="Привет", at=local(1, 12))
    add_message(t, d.b, text="Ещё вопрос", at=local(1, 12, 1))
    add_message(t, d.b, direction="out", text="Отвечаю", at=local(1, 12, 1, 30))
    with tenant_context(t):
        event_add(lead=d.b, actor=SYSTEM, kind="takeover", field="handled_by", before="ai", after="x")
    add_followup(t, d.b, status="sent")

    d.c = make_lead(t, name="C", stage_kind="lost", channel="whatsapp", source="instagram", needs_human=True,
                    created_at=local(2, 9))
    add_message(t, d.c, text="Сколько стоит?", at=local(2, 9))
    add_message(t, d.c, direction="out", text="Зависит", at=local(2, 9, 5))
    add_followup(t, d.c, status="pending")
    add_followup(t, d.c, status="cancelled")

    # created 23:30 local on 03-03 (18:30 UTC): still in the period; the AI wrote first, a person answered
    d.d = make_lead(t, name="D", stage_kind="won", channel="sandbox", source="site", created_at=local(3, 23, 30))
    add_message(t, d.d, direction="out", text="Приветствие", at=local(3, 23, 30))
    add_message(t, d.d, text="Да", at=local(3, 23, 40))
    add_message(t, d.d, direction="out", author_kind="user", text="Менеджер", at=local(3, 23, 41))
    add_followup(t, d.d, kind="reengagement", status="sent", answered=True)

    # just outside the period on both sides (local days)
    d.before = make_lead(t, name="E", stage_kind="won", channel="whatsapp", created_at=local(28, 23, 59, month=2))
    add_message(t, d.before, text="x", at=local(28, 23, 59, month=2))
    add_message(t, d.before, direction="out", text="y", at=local(28, 23, 59, 59, month=2))
    add_followup(t, d.before, kind="reengagement", status="sent")
    d.after = make_lead(t, name="F", stage_kind="won", channel="whatsapp", created_at=local(4, 0, 0, 30))
    return d


def summary(client, **params):
    res = client.get("/api/analytics/summary/", params)
    assert res.status_code == 200, res.content
    return res.json()


def test_summary_figures(tenant_a, client_for, dataset):
    body = summary(client_for(tenant_a, "head"), **PERIOD)
    assert body["period"] == {"from": "2025-03-01", "to": "2025-03-03", "timezone": "Asia/Almaty"}
    funnel = {row["kind"]: row["count"] for row in body["funnel"]}
    assert funnel == {"new": 0, "in_dialog": 1, "requests_call": 0, "incomplete": 0, "complete": 0, "won": 2,
                      "lost": 1}
    assert [row["kind"] for row in body["funnel"]][:2] == ["new", "in_dialog"]
    assert body["funnel"][0]["name"] == "Новые" and isinstance(body["funnel"][0]["stage"], int)
    assert body["conversion"] == {"total": 4, "won": 2, "rate": 0.5}
    assert body["by_channel"] == [{"channel": "whatsapp", "count": 2}, {"channel": "sandbox", "count": 1},
                                  {"channel": "telegram", "count": 1}]
    assert body["by_source"] == [{"source": "instagram", "count": 2}, {"source": "site", "count": 2}]
    # first client message → first AI message after it: A 30 s, B 90 s, C 300 s; D never got an AI answer
    frt = body["ai_first_response_seconds"]
    assert (frt["avg"], frt["p50"], frt["p90"], frt["count"]) == (140.0, 90.0, 258.0, 3)
    assert body["handed_to_human"] == {"count": 2, "share": 0.5}
    assert body["followups"] == {"sent": 2, "answered": 1, "rate": 0.5}
    assert body["reengagement"] == {"sent": 1, "answered": 1, "rate": 1.0}
    assert body["by_day"] == [{"date": "2025-03-01", "leads": 2, "won": 1},
                              {"date": "2025-03-02", "leads": 1, "won": 0},
                              {"date": "2025-03-03", "leads": 1, "won": 1}]


def test_one_day_period(tenant_a, client_for, dataset):
    body = summary(client_for(tenant_a, "owner"), **{"from": "2025-03-04", "to": "2025-03-04"})
    assert body["conversion"] == {"total": 1, "won": 1, "rate": 1.0}
    assert body["ai_first_response_seconds"] == {"avg": None, "p50": None, "p90": None, "count": 0}
    assert body["by_day"] == [{"date": "2025-03-04", "leads": 1, "won": 1}]


def test_empty_period_has_zeros_not_errors(tenant_a, client_for, dataset):
    body = summary(client_for(tenant_a, "owner"), **{"from": "2024-01-01", "to": "2024-01-02"})
    assert body["conversion"] == {"total": 0, "won": 0, "rate": 0.0}
    assert body["handed_to_human"] == {"count": 0, "share": 0.0}
    assert body["followups"] == {"sent": 0, "answered": 0, "rate": 0.0}
    assert body["by_channel"] == [] and len(body["by_day"]) == 2
    assert all(row["count"] == 0 for row in body["funnel"])


def test_restricted_manager_counts_only_assigned_leads(tenant_a, client_for, dataset):
    from leads.models import Lead

    manager = user_of(tenant_a, "manager")
    with tenant_context(tenant_a):
        Lead.objects.filter(pk=dataset.c.pk).update(assignee=manager)
    set_managers_see_all(tenant_a, False)
    body = summary(client_for(tenant_a, "manager"), **PERIOD)
    assert body["conversion"] == {"total": 1, "won": 0, "rate": 0.0}
    assert body["ai_first_response_seconds"]["avg"] == 300.0
    assert body["followups"] == {"sent": 0, "answered": 0, "rate": 0.0}
    assert summary(client_for(tenant_a, "owner"), **PERIOD)["conversion"]["total"] == 4
    set_managers_see_all(tenant_a, True)
    assert summary(client_for(tenant_a, "manager"), **PERIOD)["conversion"]["total"] == 4


def test_default_period_is_the_last_30_days(tenant_a, client_for, dataset):
    from django.utils import timezone

    fresh = make_lead(tenant_a, name="Сейчас", source="site")
    old = make_lead(tenant_a, name="Давно", created_at=timezone.now() - timedelta(days=40))
    body = summary(client_for(tenant_a, "owner"))
    today = timezone.now().astimezone(ALMATY).date()
    assert body["period"]["to"] == today.isoformat()
    assert body["period"]["from"] == (today - timedelta(days=29)).isoformat()
    assert len(body["by_day"]) == 30 and body["by_day"][-1]["leads"] >= 1
    assert body["conversion"]["total"] == 1
    assert fresh.pk != old.pk
    # only `from`: up to today
    body = summary(client_for(tenant_a, "owner"), **{"from": (today - timedelta(days=2)).isoformat()})
    assert len(body["by_day"]) == 3 and body["conversion"]["total"] == 1


@pytest.mark.parametrize("params,key", [
    ({"from": "2025-13-01"}, "from"), ({"to": "abc"}, "to"), ({"from": "20250301"}, "from"),
    ({"from": "2025-02-30"}, "from"), ({"from": "2025-03-05", "to": "2025-03-01"}, "from"),
    ({"from": "2000-01-01", "to": "2025-01-01"}, "from"), ({"to": "2025-03-01T10:00:00"}, "to"),
])
def test_bad_dates_are_400_with_detail(tenant_a, client_for, params, key):
    res = client_for(tenant_a, "owner").get("/api/analytics/summary/", params)
    assert res.status_code == 400, res.content
    assert key in res.json() and res.json()["detail"].startswith(key)
