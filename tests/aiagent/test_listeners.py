"""The AI manager's listeners of core.events, once the emitter commits: a lead that did not write first gets the
first contact (when the emitter says so), and client messages get a turn for each lead's newest one."""
from __future__ import annotations

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from aiagent.models import AiTurn
from conversations.models import Message
from core.events import emit
from leads.services import SYSTEM, lead_create


@pytest.fixture
def eager():
    """Tasks named through core.tasks.enqueue run in this process (the AI turn)."""
    from buildcrm.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = old


def test_lead_created_with_greet_gets_the_first_contact_after_the_commit(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=SYSTEM, name="Айгуль", phone="77011112299", source="amocrm", channel="sandbox",
                           provider="sandbox", source_info="Нужен дом 10x12")
        emit("lead.created", lead_id=lead.pk, source="amocrm", greet=True)
        assert not Message.objects.filter(lead=lead).exists()  # not before the commit
    with tenant_context(tenant_a):
        turn = AiTurn.objects.get(lead=lead)
        assert (turn.kind, turn.status) == ("first_contact", "ok")
        assert list(Message.objects.filter(lead=lead).values_list("pk", flat=True)) == turn.reply_ids != []


def test_lead_created_without_greet_or_rolled_back_gets_nothing(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        quiet = lead_create(actor=SYSTEM, name="Без приветствия", phone="77011112298", source="amocrm",
                            channel="sandbox", provider="sandbox")
        emit("lead.created", lead_id=quiet.pk, source="amocrm", greet=False)
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("lead.created", lead_id=quiet.pk, source="amocrm", greet=True)
            raise RuntimeError
    with tenant_context(tenant_a):
        assert not AiTurn.objects.filter(lead=quiet).exists() and not Message.objects.filter(lead=quiet).exists()


def test_messages_received_queues_one_turn_per_lead_for_its_newest_message(tenant_a, eager,
                                                                         django_capture_on_commit_callbacks):
    from conversations.services import inbound_receive
    from integrations import sandbox

    with tenant_context(tenant_a):
        first = inbound_receive(provider="sandbox", items=[sandbox.inbound("77011112297", "Ерлан", "Здравствуйте")],
                                raw={}, event_id="e1")[0]
        second = inbound_receive(provider="sandbox", items=[sandbox.inbound("77011112297", "Ерлан", "Дом 10x12")],
                                 raw={}, event_id="e2")[0]
        from conversations.services import inbound_process_pending

        inbound_process_pending()  # the drain emits messages.received in this transaction
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.lead_id == second.lead_id and not AiTurn.objects.filter(lead_id=first.lead_id).exists()
        with django_capture_on_commit_callbacks(execute=True):
            emit("messages.received", message_ids=[first.pk, second.pk], lead_ids=[first.lead_id],
                 new_lead_ids=[first.lead_id], firsts={first.lead_id: first.pk}, newest={first.lead_id: second.pk})
        (turn,) = AiTurn.objects.filter(lead_id=first.lead_id)
        assert (turn.kind, turn.message_id, turn.status) == ("reply", second.pk, "ok")
