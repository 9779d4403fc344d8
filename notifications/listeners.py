"""What notifications do when something happens elsewhere (core.events): once the emitter commits, one task per
event queues the notifying — never on the webhook's or the drain's own time."""

from __future__ import annotations

from core.events import listener
from core.tasks import enqueue

TASK = "notifications.tasks.notify_event"


def _queue(event: str, payload: dict) -> None:
    enqueue(TASK, event, payload)


@listener("lead.created", on_commit=True)
def lead_created(*, lead_id: int, **rest: object) -> None:
    _queue("lead.created", {"lead_id": lead_id})


@listener("messages.received", on_commit=True)
def messages_received(*, lead_ids: list[int], new_lead_ids: list[int], **rest: object) -> None:
    _queue("messages.received", {"lead_ids": list(lead_ids), "new_lead_ids": list(new_lead_ids)})


@listener("lead.call_requested", on_commit=True)
def call_requested(*, lead_id: int, preferred_time: str = "", **rest: object) -> None:
    _queue("lead.call_requested", {"lead_id": lead_id, "preferred_time": preferred_time or ""})


@listener("lead.became_hot", on_commit=True)
def became_hot(*, lead_id: int, **rest: object) -> None:
    _queue("lead.became_hot", {"lead_id": lead_id})


@listener("lead.needs_human", on_commit=True)
def needs_human(*, lead_id: int, reason: str = "", **rest: object) -> None:
    _queue("lead.needs_human", {"lead_id": lead_id, "reason": reason or ""})


@listener("messages.failed", on_commit=True)
def message_failed(*, lead_id: int | None = None, error: str = "", **rest: object) -> None:
    _queue("messages.failed", {"lead_id": lead_id, "error": error or ""})


@listener("lead.assigned", on_commit=True)
def assigned(*, lead_id: int, assignee_id: int | None = None, **rest: object) -> None:
    if assignee_id:
        _queue("lead.assigned", {"lead_id": lead_id, "assignee_id": assignee_id})


@listener("task.due", on_commit=True)
def task_due(*, task_id: int, lead_id: int, assignee_id: int | None = None, **rest: object) -> None:
    _queue("task.due", {"task_id": task_id, "lead_id": lead_id, "assignee_id": assignee_id})
