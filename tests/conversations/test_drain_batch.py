"""The inbound drain's set-based batch (issue 17): a batch of new clients becomes its leads, identities, events,
message links and previews in a few statements, with the same outcome as one message at a time (the same
identity twice is one lead, a phone another lead has merges into it, a lead answering on another provider is
moved to it), tenants apart; and a lead the AI may not answer gets no AI task, its skipped turn recorded."""

from __future__ import annotations

import pytest
from celery.signals import task_prerun
from django_tenants.utils import tenant_context

from aiagent.models import AiTurn
from conversations.models import Message
from conversations.services import inbound_process_pending, inbound_receive
from integrations import sandbox
from integrations.base import InboundMessage
from leads.models import Lead, LeadEvent, LeadIdentity
from leads.services import SYSTEM, lead_create
from tenants.services import tenant_config_import


def chatflow(
    phone: str,
    text: str,
    message_id: str,
    provider: str = "chatflow",
    name: str | None = "Клиент",
    identity: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        provider=provider,
        provider_message_id=message_id,
        identity=identity or phone,
        phone=phone,
        name=name,
        kind="text",
        text=text,
        media_url=None,
        mimetype=None,
        caption=None,
        timestamp=None,
        raw={},
    )


def store(item: InboundMessage) -> Message:
    (message,) = inbound_receive(provider=item.provider, items=[item], raw={}, event_id=item.provider_message_id)
    return message


@pytest.fixture
def tasks():
    """Names of the Celery tasks run in this process (the eager app runs what the code queues)."""
    from buildcrm.celery import app

    seen: list[str] = []

    def record(sender=None, **_: object) -> None:
        seen.append(sender.name)

    task_prerun.connect(record, weak=False)
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield seen
    app.conf.task_always_eager = old
    task_prerun.disconnect(record)


def test_a_batch_of_new_and_known_clients_gets_the_leads_one_by_one_would(
    tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_b):
        lead_create(actor=SYSTEM, name="Чужой", phone="77015550001", channel="whatsapp", provider="chatflow")
    with tenant_context(tenant_a):
        known = lead_create(
            actor=SYSTEM, name="Известный", phone="77015550002", channel="whatsapp", provider="whatsapp"
        )  # answers on the Cloud API; now writes through ChatFlow
        by_phone = lead_create(actor=SYSTEM, name="", phone="77015550003", channel="sandbox", provider="sandbox")
        events_before = LeadEvent.objects.count()
        stored = [
            store(chatflow("77015550001", "Первый", "m1")),  # new here, although beta has this phone
            store(chatflow("77015550004", "Новый", "m2", name="Асель")),
            store(chatflow("77015550001", "Второй того же", "m3")),  # same new client: same lead
            store(chatflow("77015550002", "Известный пишет", "m4")),  # known identity, another provider
            store(chatflow("77015550003", "Телефон знаком", "m5", name="Ержан")),  # merges by phone
            store(chatflow("77015550005", "Из телеграма", "m6", provider="telegram", identity="900100")),
            store(chatflow("77015550005", "Из вотсапа", "m7")),  # a phone a new client of this batch has
        ]
        assert all(m.lead_id is None for m in stored)
        with django_capture_on_commit_callbacks(execute=True):
            assert inbound_process_pending() == 7
        messages = {m.provider_message_id: m for m in Message.objects.select_related("lead")}
        lead_of = {key: messages[key].lead for key in messages}
        assert not any(m.inbound_pending for m in messages.values())
        assert lead_of["m1"] == lead_of["m3"] and lead_of["m1"].last_message["text"] == "Второй того же"
        assert lead_of["m2"].name == "Асель" and lead_of["m2"].stage.kind == "new"
        assert lead_of["m4"] == known and lead_of["m4"].provider == "chatflow"
        assert (
            lead_of["m5"] == by_phone
            and lead_of["m5"].name == "Ержан"
            and by_phone.pk not in (lead_of["m1"].pk, lead_of["m2"].pk)
        )
        assert lead_of["m6"] == lead_of["m7"] and lead_of["m7"].provider == "chatflow"
        assert Lead.objects.count() == 2 + 3  # m1/m3, m2, m6/m7 are new
        assert LeadIdentity.objects.filter(channel="whatsapp", identity="77015550001").get().lead == lead_of["m1"]
        assert LeadIdentity.objects.filter(lead=lead_of["m6"]).count() == 2
        kinds = list(LeadEvent.objects.order_by("id")[events_before:].values_list("kind", flat=True))
        assert kinds.count("created") == 3 and kinds.count("identity_merged") == 2  # by_phone, m7 into m6
    with tenant_context(tenant_b):
        (beta,) = Lead.objects.all()
        assert beta.name == "Чужой" and not Message.objects.exists()  # tenants apart


def test_a_client_entered_by_hand_after_writing_gets_its_message(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        first = store(chatflow("77015550011", "Первый", "n1"))
        second = store(chatflow("77015550012", "Второй", "n2"))
        # A person enters the second client by hand after its message was stored, before the drain.
        manual = lead_create(actor=SYSTEM, name="Вручную", phone="77015550012", channel="whatsapp", provider="chatflow")
        with django_capture_on_commit_callbacks(execute=True):
            assert inbound_process_pending() == 2
        first.refresh_from_db()
        second.refresh_from_db()
        assert second.lead_id == manual.pk and first.lead_id not in (None, manual.pk)
        assert Lead.objects.count() == 2 and not Message.objects.filter(inbound_pending=True).exists()
        assert LeadIdentity.objects.filter(identity="77015550012").count() == 1


def test_no_ai_task_for_a_lead_the_ai_may_not_answer(tenant_a, tasks, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        muted = lead_create(actor=SYSTEM, name="Без AI", phone="77015550021", channel="sandbox", provider="sandbox")
        Lead.objects.filter(pk=muted.pk).update(ai_enabled=False)
        quiet = [store(sandbox.inbound("77015550021", None, "Раз")), store(sandbox.inbound("77015550021", None, "Два"))]
        talker = store(sandbox.inbound("77015550022", "Болат", "Здравствуйте"))
        with django_capture_on_commit_callbacks(execute=True):
            inbound_process_pending()
        assert tasks.count("aiagent.reply") == 1  # the lead the AI answers; one for all its messages
        (skipped,) = AiTurn.objects.filter(lead=muted)
        assert (skipped.status, skipped.message_id, skipped.detail) == (
            "skipped",
            quiet[-1].pk,
            "AI is off for the lead",
        )
        muted.refresh_from_db()
        assert muted.ai_state["answered_upto"] == quiet[-1].pk
        talker.refresh_from_db()
        assert AiTurn.objects.get(lead_id=talker.lead_id).message_id == talker.pk


def test_no_ai_task_at_all_when_the_tenant_ai_is_off(tenant_a, tenant_b, tasks, django_capture_on_commit_callbacks):
    tenant_config_import(tenant_a, {"ai": {"enabled": False}})
    tenant_a.refresh_from_db()
    with tenant_context(tenant_a):
        messages = [store(sandbox.inbound(f"7701555003{n}", None, f"Сообщение {n}")) for n in range(3)]
        with django_capture_on_commit_callbacks(execute=True):
            assert inbound_process_pending() == 3
        assert "aiagent.reply" not in tasks
        turns = AiTurn.objects.order_by("message_id")
        assert [(t.status, t.message_id, t.detail) for t in turns] == [
            ("skipped", m.pk, "AI is off for the tenant") for m in messages
        ]
    with tenant_context(tenant_b):  # the other tenant's AI still answers
        other = store(sandbox.inbound("77015550039", None, "Здравствуйте"))
        with django_capture_on_commit_callbacks(execute=True):
            inbound_process_pending()
        assert tasks.count("aiagent.reply") == 1
        assert AiTurn.objects.get().message_id == other.pk
