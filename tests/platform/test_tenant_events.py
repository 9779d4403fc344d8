"""tenant.provisioned: provisioning tells the apps that own a new tenant's first rows (accounts: the owner, leads: the
default stages) inside the new schema and its transaction — with the owner's password hashed, never in clear — and a
listener that fails undoes the whole tenant."""
from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from core import events
from leads.models import Stage
from tenants.models import Domain, Tenant
from tenants.services import tenant_provision

PASSWORD = "Str0ng-pass-1"


@pytest.fixture
def extra_listener(monkeypatch):
    """add(func): one more in-transaction listener of tenant.provisioned for this test (after the apps' own)."""
    def add(func):
        monkeypatch.setitem(events._listeners, "tenant.provisioned",
                            [*events.listeners_of("tenant.provisioned"),
                             events.Listener("tenant.provisioned", func, on_commit=False)])
    return add


def test_the_payload_carries_a_password_hash_and_the_owner_and_stages_are_made(db, extra_listener):
    seen: list[dict] = []
    extra_listener(lambda **payload: seen.append(payload))
    tenant = tenant_provision(slug="eps-co", name="Eps", owner_email="Boss@Eps.kz", owner_password=PASSWORD,
                              owner_name="Босс").tenant
    (payload,) = seen
    assert set(payload) == {"tenant_id", "owner_email", "owner_name", "owner_password_hash"}
    assert payload["tenant_id"] == tenant.pk
    assert PASSWORD not in repr(payload) and check_password(PASSWORD, payload["owner_password_hash"])
    with tenant_context(tenant):
        owner = User.objects.get()
        assert (owner.email, owner.role, owner.full_name) == ("boss@eps.kz", "owner", "Босс")
        assert owner.check_password(PASSWORD)
        assert Stage.objects.count() == 7


@pytest.mark.live
def test_a_failing_listener_undoes_the_whole_tenant(live_db, extra_listener):
    def refuse(**payload):
        assert User.objects.filter(email="o@zeta.kz").exists()  # the owner is made, in this same transaction
        raise RuntimeError("a listener failed")

    extra_listener(refuse)
    with pytest.raises(RuntimeError, match="a listener failed"):
        tenant_provision(slug="zeta-co", name="Zeta", owner_email="o@zeta.kz", owner_password=PASSWORD)
    assert not Tenant.objects.filter(slug="zeta-co").exists()
    assert not Domain.objects.filter(domain__startswith="zeta-co.").exists()
    assert not schema_exists("zeta_co")
