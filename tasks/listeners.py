"""What tasks do when something happens elsewhere (core.events)."""

from __future__ import annotations

from core.events import listener
from tasks.services import task_for_call_request, task_for_meeting, tasks_follow_assignee


@listener("lead.call_requested", on_commit=False)
def call_requested(*, lead_id: int, preferred_time: str = "", due_at: str | None = None, **_: object) -> None:
    """In the request's transaction: a call task for the lead's manager, due when the client said."""
    task_for_call_request(lead_id=lead_id, preferred_time=preferred_time or "", due_at=due_at)


@listener("meeting.booked", on_commit=False)
def meeting_booked(*, lead_id: int, event_id: str, start: str, **_: object) -> None:
    """In the booking's transaction: the meeting is on the manager's task list too."""
    task_for_meeting(lead_id=lead_id, event_id=event_id, start=start)


@listener("lead.assigned", on_commit=False)
def lead_assigned(*, lead_id: int, assignee_id: int | None = None, **_: object) -> None:
    """In the assignment's transaction: the lead's open tasks nobody had go to its new manager (a call task the AI
    made before the lead was assigned)."""
    tasks_follow_assignee(lead_id=lead_id, assignee_id=assignee_id)
