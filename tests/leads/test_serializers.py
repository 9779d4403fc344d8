"""The planned to_representation (core.serializers.PlannedRepresentation) gives exactly what DRF's
generic path gives: leads in every shape (assigned, taken over, waiting, with data and preview, enum values
set in Python, nulls) and messages of every author."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework import serializers

from conversations.models import Message
from conversations.serializers import MessageOut
from leads.models import Lead, Temperature
from leads.serializers import LeadCardOut, LeadOut
from tests.conftest import user_of
from tests.leads.conftest import add_message, make_lead

pytestmark = pytest.mark.django_db


def generic(serializer_class, lead) -> dict:
    return serializers.ModelSerializer.to_representation(serializer_class(), lead)


def test_planned_output_equals_the_generic_one(tenant_a):
    now = timezone.now()
    manager, head = user_of(tenant_a, "manager"), user_of(tenant_a, "head")
    leads = [
        make_lead(tenant_a),
        make_lead(tenant_a, stage_kind="in_dialog", name="Ерлан", phone="77011112233", city="Алматы",
                  assignee=manager, handler=head, ai_enabled=False, score=87, temperature=Temperature.HOT,
                  score_reasons=["бюджет", "сроки"], data={"area": 120, "material": "газоблок"},
                  last_message={"text": "Здравствуйте", "direction": "in"}, last_message_at=now,
                  waiting_since=now - timedelta(hours=2), needs_human=True, needs_human_reason="просит человека",
                  call_requested=True, preferred_time="после 18:00", source_info="с сайта"),
        make_lead(tenant_a, stage_kind="won", waiting_since=now - timedelta(seconds=5), refused=True),
    ]
    with tenant_context(tenant_a):
        for lead in leads + list(Lead.objects.select_related("stage", "assignee", "handler")):
            for serializer_class in (LeadOut, LeadCardOut):
                expected = generic(serializer_class, lead)
                got = serializer_class(lead).data
                if serializer_class is LeadCardOut:
                    expected["fields"] = got["fields"]
                assert got == expected
                assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
        many = LeadOut(list(Lead.objects.order_by("id")), many=True).data
        assert [item["id"] for item in many] == sorted(lead.pk for lead in leads)
        assert many[1]["assignee"]["id"] == manager.pk and many[1]["handled_by"]["id"] == head.pk
        assert many[1]["no_answer"] is True and many[2]["no_answer"] is False
        assert many[1]["temperature"] == "hot" and type(many[1]["temperature"]) is str


def test_planned_message_output_equals_the_generic_one(tenant_a):
    lead = make_lead(tenant_a, name="Асель")
    owner = user_of(tenant_a, "owner")
    add_message(tenant_a, lead, text="Здравствуйте")
    add_message(tenant_a, lead, direction="out", text="Добрый день!", author_kind="user", author_user=owner)
    with tenant_context(tenant_a):
        Message.objects.create(lead=lead, direction="out", kind="album", items=[{"url": "https://x/1.jpg"}],
                               status="failed", error="provider said no", provider="sandbox", author_kind="ai",
                               purpose="followup", meta={"followup_id": 1})
        messages = list(Message.objects.select_related("author_user").order_by("id"))
        for message in messages:
            got, expected = MessageOut(message).data, generic(MessageOut, message)
            assert got == expected
            assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
        many = MessageOut(messages, many=True).data
        assert [m["author"]["id"] if m["author"] else None for m in many] == [None, owner.pk, None]
        assert many[2]["items"] == [{"url": "https://x/1.jpg"}] and many[2]["error"] == "provider said no"
