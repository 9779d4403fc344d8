"""Writes for the team: users, roles, deactivation, login throttling."""
from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from accounts.permissions import can_manage
from core.realtime import group_account, publish, session_fingerprint

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
    user.save()
    if password or is_active is False:
        # Tokens and live sockets end at once; sessions fail (password hash changed, or the user is inactive).
        _credentials_revoke(user)
    log.info("user=%s updated %s by=%s", user.email, ",".join(changes) or "nothing", actor.email)
    return user


def token_for(user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


class LoginThrottled(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after:.0f}s")
        self.retry_after = max(1, math.ceil(retry_after))


class LoginRefused(Exception):
    def __init__(self, detail: str, status: int):
        super().__init__(detail)
        self.detail = detail
        self.status = status


# --- login throttling ----------------------------------------------------------------------------------
# Two independent throttles, each a failure counter with a growing lock (LOGIN_LOCK_SECONDS × 2^(failures −
# limit), capped): per account (failures for one e-mail, known or not, so answers never tell which exist) and per
# client address. Behind a proxy every user shares one address, so a locked address still lets through accounts
# that signed in successfully from it within LOGIN_KNOWN_ADDRESS_DAYS: spraying random e-mails from an office's
# address slows the sprayer and any first-time sign-in from there, never the people who work there. Each
# account keeps its own lock, so guessing one person's password stays bounded whatever the address.
# Keys all contain "login-fail" (the test suite clears them between tests).


def _account_key(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _locked_for(kind: str, ident: str) -> float:
    """Seconds left on a lock (0: not locked)."""
    until = cache.get(f"login-fail:lock:{kind}:{ident}")
    return max(0.0, float(until) - time.time()) if until else 0.0


def _failure_record(kind: str, ident: str, limit: int) -> None:
    count_key = f"login-fail:{kind}:{ident}"
    cache.add(count_key, 0, settings.LOGIN_FAILURE_WINDOW)
    try:
        failures = cache.incr(count_key)
    except ValueError:  # expired between add and incr
        failures = 1
        cache.set(count_key, failures, settings.LOGIN_FAILURE_WINDOW)
    if failures >= limit:
        seconds = min(settings.LOGIN_LOCK_MAX_SECONDS, settings.LOGIN_LOCK_SECONDS * 2 ** min(failures - limit, 20))
        cache.set(f"login-fail:lock:{kind}:{ident}", time.time() + seconds, seconds)
        # The count outlives the lock, so the next failure after it doubles the lock.
        cache.touch(count_key, settings.LOGIN_FAILURE_WINDOW + seconds)


def _known_address_key(ip: str, account: str) -> str:
    return f"login-fail:known:{ip}:{account}"


def _throttle_check(*, account: str, ip: str) -> None:
    wait = _locked_for("e", account)
    if not wait and not cache.get(_known_address_key(ip, account)):
        wait = _locked_for("ip", ip)
    if wait:
        raise LoginThrottled(wait)


def _failure(*, account: str, ip: str, email: str, why: str) -> None:
    _failure_record("e", account, settings.LOGIN_FAILURE_LIMIT)
    _failure_record("ip", ip, settings.LOGIN_IP_FAILURE_LIMIT)
    log.info("login failed email=%s ip=%s why=%s", email[:100], ip, why)


def login_check(*, email: str, password: str, ip: str) -> User:
    """Checks credentials under the per-account and per-address throttles (LoginThrottled, LoginRefused)."""
    email = (email or "").strip().lower()
    account = _account_key(email)
    _throttle_check(account=account, ip=ip)
    user = User.objects.filter(email=email).first()
    if user is None:
        User().set_password(password or "")  # as long as a real check: the time tells no one which e-mails exist
        _failure(account=account, ip=ip, email=email, why="unknown")
        raise LoginRefused("Неверный email или пароль.", 401)
    if not user.check_password(password or ""):
        _failure(account=account, ip=ip, email=email, why="password")
        raise LoginRefused("Неверный email или пароль.", 401)
    if not user.is_active:
        raise LoginRefused("Учётная запись отключена. Обратитесь к владельцу.", 403)
    if not user.role:
        raise LoginRefused("Нет доступа к CRM.", 403)
    cache.delete_many([f"login-fail:e:{account}", f"login-fail:lock:e:{account}"])
    cache.set(_known_address_key(ip, account), 1, settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400)
    return user


# --- passwords -------------------------------------------------------------------------------------------


def _credentials_revoke(user: User, *, keep_session: str | None = None) -> None:
    """Ends what the old password opened: API tokens at once; sessions fail their password-hash check on their
    next request (the caller keeps its own with update_session_auth_hash); live sockets are closed on commit —
    except those of `keep_session` (the session that made the change goes on, its sockets with it)."""
    Token.objects.filter(user=user).delete()
    tenant_id = connection.tenant.id
    event = {"user": user.pk, "keep_session": session_fingerprint(keep_session)}
    transaction.on_commit(lambda: publish([group_account(tenant_id, user.pk)], event, handler="auth.revoked"))


def _new_password_validate(password: str, *, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None


@transaction.atomic
def user_password_change(*, user: User, current_password: str, new_password: str, ip: str,
                         new_token: bool = False, session_key: str | None = None) -> str | None:
    """A user changes their own password: the current one is required (a wrong one counts as a failed login),
    the new one must pass the validators. Every token and other session ends; `session_key`: the session making
    the change, whose sockets stay open; with `new_token` (the change was made with a token) a fresh token is
    returned so the caller's client goes on working."""
    account = _account_key(user.email)
    wait = _locked_for("e", account)
    if wait:
        raise LoginThrottled(wait)
    if not user.check_password(current_password or ""):
        _failure(account=account, ip=ip, email=user.email, why="password-change")
        raise ValidationError({"current_password": ["Неверный текущий пароль."]})
    if new_password == current_password:
        raise ValidationError({"new_password": ["Новый пароль совпадает с текущим."]})
    _new_password_validate(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _credentials_revoke(user, keep_session=session_key)
    log.info("user=%s password changed by=self", user.email)
    return token_for(user) if new_token else None


@transaction.atomic
def user_password_reset(*, actor: User, user: User, new_password: str) -> User:
    """An owner or head sets a new password for someone they manage (the role matrix of accounts.permissions);
    everything the old password opened ends."""
    if user.pk == actor.pk:
        raise PermissionDenied("Свой пароль меняйте в профиле: нужен текущий пароль.")
    if not can_manage(actor, user.role):
        raise PermissionDenied("Нет прав на этого пользователя.")
    _new_password_validate(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _credentials_revoke(user)
    cache.delete_many([f"login-fail:e:{_account_key(user.email)}", f"login-fail:lock:e:{_account_key(user.email)}"])
    log.info("user=%s password reset by=%s", user.email, actor.email)
    return user


def owner_create(*, email: str, full_name: str, password_hash: str) -> User:
    """A new tenant's owner (inside its schema, in the provisioning transaction), with a password hashed already by
    whoever had it in clear (django.contrib.auth.hashers.make_password). Without a name the name stays blank (the
    PWA shows the e-mail): defaulting it to the role word made the header read "Владелец · Владелец"."""
    owner = User(email=User.objects.normalize_email(email).lower(), role=Role.OWNER,
                 full_name=(full_name or "").strip(), password=password_hash)
    owner.save()
    log.info("user=%s created role=owner by=system", owner.email)
    return owner
