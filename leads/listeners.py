"""What leads do when something happens elsewhere (core.events)."""
from __future__ import annotations

from core.events import listener
from leads.assignment import lead_auto_assign, leads_auto_assign
from leads.services import stages_seed_default


@listener("tenant.provisioned", on_commit=False)
def seed_default_stages(**_: object) -> None:
    """In the provisioning transaction, inside the new schema: the default pipeline."""
    stages_seed_default()


# Assignment runs on commit, in its own transaction with fresh locked rows: the emitters (the drain, the AI's turn)
# hold Lead objects they may save whole later, which would write a stale assignee back over ours.
@listener("messages.received", on_commit=True)
def assign_new_clients(*, new_lead_ids: list[int] = (), **_: object) -> None:
    leads_auto_assign(lead_ids=list(new_lead_ids), trigger="new_lead")


@listener("lead.created", on_commit=True)
def assign_created(*, lead_id: int, **_: object) -> None:
    lead_auto_assign(lead_id=lead_id, trigger="new_lead")


@listener("lead.call_requested", on_commit=True)
def assign_on_call_request(*, lead_id: int, **_: object) -> None:
    lead_auto_assign(lead_id=lead_id, trigger="call_request")


@listener("lead.became_hot", on_commit=True)
def assign_hot(*, lead_id: int, assignee_id: int | None = None, **_: object) -> None:
    """An unassigned hot lead is never left alone: round-robin even when automatic assignment is off."""
    if assignee_id is None:
        lead_auto_assign(lead_id=lead_id, trigger="hot")
