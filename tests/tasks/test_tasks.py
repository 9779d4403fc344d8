"""Tasks: a call request becomes the manager's call task due when the client said (in the tenant's zone), a booked
meeting a meeting task; the API lists a lead's tasks and "my tasks", creates and marks done — for the roles and the
tenant allowed, never for another tenant or a manager who may not see the lead."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from core.events import emit
from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all

TZ = ZoneInfo("Asia/Almaty")
SOON = (datetime.now(ZoneInfo("UTC")) + timedelta(days=30)).replace(microsecond=0).isoformat()


@pytest.fixture
def alpha(tenant_a):
    from tenants.services import tenant_config_import

    tenant_config_import(tenant_a, {"timezone": "Asia/Almaty"})
    tenant_a.refresh_from_db()
    return tenant_a


def tasks_of(tenant, lead):
    from tasks.models import Task

    with tenant_context(tenant):
        return list(Task.objects.filter(lead=lead).order_by("id"))


def test_a_call_request_makes_one_call_task_due_when_the_client_said(alpha):
    manager = user_of(alpha, "manager")
    lead = make_lead(alpha, name="Марат", assignee=manager)
    with tenant_context(alpha):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="завтра в 11", due_at=None)
    (task,) = tasks_of(alpha, lead)
    tomorrow = timezone.now().astimezone(TZ).date() + timedelta(days=1)
    assert task.due_at == datetime.combine(tomorrow, time(11), tzinfo=TZ)
    assert (task.kind, task.created_by_kind, task.assignee_id, task.note, task.due_named) == (
        "call",
        "ai",
        manager.pk,
        "завтра в 11",
        True,
    )
    # The client names another time: the same task moves, no second one.
    with tenant_context(alpha):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="tomorrow 3pm", due_at=None)
    (moved,) = tasks_of(alpha, lead)
    assert moved.pk == task.pk and moved.due_at == datetime.combine(tomorrow, time(15), tzinfo=TZ)


def test_unread_words_mean_as_soon_as_possible_within_working_hours(alpha):
    lead = make_lead(alpha)
    with tenant_context(alpha):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="когда удобно", due_at=None)
    (task,) = tasks_of(alpha, lead)
    local = task.due_at.astimezone(TZ)
    assert task.due_named is False and time(10) <= local.time() < time(19)
    assert task.due_at >= timezone.now() - timedelta(minutes=1)
    assert task.due_at <= timezone.now() + timedelta(days=1)


def test_the_request_call_tool_reads_the_time_in_the_tenant_zone_and_tells_the_timeline(alpha):
    from aiagent.tools import ToolRunner
    from leads.models import LeadEvent

    lead = make_lead(alpha)
    with tenant_context(alpha):
        runner = ToolRunner(lead=lead, fields=[], timezone="Asia/Almaty")
        assert runner.run("request_call", {"preferred_time": "после 18", "name": "Марат"})["ok"]
        (event,) = LeadEvent.objects.filter(lead=lead, kind="call_requested")
    (task,) = tasks_of(alpha, lead)
    assert task.due_at.astimezone(TZ).time() == time(18)
    assert event.after["due_at"] == task.due_at.astimezone(TZ).isoformat() and event.after["named"] is True
    # one timeline entry for the change (the request), none extra for the task it made
    with tenant_context(alpha):
        assert not LeadEvent.objects.filter(lead=lead, kind__startswith="task_").exists()


def test_a_booked_meeting_is_a_meeting_task_once(alpha):
    lead = make_lead(alpha)
    start = (timezone.now() + timedelta(days=2)).astimezone(TZ).replace(minute=0, second=0, microsecond=0)
    with tenant_context(alpha):
        for _ in range(2):
            emit("meeting.booked", lead_id=lead.pk, event_id="ev1", start=start.isoformat(), text="note")
    (task,) = tasks_of(alpha, lead)
    assert (task.kind, task.due_at, task.calendar_event_id) == ("meeting", start, "ev1")


def test_lead_tasks_create_list_and_done(alpha, client_for):
    manager = user_of(alpha, "manager")
    lead = make_lead(alpha, assignee=manager)
    owner = client_for(alpha, "owner")
    due = (timezone.now() + timedelta(days=1)).isoformat()
    res = owner.post(
        f"/api/leads/{lead.pk}/tasks/", {"kind": "other", "title": "Отправить смету", "due_at": due}, format="json"
    )
    assert res.status_code == 201, res.content
    created = res.json()
    assert (created["kind"], created["title"], created["assignee"]["id"], created["created_by"]["id"]) == (
        "other",
        "Отправить смету",
        manager.pk,
        user_of(alpha, "owner").pk,
    )
    listed = client_for(alpha, "manager").get(f"/api/leads/{lead.pk}/tasks/")
    assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [created["id"]]
    done = client_for(alpha, "manager").post(f"/api/tasks/{created['id']}/done/")
    assert done.status_code == 200 and done.json()["done_at"] and done.json()["done_by"]["id"] == manager.pk
    again = client_for(alpha, "manager").post(f"/api/tasks/{created['id']}/done/")
    assert again.json()["done_at"] == done.json()["done_at"]
    from leads.models import LeadEvent

    with tenant_context(alpha):
        kinds = list(LeadEvent.objects.filter(lead=lead).order_by("id").values_list("kind", flat=True))
    assert kinds == ["task_created", "task_done"]  # one entry per change, the repeated click adds none


def test_my_tasks_by_role(alpha, client_for):
    manager, manager2 = user_of(alpha, "manager"), user_of(alpha, "manager2")
    mine = make_lead(alpha, assignee=manager)
    other = make_lead(alpha, assignee=manager2)
    free = make_lead(alpha)
    with tenant_context(alpha):
        for lead in (mine, other, free):
            emit("lead.call_requested", lead_id=lead.pk, preferred_time="завтра в 12", due_at=None)
    by_lead = {t.lead_id: t.pk for lead in (mine, other, free) for t in tasks_of(alpha, lead)}

    def my(role):
        res = client_for(alpha, role).get("/api/tasks/my/")
        assert res.status_code == 200, res.content
        return {t["id"] for t in res.json()}

    assert my("manager") == {by_lead[mine.pk]}
    assert my("manager2") == {by_lead[other.pk]}
    assert my("head") == {by_lead[free.pk]} == my("owner")  # nobody's tasks go to those who hand them out
    client_for(alpha, "manager").post(f"/api/tasks/{by_lead[mine.pk]}/done/")
    assert my("manager") == set()
    res = client_for(alpha, "manager").get("/api/tasks/my/?done=true")
    assert {t["id"] for t in res.json()} == {by_lead[mine.pk]}
    assert client_for(alpha, "manager").get("/api/tasks/my/?done=maybe").status_code == 400
    assert client_for(alpha).get("/api/tasks/my/").status_code in (401, 403)


def test_another_tenant_and_a_manager_who_may_not_see_the_lead_get_404(alpha, tenant_b, client_for):
    manager2 = user_of(alpha, "manager2")
    lead = make_lead(alpha, assignee=manager2)
    with tenant_context(alpha):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="", due_at=None)
    (task,) = tasks_of(alpha, lead)
    due = (timezone.now() + timedelta(days=1)).isoformat()
    for client in (client_for(tenant_b, "owner"),):
        assert client.get(f"/api/leads/{lead.pk}/tasks/").status_code == 404
        assert client.post(f"/api/leads/{lead.pk}/tasks/", {"due_at": due}, format="json").status_code == 404
        assert client.post(f"/api/tasks/{task.pk}/done/").status_code == 404
        assert client.get("/api/tasks/my/").json() == []
    set_managers_see_all(alpha, False)
    manager = client_for(alpha, "manager")
    assert manager.get(f"/api/leads/{lead.pk}/tasks/").status_code == 404
    assert manager.post(f"/api/tasks/{task.pk}/done/").status_code == 404
    assert tasks_of(alpha, lead)[0].done_at is None


def test_a_manager_assigns_tasks_only_to_themselves(alpha, client_for):
    manager, manager2 = user_of(alpha, "manager"), user_of(alpha, "manager2")
    lead = make_lead(alpha)
    due = (timezone.now() + timedelta(hours=3)).isoformat()
    client = client_for(alpha, "manager")
    res = client.post(
        f"/api/leads/{lead.pk}/tasks/", {"kind": "call", "due_at": due, "assignee": manager2.pk}, format="json"
    )
    assert res.status_code == 403
    res = client.post(f"/api/leads/{lead.pk}/tasks/", {"kind": "call", "due_at": due}, format="json")
    assert res.status_code == 201 and res.json()["assignee"]["id"] == manager.pk
    res = client_for(alpha, "head").post(
        f"/api/leads/{lead.pk}/tasks/", {"kind": "meeting", "due_at": due, "assignee": manager2.pk}, format="json"
    )
    assert res.status_code == 201 and res.json()["assignee"]["id"] == manager2.pk


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"due_at": "завтра"},
        {"due_at": "9999-12-31T23:59:59Z"},
        {"due_at": 5},
        {"kind": "party", "due_at": "X"},
        {"kind": "call", "due_at": SOON, "title": "x" * 201},
        {"kind": "call", "due_at": SOON, "assignee": 10**30},
        {"kind": "call", "due_at": SOON, "assignee": 999999},
        {"kind": "call", "due_at": SOON, "title": ["a"]},
        {"kind": "call", "due_at": SOON + "\u0000"},
    ],
)
def test_bad_task_input_is_400(alpha, client_for, body):
    lead = make_lead(alpha)
    res = client_for(alpha, "owner").post(f"/api/leads/{lead.pk}/tasks/", body, format="json")
    assert res.status_code == 400, (body, res.content)
    assert res.json()["detail"] and tasks_of(alpha, lead) == []


def test_unknown_task_or_lead_is_404(alpha, client_for):
    client = client_for(alpha, "owner")
    assert client.post("/api/tasks/99999999/done/").status_code == 404
    assert client.get("/api/leads/99999999/tasks/").status_code == 404


def test_a_due_time_without_an_offset_is_read_in_the_tenants_zone(alpha, client_for):
    lead = make_lead(alpha, name="Зона")
    day = (timezone.now() + timedelta(days=2)).astimezone(TZ).date()
    response = client_for(alpha, "head").post(
        f"/api/leads/{lead.pk}/tasks/", {"kind": "meeting", "due_at": f"{day.isoformat()}T11:00"}, format="json"
    )
    assert response.status_code == 201, response.content
    (task,) = tasks_of(alpha, lead)
    assert task.due_at == datetime.combine(day, time(11), tzinfo=TZ) and task.kind == "meeting"
    # with an offset it is taken as it says
    response = client_for(alpha, "head").post(
        f"/api/leads/{lead.pk}/tasks/", {"kind": "call", "due_at": f"{day.isoformat()}T11:00:00+00:00"}, format="json"
    )
    assert response.status_code == 201
    assert tasks_of(alpha, lead)[1].due_at == datetime.combine(day, time(11), tzinfo=ZoneInfo("UTC"))


def test_open_unassigned_tasks_follow_the_leads_new_assignee(alpha):
    from leads.services import SYSTEM, lead_assign
    from tasks.models import Task

    manager, head = user_of(alpha, "manager"), user_of(alpha, "head")
    lead = make_lead(alpha, name="Следом")
    with tenant_context(alpha):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="завтра в 11", due_at=None)
        kept = Task.objects.create(lead=lead, kind="other", due_at=timezone.now(), assignee=head)
        done = Task.objects.create(lead=lead, kind="call", due_at=timezone.now(), done_at=timezone.now())
        lead_assign(lead=lead, assignee=manager, actor=SYSTEM)
        by_id = {t.pk: t.assignee_id for t in Task.objects.filter(lead=lead)}
    call = next(t for t in tasks_of(alpha, lead) if t.created_by_kind == "ai")
    assert by_id[call.pk] == manager.pk and by_id[kept.pk] == head.pk and by_id[done.pk] is None
