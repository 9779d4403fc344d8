"""The AI's turn and voice notes: it waits for a note's transcript (and reads it once there), gives up waiting on a
note whose transcription was lost, and answers notes it cannot read by asking for text once, flagging the lead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from aiagent.models import AiTurn
from aiagent.services import TRANSCRIPT_WAIT_SECONDS, ai_turn_run
from conversations.models import Message
from leads.models import Lead
from tests.leads.conftest import make_lead


def note(tenant, lead, *, status: str, transcript: str = "", age: float = 0, text: str = "") -> Message:
    with tenant_context(tenant):
        message = Message.objects.create(
            lead=lead,
            direction="in",
            kind="voice",
            provider="sandbox",
            text=text,
            status="received",
            author_kind="client",
            transcript_status=status,
            transcript=transcript,
        )
        if age:
            Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=age))
    return message


def run(tenant, lead, message) -> str:
    with tenant_context(tenant):
        return ai_turn_run(lead_id=lead.pk, message_id=message.pk)


def replies(tenant, lead) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.filter(lead=lead, direction="out"))


@pytest.mark.django_db
def test_the_turn_waits_for_the_transcript_then_reads_it(tenant_a):
    lead = make_lead(tenant_a, name="Асель", phone="77011112233", channel="sandbox", provider="sandbox")
    message = note(tenant_a, lead, status="pending")
    assert run(tenant_a, lead, message) == "waiting"
    assert replies(tenant_a, lead) == []
    with tenant_context(tenant_a):
        assert not AiTurn.objects.filter(lead=lead).exists()
        Message.objects.filter(pk=message.pk).update(
            transcript_status="done", transcript="Нужен дом в Алматы, меня зовут Асель"
        )
    assert run(tenant_a, lead, message) == "ok"
    with tenant_context(tenant_a):
        lead = Lead.objects.get(pk=lead.pk)
    assert lead.city == "Алматы" and replies(tenant_a, lead) and not lead.needs_human


@pytest.mark.django_db
def test_a_note_whose_transcription_was_lost_is_not_waited_for_forever(tenant_a):
    lead = make_lead(tenant_a, name="Асель", phone="77011112234", channel="sandbox", provider="sandbox")
    message = note(tenant_a, lead, status="pending", age=TRANSCRIPT_WAIT_SECONDS + 5)
    assert run(tenant_a, lead, message) == "voice_unheard"
    (ask,) = replies(tenant_a, lead)
    assert "текстом" in ask.text


@pytest.mark.django_db
def test_unreadable_notes_get_one_request_for_text_and_a_person(tenant_a):
    lead = make_lead(tenant_a, name="Асель", phone="77011112235", channel="sandbox", provider="sandbox")
    first = note(tenant_a, lead, status="failed")
    assert run(tenant_a, lead, first) == "voice_unheard"
    second = note(tenant_a, lead, status="failed")
    assert run(tenant_a, lead, second) == "voice_unheard"
    (ask,) = replies(tenant_a, lead)
    assert ask.text.startswith("Извините") and ask.kind == "text"
    with tenant_context(tenant_a):
        lead = Lead.objects.get(pk=lead.pk)
        turns = list(AiTurn.objects.filter(lead=lead).order_by("id").values_list("status", "detail"))
    assert lead.needs_human and lead.ai_state["answered_upto"] == second.pk
    assert turns == [
        ("ok", "voice note not transcribed: asked for text"),
        ("ok", "voice note not transcribed: a person listens"),
    ]


@pytest.mark.django_db
def test_an_unreadable_note_beside_text_flags_the_lead_and_the_text_is_answered(tenant_a):
    lead = make_lead(tenant_a, name="Асель", phone="77011112236", channel="sandbox", provider="sandbox")
    note(tenant_a, lead, status="failed")
    with tenant_context(tenant_a):
        text = Message.objects.create(
            lead=lead,
            direction="in",
            kind="text",
            provider="sandbox",
            status="received",
            author_kind="client",
            text="Сколько стоит баня 6 на 4?",
        )
    assert run(tenant_a, lead, text) == "ok"
    out = replies(tenant_a, lead)
    assert out and not any("текстом" in m.text for m in out)
    with tenant_context(tenant_a):
        assert Lead.objects.get(pk=lead.pk).needs_human


@pytest.mark.django_db
def test_a_note_with_a_caption_is_read_by_its_caption(tenant_a):
    lead = make_lead(tenant_a, name="Асель", phone="77011112237", channel="sandbox", provider="sandbox")
    message = note(tenant_a, lead, status="failed", text="Нужен дом 8 на 10")
    assert run(tenant_a, lead, message) == "ok"
    with tenant_context(tenant_a):
        assert not Lead.objects.get(pk=lead.pk).needs_human
