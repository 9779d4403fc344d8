"""What the AI manager does when something happens elsewhere (core.events). Both listeners run once the emitter's
transaction has committed: they only queue work (a turn task) or start the first contact in its own transaction,
which must see the committed lead and messages; a failure is logged and undoes nothing of the emitter's."""
from __future__ import annotations

from aiagent.services import ai_first_contact, ai_on_client_messages, ai_on_voice_transcribed
from core.events import listener


@listener("messages.received", on_commit=True)
def client_wrote(*, newest: dict[int, int], new_lead_ids: list[int], **_: object) -> None:
    """On commit of the drain's batch: one debounced turn per lead, for its newest message (a turn answers every
    message not answered yet); none for a lead the AI may not answer (the tenant's AI or the lead's is off)."""
    ai_on_client_messages(newest=newest, new_lead_ids=new_lead_ids)


@listener("messages.transcribed", on_commit=True)
def voice_transcribed(*, lead_id: int, message_id: int, ok: bool) -> None:
    """On commit: the turn that waited for a voice note's transcript (or its failure: the AI asks for text)."""
    ai_on_voice_transcribed(lead_id=lead_id, message_id=message_id)


@listener("lead.created", on_commit=True)
def lead_created(*, lead_id: int, greet: bool, **_: object) -> None:
    """On commit: a lead that did not write first (amoCRM) gets the tenant's first-contact chain when it may."""
    if greet:
        ai_first_contact(lead_id=lead_id)
