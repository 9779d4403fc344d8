"""The demo seed: a dozen realistic leads over all stages, idempotent."""
from __future__ import annotations

import re

from django_tenants.utils import tenant_context

from tests.conftest import user_of


def test_seed_demo_leads_twice_gives_twelve_leads_on_every_stage(tenant_a, client_for):
    from buildcrm.demo import seed_demo_leads
    from conversations.models import Message
    from followups.models import FollowUp
    from leads.models import Lead, LeadEvent, LeadIdentity, Stage

    with tenant_context(tenant_a):
        seed_demo_leads()
        seed_demo_leads()
        leads = list(Lead.objects.select_related("stage", "assignee", "handler"))
        assert len(leads) == 12
        assert {lead.stage.kind for lead in leads} == set(Stage.objects.values_list("kind", flat=True))
        managers = {user_of(tenant_a, "manager").pk, user_of(tenant_a, "manager2").pk}
        assert {lead.assignee_id for lead in leads if lead.assignee_id} <= managers
        assert sum(1 for lead in leads if lead.assignee_id) >= 6
        for lead in leads:
            assert lead.channel == "sandbox" and re.fullmatch(r"770\d{8}", lead.phone), lead.phone
            assert LeadIdentity.objects.filter(lead=lead, channel="sandbox", identity=lead.phone).exists()
            messages = list(lead.messages.order_by("created_at", "id"))
            assert messages[0].direction == "in" and any(m.author_kind == "ai" for m in messages)
            assert lead.last_message["text"] == messages[-1].text[:200]
            assert lead.created_at <= messages[0].created_at
            assert lead.events.filter(kind="created").exists()
            assert lead.score_reasons and all("reason" in r and "points" in r for r in lead.score_reasons)
        assert len({lead.phone for lead in leads}) == 12
        waiting = [lead for lead in leads if lead.waiting_since]
        assert len(waiting) >= 2
        assert all(lead.last_message["direction"] == "out" for lead in waiting)
        human = [lead for lead in leads if lead.handler_id]
        assert len(human) == 1
        assert human[0].messages.filter(author_kind="user", author_user=human[0].handler).exists()
        assert human[0].events.filter(kind="takeover").exists()
        complete = [lead for lead in leads if lead.stage.kind in ("complete", "won")]
        for lead in complete:
            assert set(lead.data) >= {"city", "dimensions", "windows", "doors", "foundation_closed", "has_project"}
            assert set(lead.data["dimensions"]) == {"length", "width", "height"}
        assert {lead.city for lead in leads} >= {"Алматы", "Астана", "Шымкент", "Караганда"}
        assert {lead.temperature for lead in leads} == {"hot", "warm", "cold"}
        # seeded history is already sent/received: nothing waits for a worker, nothing will be re-sent
        assert not Message.objects.filter(status="queued").exists()
        assert not FollowUp.objects.filter(status="pending").exists()
        assert LeadEvent.objects.filter(kind="stage_changed").count() >= 8
        # the lead that asked for a call has it on its manager's task list, due when the client said
        from tasks.models import Task

        (task,) = Task.objects.filter(kind="call")
        assert task.lead.call_requested and task.note == task.lead.preferred_time and task.assignee_id

    board = client_for(tenant_a, "owner").get("/api/board/").json()["stages"]
    assert all(column["count"] >= 1 for column in board)
    summary = client_for(tenant_a, "owner").get("/api/analytics/summary/").json()
    assert summary["conversion"]["total"] == 12 and summary["ai_first_response_seconds"]["count"] >= 10


def test_seed_does_nothing_when_the_tenant_has_leads(tenant_a):
    from buildcrm.demo import seed_demo_leads
    from leads.models import Lead
    from tests.leads.conftest import make_lead

    make_lead(tenant_a, name="Настоящий клиент")
    with tenant_context(tenant_a):
        seed_demo_leads()
        assert list(Lead.objects.values_list("name", flat=True)) == ["Настоящий клиент"]


def test_the_ai_never_answers_the_seeds_own_old_messages_at_start_up(tenant_a):
    """Seeded client messages are history the AI has answered: the unanswered sweep (run at start-up by beat) queues
    no turn for them, even for a demo lead whose last message is the client's and only hours old."""
    from datetime import timedelta

    from django.utils import timezone

    from aiagent.tasks import sweep_unanswered
    from buildcrm.demo import seed_demo_leads
    from conversations.models import Message
    from leads.models import Lead

    with tenant_context(tenant_a):
        seed_demo_leads()
        # a demo lead whose last word is the client's, well inside the sweep's one-day look-back
        lead = next(lead for lead in Lead.objects.all() if lead.last_message["direction"] == "in")
        Lead.objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now() - timedelta(hours=2))
        assert sweep_unanswered() == 0
        newest = Message.objects.filter(lead=lead, direction="in").order_by("-id").first()
        lead.refresh_from_db()
        assert lead.ai_state["answered_upto"] == newest.pk
