"""What leads do when something happens elsewhere (core.events)."""
from __future__ import annotations

from core.events import listener
from leads.services import stages_seed_default


@listener("tenant.provisioned", on_commit=False)
def seed_default_stages(**_: object) -> None:
    """In the provisioning transaction, inside the new schema: the default pipeline."""
    stages_seed_default()
