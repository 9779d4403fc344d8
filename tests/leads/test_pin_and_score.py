"""A person moving a stage pins it (who and when on the card); the AI's engine never moves a pinned lead; returning
the lead to the AI releases the pin. The score decays with the client's silence, once per change, by a sweep that
can run any number of times."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import make_lead

FULL = {
    "dimensions": {"length": 10, "width": 12, "height": 3},
    "foundation_closed": True,
    "windows": 10,
    "doors": 2,
    "has_project": False,
}


def stage_id(tenant, kind: str) -> int:
    from leads.models import Stage

    with tenant_context(tenant):
        return Stage.objects.get(kind=kind).pk


def test_a_person_pins_the_stage_and_the_card_says_who(tenant_a, client_for):
    lead = make_lead(tenant_a, stage_kind="in_dialog")
    head = user_of(tenant_a, "head")
    res = client_for(tenant_a, "head").patch(
        f"/api/leads/{lead.pk}/", {"stage": stage_id(tenant_a, "incomplete")}, format="json"
    )
    assert res.status_code == 200, res.content
    card = res.json()
    assert card["stage_pinned"] is True and card["stage_pinned_by"]["id"] == head.pk and card["stage_pinned_at"]
    listed = client_for(tenant_a, "owner").get("/api/leads/").json()["results"]
    assert next(item for item in listed if item["id"] == lead.pk)["stage_pinned"] is True


def test_the_engine_never_moves_a_pinned_lead_and_return_to_ai_releases_it(tenant_a, client_for):
    from aiagent.tools import ToolRunner
    from brain import engine
    from leads.models import Lead

    lead = make_lead(tenant_a, stage_kind="in_dialog", city="Алматы", data=FULL)
    client = client_for(tenant_a, "manager")
    client.patch(f"/api/leads/{lead.pk}/", {"stage": stage_id(tenant_a, "incomplete")}, format="json")
    with tenant_context(tenant_a):
        fresh = Lead.objects.select_related("stage").get(pk=lead.pk)
        ToolRunner(lead=fresh, fields=[]).run("request_call", {"preferred_time": "завтра в 11"})
        fresh.refresh_from_db()
        assert (
            engine.stage_target(
                current=fresh.stage.kind,
                locked=fresh.stage_locked,
                client_replied=True,
                fields=[],
                data=fresh.data,
                city=fresh.city,
                call_requested=True,
            )
            is None
        )
    res = client.post(f"/api/leads/{lead.pk}/return-to-ai/")
    assert res.status_code == 200
    card = client.get(f"/api/leads/{lead.pk}/").json()
    assert (card["stage_pinned"], card["stage_pinned_by"], card["stage_pinned_at"]) == (False, None, None)
    with tenant_context(tenant_a):
        fresh = Lead.objects.select_related("stage").get(pk=lead.pk)
        assert (
            engine.stage_target(
                current=fresh.stage.kind,
                locked=fresh.stage_locked,
                client_replied=True,
                fields=[],
                data=fresh.data,
                city=fresh.city,
                call_requested=True,
            )
            == "requests_call"
        )


def test_another_tenant_cannot_pin_or_release(tenant_a, tenant_b, client_for):
    lead = make_lead(tenant_a, stage_kind="in_dialog")
    other = client_for(tenant_b, "owner")
    assert other.patch(f"/api/leads/{lead.pk}/", {"stage": stage_id(tenant_b, "won")}, format="json").status_code == 404
    assert other.post(f"/api/leads/{lead.pk}/return-to-ai/").status_code == 404
    with tenant_context(tenant_a):
        lead.refresh_from_db()
        assert lead.stage_locked is False


def test_silence_decays_the_score_once_per_change_idempotently(tenant_a):
    from leads.models import Lead
    from leads.services import lead_rescore, leads_decay_scores

    now = timezone.now()
    lead = make_lead(
        tenant_a,
        stage_kind="requests_call",
        city="Алматы",
        data=FULL,
        call_requested=True,
        name="Марат",
        last_inbound_at=now - timedelta(hours=1),
        waiting_since=now - timedelta(minutes=50),
        ai_state={"client_messages": 4, "intents": ["call_request"]},
    )
    with tenant_context(tenant_a):
        lead = Lead.objects.select_related("stage").get(pk=lead.pk)
        lead_rescore(lead=lead, now=now)
        assert lead.temperature == "hot"
        fresh_score = lead.score
        events = lead.events.filter(kind="score_changed").count()
        assert leads_decay_scores(now=now) == 0  # silent for less than a day: nothing to do
        later = now + timedelta(days=3)
        assert leads_decay_scores(now=later) == 1
        assert leads_decay_scores(now=later) == 0  # the same hour again changes nothing
        lead.refresh_from_db()
        assert lead.score < fresh_score and lead.temperature == "warm"
        silence = next(r for r in lead.score_reasons if r["key"] == "silence")
        assert silence["params"] == {"days": 3} and silence["points"] < 0
        assert lead.events.filter(kind="score_changed").count() == events + 1
        assert leads_decay_scores(now=now + timedelta(days=9)) == 1
        lead.refresh_from_db()
        assert lead.temperature == "cold"


def test_thinking_it_over_cools_the_lead_and_says_so(tenant_a):
    from leads.models import Lead
    from leads.services import lead_rescore

    lead = make_lead(
        tenant_a,
        stage_kind="requests_call",
        city="Алматы",
        data=FULL,
        call_requested=True,
        last_inbound_at=timezone.now(),
        ai_state={"client_messages": 4, "thinking": True, "quotes": {"thinking": "спасибо, подумаю"}},
    )
    with tenant_context(tenant_a):
        lead = Lead.objects.select_related("stage").get(pk=lead.pk)
        lead_rescore(lead=lead)
        assert lead.temperature == "warm"
        assert any(r["key"] == "thinking" and r["quote"] == "спасибо, подумаю" for r in lead.score_reasons)
