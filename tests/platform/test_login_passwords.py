"""Login throttling that cannot lock everybody out (per account and per client address, growing locks, proxies
believed only when trusted), CSRF on session login, and passwords: change your own, reset your team's."""
from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.conftest import PASSWORD, host_of, user_of

NEW = "Fresh-horse-battery-91"


def _token_login(tenant, email: str, password: str, ip: str = "198.51.100.1", **extra):
    return Client(HTTP_HOST=host_of(tenant), REMOTE_ADDR=ip).post(
        "/api/auth/token/", {"email": email, "password": password}, content_type="application/json", **extra)


def _session(tenant, role: str, password: str = PASSWORD, ip: str = "198.51.100.1") -> Client:
    client = Client(HTTP_HOST=host_of(tenant), enforce_csrf_checks=True, REMOTE_ADDR=ip)
    client.get("/api/auth/csrf/")
    res = client.post("/api/auth/login/", {"email": f"{role}@{tenant.slug}.test", "password": password},
                      content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert res.status_code == 200, res.content
    return client


def _csrf(client: Client) -> str:
    return client.cookies["csrftoken"].value


def _spray(tenant, n: int, ip: str, **extra) -> None:
    for _ in range(n):
        res = _token_login(tenant, f"{uuid.uuid4().hex[:10]}@nowhere.test", "guess-123", ip=ip, **extra)
        assert res.status_code in (401, 429)


# ---- throttling ------------------------------------------------------------------------------------------


def test_random_emails_from_a_shared_address_do_not_lock_out_the_owner(tenant_a):
    """Behind a proxy everybody shares one address: 20 failures with random e-mails used to lock it for all."""
    _spray(tenant_a, 20, ip="203.0.113.10")
    res = _token_login(tenant_a, "owner@alpha.test", PASSWORD, ip="203.0.113.10")
    assert res.status_code == 200, res.content


@override_settings(LOGIN_IP_FAILURE_LIMIT=10)
def test_a_locked_address_still_lets_in_people_who_signed_in_from_it(tenant_a):
    office = "203.0.113.20"
    assert _token_login(tenant_a, "owner@alpha.test", PASSWORD, ip=office).status_code == 200
    _spray(tenant_a, 30, ip=office)
    # the sprayer is stopped, so is a first sign-in from that address (with a Retry-After) …
    refused = _token_login(tenant_a, "manager@alpha.test", PASSWORD, ip=office)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0 and refused.json()["detail"]
    assert _token_login(tenant_a, "x@nowhere.test", "guess", ip=office).status_code == 429
    # … but the owner, who signed in from there before, is not; nor is anyone elsewhere
    assert _token_login(tenant_a, "owner@alpha.test", PASSWORD, ip=office).status_code == 200
    assert _token_login(tenant_a, "manager@alpha.test", PASSWORD, ip="198.51.100.77").status_code == 200
    # a known account's wrong password from the locked address is still just wrong (its own limit applies)
    assert _token_login(tenant_a, "owner@alpha.test", "nope", ip=office).status_code == 401


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_LOCK_SECONDS=60, LOGIN_LOCK_MAX_SECONDS=3600)
def test_account_lock_grows_and_holds_from_every_address(tenant_a):
    from accounts.services import _account_key

    for _ in range(3):
        assert _token_login(tenant_a, "head@alpha.test", "bad", ip="198.51.100.2").status_code == 401
    first = _token_login(tenant_a, "head@alpha.test", PASSWORD, ip="198.51.100.2")
    assert first.status_code == 429 and 30 < int(first["Retry-After"]) <= 60
    # the same account from anywhere else is locked too; other accounts from the same address are not
    assert _token_login(tenant_a, "head@alpha.test", PASSWORD, ip="192.0.2.99").status_code == 429
    assert _token_login(tenant_a, "manager@alpha.test", PASSWORD, ip="198.51.100.2").status_code == 200
    # once the lock has run out (expired here by hand), the next failure locks twice as long
    with tenant_context(tenant_a):
        cache.delete(f"login-fail:lock:e:{_account_key('head@alpha.test')}")
    assert _token_login(tenant_a, "head@alpha.test", "bad", ip="198.51.100.2").status_code == 401
    second = _token_login(tenant_a, "head@alpha.test", PASSWORD, ip="198.51.100.2")
    assert second.status_code == 429 and 60 < int(second["Retry-After"]) <= 120
    with tenant_context(tenant_a):
        cache.delete(f"login-fail:lock:e:{_account_key('head@alpha.test')}")
    # a success clears the account's count
    assert _token_login(tenant_a, "head@alpha.test", PASSWORD, ip="198.51.100.2").status_code == 200
    assert _token_login(tenant_a, "head@alpha.test", "bad", ip="198.51.100.2").status_code == 401
    assert _token_login(tenant_a, "head@alpha.test", PASSWORD, ip="198.51.100.2").status_code == 200


@override_settings(LOGIN_IP_FAILURE_LIMIT=5)
def test_forwarded_for_is_ignored_without_trusted_proxies(tenant_a):
    """A client cannot dodge the address throttle by writing its own X-Forwarded-For."""
    for i in range(6):
        _token_login(tenant_a, f"r{i}@nowhere.test", "guess", ip="203.0.113.30",
                     HTTP_X_FORWARDED_FOR=f"192.0.2.{i + 1}")
    res = _token_login(tenant_a, "manager2@alpha.test", PASSWORD, ip="203.0.113.30",
                       HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert res.status_code == 429


@override_settings(LOGIN_IP_FAILURE_LIMIT=5, TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8::1"])
def test_behind_trusted_proxies_each_client_address_is_throttled_on_its_own(tenant_a):
    proxy = {"ip": "10.1.2.3"}
    # the sprayer forges a left-hand entry; our proxy appended its real address on the right
    for _ in range(6):
        _token_login(tenant_a, f"{uuid.uuid4().hex[:8]}@nowhere.test", "guess", **proxy,
                     HTTP_X_FORWARDED_FOR="198.51.100.250, 203.0.113.40")
    assert _token_login(tenant_a, "manager2@alpha.test", PASSWORD, **proxy,
                        HTTP_X_FORWARDED_FOR="203.0.113.40").status_code == 429
    # another client behind the same proxy (and a chain of two proxies) is not affected
    assert _token_login(tenant_a, "manager2@alpha.test", PASSWORD, **proxy,
                        HTTP_X_FORWARDED_FOR="203.0.113.41, 10.9.9.9").status_code == 200
    # the forged entry is no way out for the sprayer either
    assert _token_login(tenant_a, "head@alpha.test", PASSWORD, **proxy,
                        HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.40").status_code == 429


class _Request:
    def __init__(self, remote: str, forwarded: str | None):
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize("remote,forwarded,expected", [
    ("203.0.113.5", "1.2.3.4", "203.0.113.5"),                    # not a proxy of ours: header ignored
    ("10.0.0.1", None, "10.0.0.1"),
    ("10.0.0.1", "", "10.0.0.1"),
    ("10.0.0.1", "203.0.113.5", "203.0.113.5"),
    ("10.0.0.1", "6.6.6.6, 203.0.113.5", "203.0.113.5"),          # right-most untrusted; forged left part ignored
    ("10.0.0.1", "203.0.113.5, 10.0.0.2", "203.0.113.5"),         # two proxies
    ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),               # all ours: the farthest we can vouch for
    ("10.0.0.1", "garbage, 203.0.113.5", "203.0.113.5"),
    ("10.0.0.1", "203.0.113.5, garbage", "10.0.0.1"),             # not written by our proxy: stop there
    ("10.0.0.1", "203.0.113.5:4711", "203.0.113.5"),
    ("10.0.0.1", "[2001:db8::5]:443", "2001:db8::5"),
    ("10.0.0.1", "::ffff:203.0.113.5", "203.0.113.5"),
    ("::ffff:10.0.0.1", "203.0.113.5", "203.0.113.5"),
    ("10.0.0.1", "1.1.1.1," * 5000 + "203.0.113.5", "203.0.113.5"),
    ("", "203.0.113.5", "?"),
    ("not-an-ip", "203.0.113.5", "?"),
])
def test_client_ip(settings, remote, forwarded, expected):
    from core.proxies import client_ip

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_Request(remote, forwarded)) == expected


def test_session_login_requires_csrf_token_login_does_not(tenant_a):
    client = Client(HTTP_HOST=host_of(tenant_a), enforce_csrf_checks=True)
    body = {"email": "manager@alpha.test", "password": PASSWORD}
    res = client.post("/api/auth/login/", body, content_type="application/json")
    assert res.status_code == 403 and "CSRF" in res.json()["detail"]
    assert "sessionid" not in client.cookies
    client.get("/api/auth/csrf/")
    res = client.post("/api/auth/login/", body, content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32)
    assert res.status_code == 403
    res = client.post("/api/auth/login/", body, content_type="application/json", HTTP_X_CSRFTOKEN=_csrf(client))
    assert res.status_code == 200
    api = Client(HTTP_HOST=host_of(tenant_a), enforce_csrf_checks=True)
    res = api.post("/api/auth/token/", body, content_type="application/json")
    assert res.status_code == 200 and res.json()["token"]


@pytest.mark.parametrize("body", [{"email": "a" * 300, "password": "x"}, {"email": "owner@alpha.test",
                                                                          "password": "x" * 5000},
                                  {"email": ["owner@alpha.test"], "password": PASSWORD}, {"email": None},
                                  {"email": "owner@alpha.test\x00", "password": PASSWORD}])
def test_hostile_credentials_are_400_or_401(tenant_a, body):
    res = Client(HTTP_HOST=host_of(tenant_a)).post("/api/auth/token/", body, content_type="application/json")
    assert res.status_code in (400, 401) and res.json()["detail"]


# ---- changing one's own password -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "head", "manager"])
def test_everyone_changes_their_own_password_other_sessions_and_tokens_end(tenant_a, role):
    email = f"{role}@alpha.test"
    mine = _session(tenant_a, role)
    elsewhere = _session(tenant_a, role, ip="192.0.2.50")
    token = _token_login(tenant_a, email, PASSWORD).json()["token"]
    res = mine.post("/api/auth/password/", {"current_password": PASSWORD, "new_password": NEW},
                    content_type="application/json", HTTP_X_CSRFTOKEN=_csrf(mine))
    assert res.status_code == 200, res.content
    assert "token" not in res.json()
    assert mine.get("/api/auth/me/").status_code == 200            # this session goes on
    assert elsewhere.get("/api/auth/me/").status_code in (401, 403)  # the other one ended
    assert Client(HTTP_HOST=host_of(tenant_a)).get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {token}"
                                                   ).status_code == 401
    assert _token_login(tenant_a, email, PASSWORD).status_code == 401
    assert _token_login(tenant_a, email, NEW).status_code == 200


def test_password_change_with_a_token_returns_a_new_one(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    old = client._credentials["HTTP_AUTHORIZATION"]
    res = client.post("/api/auth/password/", {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert res.status_code == 200, res.content
    new = res.json()["token"]
    assert f"Token {new}" != old
    assert client.get("/api/auth/me/").status_code == 401
    assert client_for(tenant_a).get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200


@pytest.mark.parametrize("body,field", [
    ({"current_password": "wrong-one", "new_password": NEW}, "current_password"),
    ({"current_password": PASSWORD, "new_password": "12345678"}, "new_password"),   # numeric, common
    ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
    ({"current_password": PASSWORD, "new_password": "manager@alpha.test"}, "new_password"),  # like the e-mail
    ({"current_password": PASSWORD, "new_password": PASSWORD}, "new_password"),
    ({"current_password": PASSWORD}, "new_password"),
    ({"new_password": NEW}, "current_password"),
    ({"current_password": PASSWORD, "new_password": "x" * 2000}, "new_password"),
])
def test_bad_password_change_is_400_and_changes_nothing(tenant_a, client_for, body, field):
    client = client_for(tenant_a, "manager")
    res = client.post("/api/auth/password/", body, format="json")
    assert res.status_code == 400, res.content
    assert res.json()["detail"].startswith(field)
    assert _token_login(tenant_a, "manager@alpha.test", PASSWORD).status_code == 200


def test_validator_messages_follow_the_clients_language(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    body = {"current_password": PASSWORD, "new_password": "short"}
    en = client.post("/api/auth/password/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    ru = client.post("/api/auth/password/", body, format="json", HTTP_ACCEPT_LANGUAGE="ru")
    assert "too short" in en.json()["detail"] and "короткий" in ru.json()["detail"]


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_guessing_the_current_password_is_throttled(tenant_a, client_for):
    client = client_for(tenant_a, "head")
    for _ in range(2):
        assert client.post("/api/auth/password/", {"current_password": "guess", "new_password": NEW},
                           format="json").status_code == 400
    res = client.post("/api/auth/password/", {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert res.status_code == 429 and res["Retry-After"]


def test_password_change_needs_a_login_and_csrf(tenant_a, tenant_b, client_for):
    body = {"current_password": PASSWORD, "new_password": NEW}
    assert client_for(tenant_a).post("/api/auth/password/", body, format="json").status_code == 401
    header = client_for(tenant_a, "owner")._credentials["HTTP_AUTHORIZATION"]
    assert client_for(tenant_b).post("/api/auth/password/", body, format="json",
                                     HTTP_AUTHORIZATION=header).status_code == 401
    session = _session(tenant_a, "manager2")
    res = session.post("/api/auth/password/", body, content_type="application/json")  # no CSRF token
    assert res.status_code == 403
    assert _token_login(tenant_a, "manager2@alpha.test", PASSWORD).status_code == 200


# ---- resetting a team member's password ------------------------------------------------------------------

# actor → target → status (the role matrix: owner → heads and managers; head → managers; never self or peers)
RESET = {
    "owner": {"owner": 403, "head": 204, "head2": 204, "manager": 204},
    "head": {"owner": 403, "head": 403, "head2": 403, "manager": 204},
    "manager": {"owner": 403, "head": 403, "head2": 403, "manager": 403, "manager2": 403},
    None: {"owner": 401, "manager": 401},
}


@pytest.fixture
def head2(tenant_a):
    with tenant_context(tenant_a):
        return User.objects.create_user("head2@alpha.test", PASSWORD, role="head")


@pytest.mark.parametrize("actor,target,expected", [(a, t, s) for a, row in RESET.items() for t, s in row.items()])
def test_password_reset_role_matrix(tenant_a, client_for, head2, actor, target, expected):
    user = user_of(tenant_a, target)
    with tenant_context(tenant_a):
        old_token = Token.objects.get_or_create(user=user)[0].key
    res = client_for(tenant_a, actor).post(f"/api/users/{user.id}/password/", {"new_password": NEW}, format="json")
    assert res.status_code == expected, res.content
    with tenant_context(tenant_a):
        user.refresh_from_db()
        token_alive = Token.objects.filter(key=old_token).exists()
    if expected == 204:
        assert user.check_password(NEW) and not token_alive
        assert _token_login(tenant_a, user.email, NEW).status_code == 200
    else:
        assert user.check_password(PASSWORD) and token_alive


@pytest.mark.parametrize("actor", ["owner", "head"])
def test_password_reset_cannot_reach_another_tenant(tenant_a, tenant_b, client_for, actor):
    victim = user_of(tenant_b, "manager")
    client = client_for(tenant_a, actor)
    res = client.post(f"/api/users/{victim.id + 1000}/password/", {"new_password": NEW}, format="json")
    assert res.status_code == 404
    # tenant B's token means nothing on tenant A's host
    header = client_for(tenant_b, "owner")._credentials["HTTP_AUTHORIZATION"]
    manager_a = user_of(tenant_a, "manager")
    res = client_for(tenant_a).post(f"/api/users/{manager_a.id}/password/", {"new_password": NEW}, format="json",
                                    HTTP_AUTHORIZATION=header)
    assert res.status_code == 401
    with tenant_context(tenant_b):
        assert User.objects.get(pk=victim.pk).check_password(PASSWORD)
    with tenant_context(tenant_a):
        assert User.objects.get(pk=manager_a.pk).check_password(PASSWORD)


@pytest.mark.parametrize("body", [{"new_password": "12345678"}, {"new_password": ""}, {}, {"new_password": ["x"]}])
def test_password_reset_validates(tenant_a, client_for, body):
    manager = user_of(tenant_a, "manager")
    res = client_for(tenant_a, "owner").post(f"/api/users/{manager.id}/password/", body, format="json")
    assert res.status_code == 400 and res.json()["detail"].startswith("new_password")


def test_reset_ends_the_members_sessions_and_lifts_their_lock(tenant_a, client_for, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    member = _session(tenant_a, "manager2")
    for _ in range(2):
        _token_login(tenant_a, "manager2@alpha.test", "forgot-it")
    assert _token_login(tenant_a, "manager2@alpha.test", PASSWORD).status_code == 429
    manager2 = user_of(tenant_a, "manager2")
    res = client_for(tenant_a, "head").post(f"/api/users/{manager2.id}/password/", {"new_password": NEW},
                                            format="json")
    assert res.status_code == 204
    assert member.get("/api/auth/me/").status_code in (401, 403)
    assert _token_login(tenant_a, "manager2@alpha.test", NEW).status_code == 200


def test_patch_password_also_revokes_tokens(tenant_a, client_for):
    manager = user_of(tenant_a, "manager")
    member = client_for(tenant_a, "manager")
    res = client_for(tenant_a, "owner").patch(f"/api/users/{manager.id}/", {"password": NEW}, format="json")
    assert res.status_code == 200
    assert member.get("/api/auth/me/").status_code == 401
