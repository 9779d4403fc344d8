"""What voice calls do when something happens elsewhere (core.events)."""

from __future__ import annotations

from core.events import listener
from voicecalls.services import call_queue


@listener("lead.call_requested", on_commit=True)
def call_requested(*, lead_id: int, **_: object) -> None:
    """Once the request is committed: the AI call is queued when the tenant enabled Retell and the lead has a phone
    (the HTTP request to Retell runs in a worker, never in the AI's turn)."""
    call_queue(lead_id=lead_id)
