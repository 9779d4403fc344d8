from rest_framework.permissions import BasePermission

from accounts.models import Role

# Which roles each role may create and manage.
MANAGEABLE = {Role.OWNER: {Role.HEAD, Role.MANAGER}, Role.HEAD: {Role.MANAGER}, Role.MANAGER: set()}


def can_manage(actor, role: str) -> bool:
    return role in MANAGEABLE.get(actor.role, set())


class IsOwnerOrHead(BasePermission):
    message = "Доступно только владельцу и руководителю отдела продаж."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role in (Role.OWNER, Role.HEAD))


class IsTenantUser(BasePermission):
    """A user of this tenant with a CRM role (platform superusers have no role and no CRM access)."""

    message = "Нет доступа."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role in Role.values)
