"""core.events: the dispatcher (in-transaction listeners share the emitter's fate, on-commit listeners run only after
a commit, payloads carry ids and primitives, names come from the catalogue) and the listeners the apps register."""
from __future__ import annotations

import logging

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from core import events
from core.events import EVENTS, emit, listener, listeners_of
from leads.models import Stage


@pytest.fixture
def registry(monkeypatch):
    """An empty listener registry and one test event, restored afterwards (the apps' listeners are left alone)."""
    monkeypatch.setattr(events, "_listeners", {})
    monkeypatch.setitem(EVENTS, "test.happened", "tests: something happened (name)")
    return events._listeners


def test_an_in_transaction_listener_runs_before_emit_returns_and_rolls_back_with_the_emitter(registry, tenant_a):
    @listener("test.happened", on_commit=False)
    def add_stage(*, name: str) -> None:
        Stage.objects.create(name=name, kind="custom", position=99)

    with tenant_context(tenant_a):
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("test.happened", name="from the listener")
            assert Stage.objects.filter(name="from the listener").exists()  # already there: same transaction
            raise RuntimeError("the emitter fails after emitting")
        assert not Stage.objects.filter(name="from the listener").exists()


def test_an_in_transaction_listeners_failure_fails_the_emitter(registry, tenant_a):
    @listener("test.happened", on_commit=False)
    def refuse(*, name: str) -> None:
        raise ValueError(f"no {name}")

    with tenant_context(tenant_a), pytest.raises(ValueError, match="no thing"):
        with transaction.atomic():
            Stage.objects.create(name="emitter's own", kind="custom", position=98)
            emit("test.happened", name="thing")
    with tenant_context(tenant_a):
        assert not Stage.objects.filter(name="emitter's own").exists()


def test_an_on_commit_listener_runs_after_the_commit_and_never_after_a_rollback(registry, live_db):
    seen: list[tuple[str, bool]] = []

    @listener("test.happened", on_commit=True)
    def record(*, name: str) -> None:
        from django.db import connection

        seen.append((name, connection.in_atomic_block))

    with transaction.atomic():
        emit("test.happened", name="committed")
        assert seen == []  # not yet: the transaction is open
    assert seen == [("committed", False)]

    with pytest.raises(RuntimeError), transaction.atomic():
        emit("test.happened", name="rolled back")
        raise RuntimeError
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint rolled back inside a commit
            emit("test.happened", name="in a rolled-back savepoint")
            raise RuntimeError
    emit("test.happened", name="outside any transaction")  # at once
    assert seen == [("committed", False), ("outside any transaction", False)]


def test_an_on_commit_listeners_failure_is_logged_and_the_others_still_run(registry, live_db, caplog):
    seen: list[str] = []

    @listener("test.happened", on_commit=True)
    def broken(*, name: str) -> None:
        raise RuntimeError("outside system down")

    @listener("test.happened", on_commit=True)
    def fine(*, name: str) -> None:
        seen.append(name)

    with caplog.at_level(logging.ERROR, logger="buildcrm.events"), transaction.atomic():
        emit("test.happened", name="x")
    assert seen == ["x"]
    assert any("test.happened" in r.getMessage() and "broken" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("payload, where", [
    ({"name": Stage(name="x")}, "name"),  # a model instance
    ({"name": {1.5: "x"}}, "name"),  # a key that is not str or int
    ({"name": [1, {"deep": object()}]}, "name[1].deep"),
    ({"name": {3, 4}}, "name"),  # a set: not a primitive
    ({"name": b"bytes"}, "name"),
])
def test_payloads_carry_ids_and_primitives_only(registry, payload, where):
    called = []
    listener("test.happened", on_commit=False)(lambda **kw: called.append(kw))
    with pytest.raises(TypeError, match=rf"^{__import__('re').escape(where)}:"):
        emit("test.happened", **payload)
    assert called == []  # checked before any listener runs
    emit("test.happened", name={"ids": [1, 2], "by": {7: None, "x": 1.5, "ok": True}})
    assert called == [{"name": {"ids": [1, 2], "by": {7: None, "x": 1.5, "ok": True}}}]


def test_an_unknown_event_is_a_programming_error(registry):
    with pytest.raises(ValueError, match="unknown event 'lead.vanished'"):
        emit("lead.vanished", lead_id=1)
    with pytest.raises(ValueError, match="unknown event 'lead.vanished'"):
        listener("lead.vanished", on_commit=False)


def test_a_listener_registers_once_however_often_its_module_is_imported(registry):
    def once(*, name: str) -> None:
        pass

    listener("test.happened", on_commit=False)(once)
    listener("test.happened", on_commit=False)(once)
    assert len(listeners_of("test.happened")) == 1


def test_the_apps_register_the_catalogues_listeners():
    """Who reacts to what, as the apps' AppConfig.ready() registered it (the README's catalogue)."""
    wired = {event: sorted((entry.name, "on commit" if entry.on_commit else "in txn") for entry in listeners_of(event))
             for event in EVENTS}
    assert wired == {
        "tenant.provisioned": [("accounts.listeners.create_owner", "in txn"),
                               ("leads.listeners.seed_default_stages", "in txn")],
        "lead.created": [("aiagent.listeners.lead_created", "on commit"),
                         ("leads.listeners.assign_created", "on commit"),
                         ("notifications.listeners.lead_created", "on commit")],
        "lead.stage_changed": [("crmsync.listeners.stage_changed", "on commit"),
                               ("followups.listeners.stage_changed", "in txn")],
        "lead.taken_over": [("crmsync.listeners.taken_over", "on commit"),
                            ("followups.listeners.taken_over", "in txn")],
        "lead.returned_to_ai": [("followups.listeners.returned_to_ai", "in txn")],
        "lead.ai_stopped": [("followups.listeners.ai_stopped", "in txn")],
        "lead.qualified": [("crmsync.listeners.qualified", "on commit")],
        "lead.call_requested": [("followups.listeners.call_requested", "in txn"),
                                ("leads.listeners.assign_on_call_request", "on commit"),
                                ("notifications.listeners.call_requested", "on commit"),
                                ("tasks.listeners.call_requested", "in txn"),
                                ("voicecalls.listeners.call_requested", "on commit")],
        "messages.received": [("aiagent.listeners.client_wrote", "on commit"),
                              ("followups.listeners.client_answered", "in txn"),
                              ("leads.listeners.assign_new_clients", "on commit"),
                              ("notifications.listeners.messages_received", "on commit")],
        "messages.sent": [("followups.listeners.our_message_sent", "in txn")],
        "messages.transcribed": [("aiagent.listeners.voice_transcribed", "on commit")],
        "meeting.booked": [("crmsync.listeners.meeting_booked", "on commit"),
                           ("followups.listeners.meeting_booked", "in txn"),
                           ("tasks.listeners.meeting_booked", "in txn")],
        "call.missed": [("followups.listeners.call_missed", "in txn")],
        "lead.assigned": [("notifications.listeners.assigned", "on commit"),
                          ("tasks.listeners.lead_assigned", "in txn")],
        "lead.became_hot": [("leads.listeners.assign_hot", "on commit"),
                            ("notifications.listeners.became_hot", "on commit")],
        "lead.needs_human": [("notifications.listeners.needs_human", "on commit")],
        "messages.failed": [("notifications.listeners.message_failed", "on commit")],
        "task.due": [("notifications.listeners.task_due", "on commit")],
    }
