"""What accounts do when something happens elsewhere (core.events)."""
from __future__ import annotations

from accounts.services import owner_create
from core.events import listener


@listener("tenant.provisioned", on_commit=False)
def create_owner(*, owner_email: str, owner_name: str, owner_password_hash: str, **_: object) -> None:
    """In the provisioning transaction, inside the new schema: its owner (a failure undoes the whole tenant)."""
    owner_create(email=owner_email, full_name=owner_name, password_hash=owner_password_hash)
