"""Follow-ups' listeners of core.events, each inside its emitter's transaction: our message sent starts the schedule,
a lead that moves to won/lost, is taken over, returned to the AI or stopped loses its touches, and a client message
starts a campaign — in one place only: the AI turn reads that the lead joined, it never starts one itself."""
from __future__ import annotations

import pytest
from django.db import transaction

from aiagent.models import AiTurn
from aiagent.services import ai_turn_run
from conversations.models import Message
from core.events import emit
from followups.models import FollowUp
from leads.models import LeadEvent
from tests.followups.conftest import ai_says, client_writes, configure

CAMPAIGN = {"code": "ГАЙД", "keywords": ["гайд"], "source": "ads", "text": "Держите гайд!",
            "steps": [{"after_minutes": 60, "text": "Ну как?"}]}


def pending(lead) -> list[str]:
    return list(FollowUp.objects.filter(lead=lead, status="pending").values_list("kind", flat=True))


def cancelled_reasons(lead) -> set[str]:
    return set(FollowUp.objects.filter(lead=lead, status="cancelled").values_list("reason", flat=True))


def test_our_message_sent_starts_the_schedule_and_a_touch_does_not(alpha):
    lead = client_writes("Здравствуйте")
    reply = ai_says(lead)  # delivered in-process: messages.sent
    assert pending(lead) == ["followup", "followup"]
    FollowUp.objects.filter(lead=lead).delete()
    emit("messages.sent", message_ids=[reply.pk])
    assert pending(lead) == ["followup", "followup"]
    FollowUp.objects.filter(lead=lead).delete()
    Message.objects.filter(pk=reply.pk).update(purpose="followup")  # a touch itself starts nothing
    emit("messages.sent", message_ids=[reply.pk])
    assert pending(lead) == []


@pytest.mark.parametrize("event, payload, reason", [
    ("lead.stage_changed", {"before": "in_dialog", "after": "won", "actor": "user"}, "stage won"),
    ("lead.stage_changed", {"before": "in_dialog", "after": "lost", "actor": "ai"}, "stage lost"),
    ("lead.taken_over", {"user_id": 1}, "takeover"),
    ("lead.returned_to_ai", {"user_id": 1}, "returned to AI"),
    ("lead.ai_stopped", {"reason": "refused"}, "refused"),
    ("lead.ai_stopped", {"reason": "AI off for lead"}, "AI off for lead"),
])
def test_lead_events_cancel_the_open_touches_with_their_reason(alpha, event, payload, reason):
    lead = client_writes("Здравствуйте")
    ai_says(lead)
    emit(event, lead_id=lead.pk, **payload)
    assert pending(lead) == [] and cancelled_reasons(lead) == {reason}


def test_a_stage_change_that_does_not_close_the_deal_keeps_the_touches(alpha):
    lead = client_writes("Здравствуйте")
    ai_says(lead)
    emit("lead.stage_changed", lead_id=lead.pk, before="new", after="complete", actor="ai")
    assert pending(lead) == ["followup", "followup"]


def test_a_cancellation_rolls_back_with_its_emitter(alpha):
    lead = client_writes("Здравствуйте")
    ai_says(lead)
    with pytest.raises(RuntimeError), transaction.atomic():
        emit("lead.taken_over", lead_id=lead.pk, user_id=1)
        assert pending(lead) == []
        raise RuntimeError
    assert pending(lead) == ["followup", "followup"]


def test_the_campaign_starts_once_in_the_drain_and_the_ai_turn_only_reads_it(alpha):
    configure(alpha, {"campaigns": [CAMPAIGN]})
    lead = client_writes("Хочу гайд")  # stored and drained in this process: messages.received
    assert LeadEvent.objects.filter(lead=lead, kind="campaign_joined").count() == 1
    assert list(lead.messages.filter(direction="out").values_list("purpose", "text")) == [
        ("onboarding", "Держите гайд!")]
    newest = lead.messages.filter(direction="in").latest("id")
    assert ai_turn_run(lead_id=lead.pk, message_id=newest.pk) == "ok"
    turn = AiTurn.objects.get(lead=lead, kind="reply")
    assert (turn.brain, turn.reply_ids) == ("campaign", [])  # the campaign's material was the answer
    assert LeadEvent.objects.filter(lead=lead, kind="campaign_joined").count() == 1
    assert lead.messages.filter(direction="out").count() == 1


def test_a_code_in_a_later_message_starts_no_campaign_in_the_ai_turn(alpha):
    """Only a new lead's first message starts a campaign (the followups listener); the turn answering it and the
    messages after it reads whether the lead joined — the code in the second message is just words."""
    configure(alpha, {"campaigns": [CAMPAIGN]})
    lead = client_writes("Здравствуйте", number="77019990011")
    client_writes("Хочу гайд", number="77019990011")
    newest = lead.messages.filter(direction="in").latest("id")
    assert ai_turn_run(lead_id=lead.pk, message_id=newest.pk) == "ok"
    lead.refresh_from_db()
    assert AiTurn.objects.get(lead=lead, kind="reply").brain == "offline"
    assert lead.campaign == "" and not LeadEvent.objects.filter(lead=lead, kind="campaign_joined").exists()
    assert not lead.messages.filter(purpose="onboarding").exists()
