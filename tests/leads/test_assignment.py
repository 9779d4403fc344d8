"""Automatic assignment: round-robin among active managers (fair, also when leads arrive at once), rules by channel /
source / city with round-robin behind them, "when" (new lead or first call request), an unassigned hot lead never
left alone; the settings API for owners and heads only, per tenant, with bad input a 400."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from core.events import emit
from tests.conftest import user_of
from tests.leads.conftest import make_lead


def configure(tenant, **values):
    from leads.assignment import assignment_settings_get

    with tenant_context(tenant):
        found = assignment_settings_get()
        for key, value in values.items():
            setattr(found, key, value)
        found.save()
        return found


def assign(tenant, lead, trigger="new_lead"):
    from leads.assignment import lead_auto_assign

    with tenant_context(tenant):
        return lead_auto_assign(lead_id=lead.pk, trigger=trigger)


def assignee_of(tenant, lead):
    from leads.models import Lead

    with tenant_context(tenant):
        return Lead.objects.get(pk=lead.pk).assignee_id


def test_round_robin_takes_the_active_managers_in_turn(tenant_a):
    manager, manager2 = user_of(tenant_a, "manager"), user_of(tenant_a, "manager2")
    configure(tenant_a, mode="round_robin")
    leads = [make_lead(tenant_a, name=f"L{n}") for n in range(5)]
    got = [assign(tenant_a, lead).pk for lead in leads]
    first, second = sorted([manager.pk, manager2.pk])
    assert got == [first, second, first, second, first]
    assert [assignee_of(tenant_a, lead) for lead in leads] == got
    # A manager switched off leaves the turn; heads and owners are never in it.
    with tenant_context(tenant_a):
        type(manager2).objects.filter(pk=manager2.pk).update(is_active=False)
    assert assign(tenant_a, make_lead(tenant_a)).pk == manager.pk
    assert assign(tenant_a, make_lead(tenant_a)).pk == manager.pk


def test_an_assigned_lead_is_left_alone_and_mode_off_assigns_nothing(tenant_a):
    head = user_of(tenant_a, "head")
    configure(tenant_a, mode="round_robin")
    lead = make_lead(tenant_a, assignee=head)
    assert assign(tenant_a, lead) is None and assignee_of(tenant_a, lead) == head.pk
    configure(tenant_a, mode="off")
    free = make_lead(tenant_a)
    assert assign(tenant_a, free) is None and assign(tenant_a, free, "call_request") is None
    assert assignee_of(tenant_a, free) is None


def test_rules_match_channel_source_and_city_then_round_robin(tenant_a):
    head, manager, manager2 = (user_of(tenant_a, r) for r in ("head", "manager", "manager2"))
    configure(tenant_a, mode="rules", rules=[
        {"channel": "telegram", "source": "", "city": "", "user_id": head.pk},
        {"channel": "", "source": "site", "city": "Алматы", "user_id": manager2.pk},
    ])
    assert assign(tenant_a, make_lead(tenant_a, channel="telegram")).pk == head.pk
    # city compared without case or surrounding spaces; both conditions of the rule must hold
    assert assign(tenant_a, make_lead(tenant_a, source="site", city=" алматы ")).pk == manager2.pk
    fallback = assign(tenant_a, make_lead(tenant_a, source="site", city="Астана"))
    assert fallback.pk in (manager.pk, manager2.pk)
    # a rule naming someone no longer active is skipped
    with tenant_context(tenant_a):
        type(head).objects.filter(pk=head.pk).update(is_active=False)
    assert assign(tenant_a, make_lead(tenant_a, channel="telegram")).pk in (manager.pk, manager2.pk)


def test_when_first_call_request_new_leads_wait_and_the_call_task_follows(tenant_a, django_capture_on_commit_callbacks):
    from tasks.models import Task

    configure(tenant_a, mode="round_robin", when="call_request")
    lead = make_lead(tenant_a, name="Звонок")
    assert assign(tenant_a, lead) is None
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="завтра в 11", due_at=None)
    who = assignee_of(tenant_a, lead)
    assert who in (user_of(tenant_a, "manager").pk, user_of(tenant_a, "manager2").pk)
    with tenant_context(tenant_a):
        (task,) = Task.objects.filter(lead=lead)
        assert task.assignee_id == who  # made unassigned by the AI, given to the manager with the lead
        assert lead.events.filter(kind="assigned", actor_kind="system").count() == 1


def test_new_clients_are_assigned_when_their_first_message_is_received(tenant_a, django_capture_on_commit_callbacks):
    configure(tenant_a, mode="round_robin", when="new_lead")
    fresh, known = make_lead(tenant_a), make_lead(tenant_a)
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        emit("messages.received", message_ids=[], lead_ids=[fresh.pk, known.pk], new_lead_ids=[fresh.pk],
             firsts={}, newest={})
    assert assignee_of(tenant_a, fresh) is not None
    assert assignee_of(tenant_a, known) is None  # not new: a lead someone left unassigned stays so


def test_an_unassigned_hot_lead_gets_a_manager_even_with_assignment_off(tenant_a, django_capture_on_commit_callbacks):
    from leads.services import lead_set_score

    configure(tenant_a, mode="off")
    lead = make_lead(tenant_a, temperature="warm", score=50)
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        lead_set_score(lead=lead, score=90, temperature="hot", reasons=[])
    assert assignee_of(tenant_a, lead) in (user_of(tenant_a, "manager").pk, user_of(tenant_a, "manager2").pk)


def test_a_hot_lead_with_no_active_manager_stays_unassigned(tenant_a):
    configure(tenant_a, mode="round_robin")
    with tenant_context(tenant_a):
        from accounts.models import User

        User.objects.filter(role="manager").update(is_active=False)
    lead = make_lead(tenant_a)
    assert assign(tenant_a, lead, "hot") is None and assignee_of(tenant_a, lead) is None


def test_concurrent_new_leads_are_shared_fairly(live_tenant):
    """Twelve leads assigned from six threads at once: the locked cursor gives each of three managers four."""
    from accounts.models import User
    from leads.assignment import lead_auto_assign

    with tenant_context(live_tenant):
        User.objects.create_user(f"manager3@{live_tenant.slug}.test", "x-Pass-123!", role="manager")
    configure(live_tenant, mode="round_robin")
    leads = [make_lead(live_tenant, name=f"C{n}") for n in range(12)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(chunk):
        try:
            barrier.wait(timeout=30)
            with tenant_context(live_tenant):
                for lead in chunk:
                    lead_auto_assign(lead_id=lead.pk, trigger="new_lead")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(leads[n::6],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    counts = Counter(assignee_of(live_tenant, lead) for lead in leads)
    assert None not in counts and sorted(counts.values()) == [4, 4, 4]


# --- the settings API ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "head"])
def test_owners_and_heads_read_and_change_the_settings(tenant_a, client_for, role):
    manager = user_of(tenant_a, "manager")
    client = client_for(tenant_a, role)
    got = client.get("/api/assignment/")
    assert got.status_code == 200, got.content
    assert got.json()["mode"] == "off" and {m["id"] for m in got.json()["managers"]} >= {manager.pk}
    rules = [{"channel": "whatsapp", "source": "", "city": "Алматы", "user_id": manager.pk}]
    changed = client.patch("/api/assignment/", {"mode": "rules", "when": "call_request", "rules": rules},
                           format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["mode"], changed.json()["when"], changed.json()["rules"]) == ("rules", "call_request", rules)
    assert client.get("/api/assignment/").json()["rules"] == rules


def test_managers_and_strangers_may_not(tenant_a, client_for):
    manager = client_for(tenant_a, "manager")
    assert manager.get("/api/assignment/").status_code == 403
    assert manager.patch("/api/assignment/", {"mode": "round_robin"}, format="json").status_code == 403
    assert client_for(tenant_a).get("/api/assignment/").status_code == 401


def test_settings_are_per_tenant(tenant_a, tenant_b, client_for):
    assert client_for(tenant_b, "owner").patch("/api/assignment/", {"mode": "round_robin"},
                                               format="json").status_code == 200
    assert client_for(tenant_a, "owner").get("/api/assignment/").json()["mode"] == "off"
    # a rule may not name a person of another tenant
    other = user_of(tenant_b, "manager")
    with tenant_context(tenant_a):
        from accounts.models import User

        taken = set(User.objects.values_list("pk", flat=True))
    if other.pk not in taken:
        bad = client_for(tenant_a, "owner").patch(
            "/api/assignment/", {"rules": [{"city": "X", "user_id": other.pk}]}, format="json")
        assert bad.status_code == 400


@pytest.mark.parametrize("body", [
    {"mode": "sometimes"},
    {"when": 5},
    {"rules": "all"},
    {"rules": [{"city": "Алматы"}]},
    {"rules": [{"city": "Алматы", "user_id": 999999999}]},
    {"rules": [{"user_id": 1}]},
    {"rules": [{"channel": "fax", "user_id": 1}]},
    {"rules": [{"city": "x" * 101, "user_id": 1}]},
    {"rules": [{"city": ["Алматы"], "user_id": 1}]},
    {"rules": [{"city": "A", "user_id": True}]},
    {"rules": [{"city": "A", "user_id": 1}] * 51},
])
def test_bad_settings_are_a_400_naming_the_problem(tenant_a, client_for, body):
    response = client_for(tenant_a, "owner").patch("/api/assignment/", body, format="json")
    assert response.status_code == 400, response.content
    assert client_for(tenant_a, "owner").get("/api/assignment/").json()["mode"] == "off"
