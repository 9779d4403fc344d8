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

# The catalogue: every event, who emits it, what it carries. An unknown name is a programming error.
EVENTS: dict[str, str] = {
    "tenant.provisioned": "tenants: a tenant schema was created (tenant_id, owner_email); inside its schema",
    "lead.created": "leads/crmsync: a lead that did not write first (lead_id, source, greet)",
    "lead.stage_changed": "leads: a lead moved (lead_id, before, after: stage kinds, actor: ai|system|user)",
    "lead.taken_over": "leads: a person took the dialog (lead_id, user_id)",
    "lead.returned_to_ai": "leads: the dialog went back to the AI (lead_id, user_id)",
    "lead.ai_stopped": "leads: the AI may no longer write to the lead: refused or switched off (lead_id, reason)",
    "lead.qualified": "aiagent: the lead reached complete data (lead_id, text: a summary for outside CRMs)",
    "messages.received": "conversations: client messages processed by the drain (message_ids, lead_ids, "
                         "new_lead_ids, firsts: {lead_id: first message id of this batch})",
    "messages.sent": "conversations: outbound messages the provider accepted (message_ids)",
    "meeting.booked": "meetings: a meeting was booked in the calendar (lead_id, event_id, start, text)",
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
