"""Writes for the team: users, roles, deactivation, login throttling."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.permissions import can_manage

log = logging.getLogger("buildcrm.accounts")


def user_create(*, actor: User, email: str, password: str, role: str, full_name: str = "") -> User:
    if not can_manage(actor, role):
        raise PermissionDenied(f"Роль {actor.role or '-'} не может создавать пользователей с ролью {role}.")
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": ["Пользователь с таким email уже есть."]})
    candidate = User(email=email, full_name=full_name, role=role)
    validate_password(password, user=candidate)
    user = User.objects.create_user(email, password, role=role, full_name=full_name)
    log.info("user=%s created role=%s by=%s", user.email, role, actor.email)
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, full_name: str | None = None, role: str | None = None,
                is_active: bool | None = None, password: str | None = None) -> User:
    if user.pk == actor.pk and (role not in (None, user.role) or is_active is False):
        raise PermissionDenied("Нельзя менять свою роль или отключать себя.")
    if not can_manage(actor, user.role):
        raise PermissionDenied("Нет прав на этого пользователя.")
    if role is not None and role != user.role and not can_manage(actor, role):
        raise PermissionDenied(f"Нельзя назначить роль {role}.")
    changes = []
    if full_name is not None and full_name != user.full_name:
        user.full_name = full_name
        changes.append("full_name")
    if role is not None and role != user.role:
        changes.append(f"role {user.role}→{role}")
        user.role = role
    if password:
        validate_password(password, user=user)
        user.set_password(password)
        changes.append("password")
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        changes.append("activated" if is_active else "deactivated")
        if not is_active:
            # Deactivation revokes API tokens at once; sessions fail because the user is inactive.
            Token.objects.filter(user=user).delete()
    user.save()
    log.info("user=%s updated %s by=%s", user.email, ",".join(changes) or "nothing", actor.email)
    return user


def token_for(user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


class LoginThrottled(Exception):
    pass


class LoginRefused(Exception):
    def __init__(self, detail: str, status: int):
        super().__init__(detail)
        self.detail = detail
        self.status = status


def _failure_keys(email: str, ip: str) -> list[str]:
    return [f"login-fail:e:{email}", f"login-fail:ip:{ip}"]


def login_check(*, email: str, password: str, ip: str) -> User:
    """Checks credentials with throttling of failures per email and per address."""
    email = (email or "").strip().lower()
    keys = _failure_keys(email, ip)
    limit = settings.LOGIN_FAILURE_LIMIT
    if any((cache.get(k) or 0) >= limit for k in keys[:1]) or (cache.get(keys[1]) or 0) >= limit * 4:
        raise LoginThrottled()
    user = User.objects.filter(email=email).first()
    if user is None or not user.check_password(password or ""):
        for k in keys:
            cache.add(k, 0, settings.LOGIN_FAILURE_WINDOW)
            cache.incr(k)
        log.info("login failed email=%s ip=%s", email, ip)
        raise LoginRefused("Неверный email или пароль.", 401)
    if not user.is_active:
        raise LoginRefused("Учётная запись отключена. Обратитесь к владельцу.", 403)
    if not user.role:
        raise LoginRefused("Нет доступа к CRM.", 403)
    cache.delete(keys[0])
    return user
