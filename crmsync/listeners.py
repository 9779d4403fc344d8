"""What the amoCRM sync does when our leads change (core.events): it mirrors them into amoCRM. Every listener runs
once the emitter's transaction has committed (it only queues a write-back task, which reads the committed lead), and
only for leads that came from amoCRM in a tenant that has it configured (`amocrm_on_lead_change` decides); a failure
is logged and never undoes the change."""
from __future__ import annotations

from core.events import listener
from crmsync.services import amocrm_on_lead_change


@listener("lead.stage_changed", on_commit=True)
def stage_changed(*, lead_id: int, **_: object) -> None:
    """On commit: the lead's new stage → the amoCRM lead's status (amocrm.stage_map)."""
    amocrm_on_lead_change(lead_id=lead_id, what="stage")


@listener("lead.taken_over", on_commit=True)
def taken_over(*, lead_id: int, **_: object) -> None:
    """On commit: the person who took the dialog → the amoCRM lead's responsible user (amocrm.responsible_map)."""
    amocrm_on_lead_change(lead_id=lead_id, what="takeover")


@listener("lead.qualified", on_commit=True)
def qualified(*, lead_id: int, text: str) -> None:
    """On commit: the AI's summary of a qualified lead → a note on the amoCRM lead."""
    amocrm_on_lead_change(lead_id=lead_id, what="qualified", text=text)


@listener("meeting.booked", on_commit=True)
def meeting_booked(*, lead_id: int, text: str, **_: object) -> None:
    """On commit: the booked meeting (time, Meet and calendar links) → a note on the amoCRM lead."""
    amocrm_on_lead_change(lead_id=lead_id, what="meeting", text=text)
