"""Reads for leads: visibility by role, lists, the board."""
from __future__ import annotations

from django.db import connection

from accounts.models import Role


def managers_see_all() -> bool:
    from tenants.services import tenant_config_get

    return bool(tenant_config_get(connection.tenant).get("leads", {}).get("managers_see_all", True))


def user_sees_all_leads(*, user) -> bool:
    return user.role in (Role.OWNER, Role.HEAD) or (user.role == Role.MANAGER and managers_see_all())
