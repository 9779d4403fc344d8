"""What follow-ups do when something happens elsewhere (core.events). Every listener here runs inside the emitter's
transaction: a cancellation or a schedule commits or rolls back with the change that caused it, and a failure fails
that change (the inbound drain then redoes its batch message by message)."""
from __future__ import annotations

from datetime import datetime

from core.events import listener
from followups.scheduling import CLOSED_STAGE_KINDS
from followups.services import (
    followup_after_missed_call,
    followups_cancel,
    followups_on_client_messages,
    followups_on_outbound_sent,
    followups_pause,
)


@listener("messages.received", on_commit=False)
def client_answered(*, firsts: dict[int, int], **_: object) -> None:
    """In the drain's transaction: the clients' silence is over (their follow-ups stop, their last touch counts as
    answered, its content's tags become interests), and a new lead's first message may start a campaign — the only
    place a client message starts one."""
    followups_on_client_messages(firsts=firsts)


@listener("messages.sent", on_commit=False)
def our_message_sent(*, message_ids: list[int]) -> None:
    """In the send's transaction: our message waits for an answer, the follow-up schedule starts."""
    followups_on_outbound_sent(message_ids=message_ids)


@listener("lead.stage_changed", on_commit=False)
def stage_changed(*, lead_id: int, after: str, **_: object) -> None:
    """In the move's transaction: a won or lost lead gets no more touches."""
    if after in CLOSED_STAGE_KINDS:
        followups_cancel(lead_id=lead_id, reason=f"stage {after}")


@listener("lead.taken_over", on_commit=False)
def taken_over(*, lead_id: int, **_: object) -> None:
    """In the takeover's transaction: a person writes now, no more touches."""
    followups_cancel(lead_id=lead_id, reason="takeover")


@listener("lead.returned_to_ai", on_commit=False)
def returned_to_ai(*, lead_id: int, **_: object) -> None:
    """In the same transaction: touches still open from before are dropped (the AI's next message plans afresh)."""
    followups_cancel(lead_id=lead_id, reason="returned to AI")


@listener("lead.ai_stopped", on_commit=False)
def ai_stopped(*, lead_id: int, reason: str) -> None:
    """In the same transaction: refused, or the AI switched off for the lead — no more touches."""
    followups_cancel(lead_id=lead_id, reason=reason)


def _moment(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


@listener("lead.call_requested", on_commit=False)
def call_requested(*, lead_id: int, due_at: str | None = None, **_: object) -> None:
    """In the request's transaction: a call is arranged, so the touches wait until after it."""
    until = _moment(due_at)
    if until is not None:
        followups_pause(lead_id=lead_id, until=until, reason="call arranged")


@listener("meeting.booked", on_commit=False)
def meeting_booked(*, lead_id: int, start: str, **_: object) -> None:
    """In the booking's transaction: a meeting is booked, so the touches wait until after it."""
    until = _moment(start)
    if until is not None:
        followups_pause(lead_id=lead_id, until=until, reason="meeting booked")


@listener("call.missed", on_commit=False)
def call_missed(*, lead_id: int, call_id: str, **_: object) -> None:
    """In the webhook's transaction: an AI call nobody answered becomes a touch in the chat."""
    followup_after_missed_call(lead_id=lead_id, call_id=call_id)
