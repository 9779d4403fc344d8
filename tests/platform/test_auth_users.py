import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.conftest import PASSWORD, host_of, user_of


def test_token_login_returns_token_and_user(client_for, tenant_a):
    res = client_for(tenant_a).post("/api/auth/token/", {"email": "Owner@alpha.test", "password": PASSWORD},
                                    format="json")
    assert res.status_code == 200, res.content
    assert res.json()["user"]["role"] == "owner"
    token = res.json()["token"]
    me = client_for(tenant_a).get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200 and me.json()["tenant"]["slug"] == "alpha"


def test_wrong_password_is_401_with_detail(client_for, tenant_a):
    res = client_for(tenant_a).post("/api/auth/token/", {"email": "owner@alpha.test", "password": "nope"},
                                    format="json")
    assert res.status_code == 401 and "detail" in res.json()


def test_missing_or_wrong_token_is_401(client_for, tenant_a):
    assert client_for(tenant_a).get("/api/users/").status_code == 401
    res = client_for(tenant_a).get("/api/users/", HTTP_AUTHORIZATION="Token deadbeef")
    assert res.status_code == 401 and res.json()["detail"]


def test_token_of_tenant_a_is_401_on_tenant_b(client_for, tenant_a, tenant_b):
    owner_a = client_for(tenant_a, "owner")
    header = owner_a._credentials["HTTP_AUTHORIZATION"]
    assert client_for(tenant_b).get("/api/auth/me/", HTTP_AUTHORIZATION=header).status_code == 401
    assert client_for(tenant_b).get("/api/users/", HTTP_AUTHORIZATION=header).status_code == 401


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_failed_logins_are_throttled(client_for, tenant_a):
    client = client_for(tenant_a)
    for _ in range(3):
        assert client.post("/api/auth/token/", {"email": "head@alpha.test", "password": "bad"},
                           format="json").status_code == 401
    res = client.post("/api/auth/token/", {"email": "head@alpha.test", "password": PASSWORD}, format="json")
    assert res.status_code == 429 and "detail" in res.json()


def test_session_login_me_and_logout(tenant_a):
    from django.test import Client

    client = Client(HTTP_HOST=host_of(tenant_a), enforce_csrf_checks=True)
    client.get("/api/auth/csrf/")
    csrf = client.cookies["csrftoken"].value
    res = client.post("/api/auth/login/", {"email": "manager@alpha.test", "password": PASSWORD},
                      content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert res.status_code == 200, res.content
    assert client.get("/api/auth/me/").json()["role"] == "manager"
    csrf = client.cookies["csrftoken"].value
    assert client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/auth/me/").status_code in (401, 403)


def test_deactivated_user_gets_a_clear_403_and_loses_tokens(client_for, tenant_a):
    owner = client_for(tenant_a, "owner")
    manager_client = client_for(tenant_a, "manager")
    manager = user_of(tenant_a, "manager")
    assert manager_client.get("/api/auth/me/").status_code == 200
    res = owner.patch(f"/api/users/{manager.id}/", {"is_active": False}, format="json")
    assert res.status_code == 200 and res.json()["is_active"] is False
    with tenant_context(tenant_a):
        assert not Token.objects.filter(user=manager).exists()
    assert manager_client.get("/api/auth/me/").status_code == 401
    res = client_for(tenant_a).post("/api/auth/token/", {"email": "manager@alpha.test", "password": PASSWORD},
                                    format="json")
    assert res.status_code == 403 and "отключена" in res.json()["detail"]


# ---- the role matrix of /api/users/ -------------------------------------------------------------------
# actor → (list, create head, create manager, patch head, patch manager, patch owner)
MATRIX = {
    "owner": (200, 201, 201, 200, 200, 403),
    "head": (200, 403, 201, 403, 200, 403),
    "manager": (403, 403, 403, 403, 403, 403),
    None: (401, 401, 401, 401, 401, 401),
}


@pytest.mark.parametrize("actor", ["owner", "head", "manager", None])
def test_users_role_matrix(client_for, tenant_a, actor):
    expected = MATRIX[actor]
    client = client_for(tenant_a, actor)
    head, manager, owner = (user_of(tenant_a, r) for r in ("head", "manager", "owner"))
    got = (
        client.get("/api/users/").status_code,
        client.post("/api/users/", {"email": "newhead@alpha.test", "password": "Very-strong-pass-7", "role": "head"},
                    format="json").status_code,
        client.post("/api/users/", {"email": "newman@alpha.test", "password": "Very-strong-pass-7",
                                    "role": "manager", "full_name": "New"}, format="json").status_code,
        client.patch(f"/api/users/{head.id}/", {"full_name": "H"}, format="json").status_code,
        client.patch(f"/api/users/{manager.id}/", {"full_name": "M"}, format="json").status_code,
        client.patch(f"/api/users/{owner.id}/", {"full_name": "O"}, format="json").status_code,
    )
    assert got == expected


@pytest.mark.parametrize("actor", ["owner", "head", "manager"])
def test_users_of_another_tenant_are_invisible(client_for, tenant_a, tenant_b, actor):
    client = client_for(tenant_a, actor)
    other = user_of(tenant_b, "manager")
    same_id_here = user_of(tenant_a, "manager")
    listing = client.get("/api/users/")
    if listing.status_code == 200:
        assert all(u["email"].endswith("@alpha.test") for u in listing.json())
    # Ids are per schema: tenant B's user id resolves (if at all) to tenant A's own row, never B's.
    res = client.patch(f"/api/users/{other.id + 1000}/", {"full_name": "x"}, format="json")
    assert res.status_code in (403, 404)
    with tenant_context(tenant_b):
        assert User.objects.get(pk=other.pk).full_name == "Manager beta"
    assert same_id_here.email.endswith("@alpha.test")


def test_head_cannot_promote_a_manager_to_head(client_for, tenant_a):
    manager = user_of(tenant_a, "manager")
    res = client_for(tenant_a, "head").patch(f"/api/users/{manager.id}/", {"role": "head"}, format="json")
    assert res.status_code == 403


def test_created_password_must_pass_validators(client_for, tenant_a):
    res = client_for(tenant_a, "owner").post("/api/users/", {"email": "weak@alpha.test", "password": "12345678",
                                                             "role": "manager"}, format="json")
    assert res.status_code == 400 and res.json()["detail"]


def test_duplicate_email_is_400(client_for, tenant_a):
    res = client_for(tenant_a, "owner").post("/api/users/", {"email": "manager@alpha.test",
                                                             "password": "Very-strong-pass-7", "role": "manager"},
                                             format="json")
    assert res.status_code == 400


def test_unknown_tenant_host_is_404_not_500(db):
    from django.test import Client

    res = Client(HTTP_HOST="nobody.localhost").get("/api/users/")
    assert res.status_code == 404


def test_openapi_schema_is_served(client_for, tenant_a):
    res = client_for(tenant_a, "owner").get("/api/schema/")
    assert res.status_code == 200 and b"/api/auth/token/" in res.content
