"""In-process domain events: an app says what happened, the apps that react to it listen.

    emit("lead.stage_changed", lead_id=7, before="in_dialog", after="won", actor="user")

Listeners are registered in each reacting app's `listeners.py` (imported by its AppConfig.ready()) with
`@listener(event, on_commit=…)`:
- `on_commit=False` runs inside the emitter's transaction, before `emit` returns: its writes commit or roll
  back with the emitter's, and an exception propagates to the emitter;
- `on_commit=True` runs once the emitter's transaction commits (at once outside one) — for work that must see
  committed rows or talk to other processes (queue a task, call an outside system); its failure is logged
  and never undoes the emitter's committed work.
Payloads carry ids and primitives only (never model instances): a listener reads what it needs itself, so
no app has to import another's models to tell it something happened. Live websocket events are not domain
events: they are infrastructure, published directly (core.realtime).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

log = logging.getLogger("buildcrm.events")

# The catalogue: every event, who emits it, what it carries (and who listens, for the reader). An unknown name is a
# programming error.
EVENTS: dict[str, str] = {
    "tenant.provisioned": "tenants.tenant_provision, inside the new schema and its transaction (tenant_id, "
                          "owner_email, owner_name, owner_password_hash: made by django.contrib.auth.hashers) → "
                          "accounts: the owner; leads: the default stages",
    "lead.created": "crmsync intake, leads.lead_create_by_hand (greet=False): a lead that did not write first "
                    "(lead_id, source, greet: whether the AI's first-contact chain should go) → aiagent: the first "
                    "contact, on commit; leads: automatic assignment, on commit; notifications: new lead, on commit",
    "lead.stage_changed": "leads.lead_move (lead_id, before, after: stage kinds, actor: ai|system|user) → followups: "
                          "cancel on won/lost; crmsync: the stage to amoCRM, on commit",
    "lead.taken_over": "leads.lead_takeover: a person took the dialog (lead_id, user_id) → followups: cancel; "
                       "crmsync: the responsible user to amoCRM, on commit",
    "lead.returned_to_ai": "leads.lead_return_to_ai (lead_id, user_id) → followups: cancel",
    "lead.ai_stopped": "leads.lead_update: the AI may no longer write to the lead, refused or switched off (lead_id, "
                       "reason) → followups: cancel",
    "lead.qualified": "aiagent: the lead reached complete data (lead_id, text: a summary for outside CRMs) → crmsync: "
                      "a note in amoCRM, on commit",
    "lead.call_requested": "aiagent's request_call tool: the client asked for a call (lead_id, preferred_time: the "
                           "client's words, due_at: ISO datetime in the tenant's zone or None) → tasks: a call task; "
                           "followups: touches wait until after it; leads: automatic assignment, on commit; "
                           "notifications: tell the manager, on commit",
    "messages.received": "conversations' inbound drain, per batch in its savepoint (message_ids, lead_ids, "
                         "new_lead_ids, firsts: {lead_id: its first message id of the batch}, newest: {lead_id: its "
                         "newest}) → followups: stop waiting, answered, interests, campaigns (the only campaign "
                         "trigger for client messages); aiagent: the turn for each lead's newest message, on commit; "
                         "leads: automatic assignment of the new leads, on commit; notifications: new lead, client "
                         "replied, on commit",
    "messages.transcribed": "conversations.message_transcribe: a client's voice note got its transcript, or failed "
                            "to (lead_id, message_id, ok) → aiagent: the turn the note was waiting for, on commit",
    "messages.sent": "conversations: outbound messages the provider accepted (message_ids) → followups: the schedule "
                     "after our message",
    "call.missed": "voicecalls: an AI call nobody answered (no answer, busy, voicemail) (lead_id, call_id, reason) → "
                   "followups: a message in the chat instead",
    "task.due": "tasks.tasks_due_sweep: an open task came due, once per task (task_id, lead_id, assignee_id or None, "
                "due_at: ISO) → notifications: remind its assignee, on commit",
    "lead.assigned": "leads.lead_assign: the lead's assignee changed (lead_id, assignee_id or None, before_id or None, "
                     "actor: ai|system|user) → notifications: tell the new assignee, on commit; tasks: the lead's open "
                     "unassigned tasks follow it",
    "lead.became_hot": "leads.lead_set_score: the lead's temperature became hot (lead_id, assignee_id or None) → "
                       "leads: an unassigned hot lead gets an assignee; notifications: the assignee or the heads, "
                       "on commit",
    "lead.needs_human": "leads.lead_flag_human: the AI asked for a person (lead_id, reason) → notifications, on commit",
    "messages.failed": "conversations: an outbound message failed for good, or the provider reported it failed "
                       "(message_id, lead_id, error) → notifications, on commit",
    "meeting.booked": "meetings.calendar_book (lead_id, event_id, start, text: a note for outside CRMs) → crmsync: a "
                      "note in amoCRM, on commit; tasks: a meeting task; followups: touches wait until after it",
}

_PRIMITIVES = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Listener:
    event: str
    func: Callable[..., Any]
    on_commit: bool

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


_listeners: dict[str, list[Listener]] = {}


def listener(event: str, *, on_commit: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers the decorated function for `event` (in the emitter's transaction, or on commit)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        entry = Listener(event, func, on_commit)
        found = _listeners.setdefault(event, [])
        if all(existing.name != entry.name for existing in found):  # a module imported twice registers once
            found.append(entry)
        return func

    return register


def listeners_of(event: str) -> list[Listener]:
    return list(_listeners.get(event, ()))


def _check(value: Any, path: str) -> None:
    if isinstance(value, _PRIMITIVES):
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{path}: keys must be str or int")
            _check(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: events carry ids and primitives, not {type(value).__name__}")


def emit(event: str, **payload: Any) -> None:
    """Tells every listener of `event`; see the module's docstring for when each runs."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    for key, value in payload.items():
        _check(value, key)
    for entry in listeners_of(event):
        if entry.on_commit:
            transaction.on_commit(functools.partial(_run_committed, entry, payload), robust=True)
        else:
            entry.func(**payload)


def _run_committed(entry: Listener, payload: dict[str, Any]) -> None:
    try:
        entry.func(**payload)
    except Exception:
        log.exception("event %s: listener %s failed", entry.event, entry.name)
