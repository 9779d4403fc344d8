"""Who is told what: each domain event, once its emitter commits, becomes notifications for the right people —
owners and heads for new leads, the assignee for their lead, everyone allowed when nobody is assigned — never for
someone who may not see the lead; preferences and quiet hours decide the ways."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django_tenants.utils import tenant_context

from core.events import emit
from notifications.models import Notification, NotificationPrefs
from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all


def told(tenant, lead=None) -> dict[str, list[str]]:
    """{kind: [e-mail, …]} of the tenant's notifications (of one lead)."""
    with tenant_context(tenant):
        rows = Notification.objects.select_related("user").order_by("user__email")
        if lead is not None:
            rows = rows.filter(lead_id=lead.pk)
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.kind, []).append(row.user.email)
        return found


def emitted(tenant, capture, event: str, **payload) -> None:
    with tenant_context(tenant), capture(execute=True):
        emit(event, **payload)


@pytest.fixture
def emit_in(tenant_a, eager, django_capture_on_commit_callbacks):
    return lambda event, **payload: emitted(tenant_a, django_capture_on_commit_callbacks, event, **payload)


def test_a_new_lead_tells_the_owner_and_heads_and_its_assignee(tenant_a, emit_in):
    manager = user_of(tenant_a, "manager")
    lead = make_lead(tenant_a, name="Айгуль", assignee=manager)
    emit_in("lead.created", lead_id=lead.pk, source="amocrm", greet=False)
    assert told(tenant_a, lead) == {"new_lead": ["head@alpha.test", "manager@alpha.test", "owner@alpha.test"]}
    with tenant_context(tenant_a):
        note = Notification.objects.get(lead_id=lead.pk, user=manager)
    assert (note.title, note.body, note.url, note.read_at) == ("Новый лид", "Айгуль", f"/leads/{lead.pk}", None)


def test_client_messages_tell_new_leads_to_the_staff_and_replies_to_the_assignee_only(tenant_a, emit_in):
    manager = user_of(tenant_a, "manager")
    new = make_lead(tenant_a, name="Новый")
    mine = make_lead(tenant_a, name="Мой", assignee=manager,
                     last_message={"text": "А сколько стоит?", "direction": "in", "author_kind": "client"})
    nobodys = make_lead(tenant_a, name="Ничей")
    emit_in("messages.received", message_ids=[1, 2, 3], lead_ids=[new.pk, mine.pk, nobodys.pk],
            new_lead_ids=[new.pk], firsts={}, newest={})
    assert told(tenant_a, new) == {"new_lead": ["head@alpha.test", "owner@alpha.test"]}
    assert told(tenant_a, mine) == {"client_replied": ["manager@alpha.test"]}
    assert told(tenant_a, nobodys) == {}
    with tenant_context(tenant_a):
        assert Notification.objects.get(lead_id=mine.pk).body == "Мой: А сколько стоит?"


@pytest.mark.parametrize("event, payload, kind", [
    ("lead.call_requested", {"preferred_time": "завтра в 11", "due_at": None}, "call_requested"),
    ("lead.became_hot", {"assignee_id": None}, "became_hot"),
    ("lead.needs_human", {"reason": "просит скидку"}, "needs_human"),
    ("messages.failed", {"message_id": 1, "error": "131047"}, "message_failed"),
])
def test_lead_events_tell_the_assignee_or_all_the_staff_when_nobody_is_assigned(tenant_a, emit_in, event, payload,
                                                                                 kind):
    manager = user_of(tenant_a, "manager")
    assigned = make_lead(tenant_a, name="С менеджером", assignee=manager)
    alone = make_lead(tenant_a, name="Без менеджера")
    emit_in(event, lead_id=assigned.pk, **payload)
    emit_in(event, lead_id=alone.pk, **payload)
    assert told(tenant_a, assigned) == {kind: ["manager@alpha.test"]}
    if event == "lead.became_hot":
        # A hot lead is never left alone (leads.assignment): it gets a manager first (round-robin), who hears both.
        assert told(tenant_a, alone) == {"assigned": ["manager@alpha.test"], kind: ["manager@alpha.test"]}
    else:
        assert told(tenant_a, alone) == {kind: ["head@alpha.test", "owner@alpha.test"]}


def test_a_hot_lead_with_no_manager_to_take_it_tells_the_staff(tenant_a, emit_in):
    from accounts.models import User

    with tenant_context(tenant_a):
        User.objects.filter(role="manager").update(is_active=False)
    alone = make_lead(tenant_a, name="Без менеджера")
    emit_in("lead.became_hot", lead_id=alone.pk, assignee_id=None)
    assert told(tenant_a, alone) == {"became_hot": ["head@alpha.test", "owner@alpha.test"]}


def test_the_call_request_says_when(tenant_a, emit_in):
    lead = make_lead(tenant_a, name="Марат", assignee=user_of(tenant_a, "manager"))
    emit_in("lead.call_requested", lead_id=lead.pk, preferred_time="завтра в 11", due_at=None)
    with tenant_context(tenant_a):
        assert Notification.objects.get(lead_id=lead.pk).body == "Марат: завтра в 11"


def test_an_assignment_tells_the_new_assignee(tenant_a, emit_in):
    manager2 = user_of(tenant_a, "manager2")
    lead = make_lead(tenant_a, assignee=manager2)
    emit_in("lead.assigned", lead_id=lead.pk, assignee_id=manager2.pk, before_id=None, actor="user")
    emit_in("lead.assigned", lead_id=lead.pk, assignee_id=None, before_id=manager2.pk, actor="user")
    assert told(tenant_a, lead) == {"assigned": ["manager2@alpha.test"]}


def test_a_manager_who_may_not_see_the_lead_is_never_told(tenant_a, emit_in):
    """The tenant hides others' leads: an assignment event naming manager2 for manager's lead (a stale event, or a
    race with a reassignment) tells nobody; owners and heads always see."""
    set_managers_see_all(tenant_a, False)
    manager, manager2 = user_of(tenant_a, "manager"), user_of(tenant_a, "manager2")
    lead = make_lead(tenant_a, assignee=manager)
    emit_in("lead.assigned", lead_id=lead.pk, assignee_id=manager2.pk, before_id=None, actor="user")
    assert told(tenant_a, lead) == {}
    emit_in("lead.created", lead_id=lead.pk, source="manual", greet=False)
    assert told(tenant_a, lead) == {"new_lead": ["head@alpha.test", "manager@alpha.test", "owner@alpha.test"]}


def test_nothing_is_told_before_the_commit_nor_after_a_rollback(tenant_a, eager, django_capture_on_commit_callbacks):
    from django.db import transaction

    lead = make_lead(tenant_a, assignee=user_of(tenant_a, "manager"))
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("lead.became_hot", lead_id=lead.pk, assignee_id=None)
            raise RuntimeError
        emit("lead.needs_human", lead_id=lead.pk, reason="")
        assert told(tenant_a, lead) == {}  # not yet: the listener queues on commit
    assert told(tenant_a, lead) == {"needs_human": ["manager@alpha.test"]}


def test_another_tenants_event_stays_in_that_tenant(tenant_a, tenant_b, eager, django_capture_on_commit_callbacks):
    lead_b = make_lead(tenant_b, name="Бета")
    emitted(tenant_b, django_capture_on_commit_callbacks, "lead.created", lead_id=lead_b.pk, source="x", greet=False)
    assert told(tenant_a) == {}
    assert told(tenant_b, lead_b) == {"new_lead": ["head@beta.test", "owner@beta.test"]}


def test_in_app_off_records_nothing_for_that_kind_only(tenant_a, emit_in):
    from notifications.services import prefs_update

    manager = user_of(tenant_a, "manager")
    with tenant_context(tenant_a):
        prefs_update(user=manager, ways={"client_replied": {"in_app": False}})
    lead = make_lead(tenant_a, assignee=manager)
    emit_in("messages.received", message_ids=[1], lead_ids=[lead.pk], new_lead_ids=[], firsts={}, newest={})
    emit_in("lead.became_hot", lead_id=lead.pk, assignee_id=manager.pk)
    assert told(tenant_a, lead) == {"became_hot": ["manager@alpha.test"]}


@pytest.mark.parametrize("start, end, now_utc, quiet", [
    # Asia/Almaty is UTC+5: 22:00–08:00 local.
    (time(22), time(8), datetime(2026, 1, 5, 18, 30, tzinfo=UTC), True),   # 23:30 local
    (time(22), time(8), datetime(2026, 1, 5, 2, 0, tzinfo=UTC), True),     # 07:00 local
    (time(22), time(8), datetime(2026, 1, 5, 3, 0, tzinfo=UTC), False),    # 08:00 local
    (time(13), time(14), datetime(2026, 1, 5, 8, 30, tzinfo=UTC), True),   # 13:30 local
    (time(13), time(14), datetime(2026, 1, 5, 9, 30, tzinfo=UTC), False),
    (None, None, datetime(2026, 1, 5, 18, 30, tzinfo=UTC), False),
])
def test_quiet_hours_are_read_in_the_tenants_zone(start, end, now_utc, quiet):
    from notifications.selectors import in_quiet_hours

    prefs = NotificationPrefs(quiet_start=start, quiet_end=end)
    assert in_quiet_hours(prefs=prefs, now=now_utc, tz="Asia/Almaty") is quiet
