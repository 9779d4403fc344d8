"""Websocket group names and publishing. Groups are built from ids, never from raw schema names."""
from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def group_staff(tenant_id: int) -> str:
    """Users who see every lead of the tenant."""
    return f"t{tenant_id}.staff"


def group_user(tenant_id: int, user_id: int) -> str:
    """A manager who sees only the leads assigned to them."""
    return f"t{tenant_id}.u{user_id}"


def publish(groups: list[str], event: dict) -> None:
    layer = get_channel_layer()
    for group in groups:
        async_to_sync(layer.group_send)(group, {"type": "crm.event", "event": event})
