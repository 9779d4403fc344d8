"""The global admin on the platform host: superusers only; creates tenants; edits every setting; health."""
import json

import pytest
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from tenants.models import Tenant, TenantHealth
from tenants.services import health_record, tenant_config_get
from tests.conftest import PASSWORD, host_of, webhook_path


@pytest.fixture
def admin_client(db):
    User.objects.create_superuser("root@platform.kz", "Root-pass-2026")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="root@platform.kz", password="Root-pass-2026")
    return client


def _change_form(admin_client, tenant) -> dict:
    """The change form's current values, as the browser would post them back."""
    from tenants.admin import CONFIG_FIELDS, TenantConfigForm

    form = TenantConfigForm(instance=tenant)
    data = {"name": tenant.name, "is_active": "on", "domains-TOTAL_FORMS": "0", "domains-INITIAL_FORMS": "0",
            "domains-MIN_NUM_FORMS": "0", "domains-MAX_NUM_FORMS": "1000"}
    for name, _path, kind, *_ in CONFIG_FIELDS:
        value = form.fields[name].initial
        if kind == "bool":
            if value:
                data[name] = "on"
        elif kind == "json":  # the structured editors' value, posted whole as JSON
            data[name] = json.dumps(value if value is not None else [], ensure_ascii=False)
        elif value is not None and kind != "secret":
            data[name] = value
    return data


def test_superuser_sees_tenants_with_health(admin_client, tenant_a):
    health_record(tenant_id=tenant_a.id, inbound_provider="chatflow")
    health_record(tenant_id=tenant_a.id, error="send chatflow: 502 Bad Gateway", source="chatflow")
    res = admin_client.get("/admin/tenants/tenant/")
    assert res.status_code == 200
    body = res.content.decode()
    assert "alpha" in body and "beta" in body and "tenant-base" not in body
    assert "502 Bad Gateway" in body
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert "Последний входящий вебхук" in page and "chatflow" in page
    assert webhook_path(tenant_a, "chatflow") in page and webhook_path(tenant_a, "amocrm") in page


def test_admin_creates_a_tenant_by_provisioning_it(admin_client):
    res = admin_client.post("/admin/tenants/tenant/add/", {
        "slug": "omega", "name": "Omega Build", "owner_email": "boss@omega.kz", "owner_password": "Omega-pass-2026",
        "timezone": "Asia/Almaty", "preset": "generic_b2b",
    })
    assert res.status_code == 302, res.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="omega")
    assert schema_exists("omega") and tenant.domains.get().domain == "omega.localhost"
    assert tenant_config_get(tenant)["qualification"][0]["key"] == "company_size"
    with tenant_context(tenant):
        assert User.objects.get().role == "owner"
    assert TenantHealth.objects.filter(tenant=tenant).exists()


def test_admin_add_with_a_taken_slug_shows_an_error_and_creates_nothing(admin_client, tenant_a):
    count = Tenant.objects.count()
    res = admin_client.post("/admin/tenants/tenant/add/", {
        "slug": "alpha", "name": "Dup", "owner_email": "x@x.kz", "owner_password": "Omega-pass-2026",
        "timezone": "Asia/Almaty", "preset": "construction",
    })
    assert res.status_code == 200
    assert Tenant.objects.count() == count


def test_admin_edits_settings_and_keeps_secrets_encrypted_and_masked(admin_client, tenant_a):
    data = _change_form(admin_client, tenant_a)
    data.update(ai_provider="openai", ai_model="gpt-4o-mini", ai_api_key="sk-admin-secret", quiet_start="22:00",
                chatflow_api_url="https://app.chatflow.kz/api/v1", chatflow_token="cf-admin-token",
                followup_steps='[{"after_minutes": 10, "text": "Актуально?"}]')
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", data)
    assert res.status_code == 302, res.content.decode()[:3000]
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    config = tenant_config_get(tenant)
    assert config["ai"]["provider"] == "openai" and config["ai"]["api_key"] == "sk-admin-secret"
    assert config["followups"]["quiet_hours"]["start"] == "22:00"
    assert config["followups"]["steps"] == [{"after_minutes": 10, "text": "Актуально?"}]
    assert "sk-admin-secret" not in str(tenant.config) and "cf-admin-token" not in str(tenant.config)
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert "sk-admin-secret" not in page and "cf-admin-token" not in page
    # Saving again with the secret fields left empty keeps the stored secrets.
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", _change_form(admin_client, tenant))
    assert res.status_code == 302
    assert tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))["ai"]["api_key"] == "sk-admin-secret"


def test_admin_rejects_a_bad_setting_and_changes_nothing(admin_client, tenant_a):
    before = Tenant.objects.get(pk=tenant_a.pk).config
    data = _change_form(admin_client, tenant_a)
    data["quiet_start"] = "25:61"
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", data)
    assert res.status_code == 200 and "HH:MM" in res.content.decode()
    data = _change_form(admin_client, tenant_a)
    data["qualification"] = "[{not json"
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", data)
    assert res.status_code == 200 and "JSON" in res.content.decode()
    assert Tenant.objects.get(pk=tenant_a.pk).config == before


def test_tenant_users_cannot_use_the_global_admin(tenant_a):
    # No admin on tenant hosts at all.
    client = Client(HTTP_HOST=host_of(tenant_a))
    assert client.get("/admin/").status_code == 404
    # On the platform host, tenant credentials do not exist (users live in their tenant's schema).
    from django.db import connection

    connection.set_schema_to_public()  # where platform-host requests authenticate
    platform = Client(HTTP_HOST="localhost")
    assert not platform.login(email="owner@alpha.test", password=PASSWORD)
    res = platform.post("/admin/login/", {"username": "owner@alpha.test", "password": PASSWORD})
    assert res.status_code == 200 and "_auth_user_id" not in platform.session


def test_staff_without_superuser_is_refused(db):
    User.objects.create_user("staff@platform.kz", "Staff-pass-2026", is_staff=True)
    client = Client(HTTP_HOST="localhost")
    client.login(email="staff@platform.kz", password="Staff-pass-2026")
    res = client.get("/admin/tenants/tenant/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]
