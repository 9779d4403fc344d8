"""Each provider's webhook URL has its own token: provisioning prints them, the global admin shows them (and
whether they open) and rotates one on request; migration 0002 carried existing tenants over."""
from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from tenants import config as tconfig
from tenants.models import Tenant, WebhookToken
from tenants.selectors import WEBHOOK_PROVIDERS
from tenants.services import tenant_config_get, tenant_config_import
from tests.platform import test_admin

PASSWORD = "Str0ng-pass-1"


admin_client = test_admin.admin_client  # a logged-in platform superuser


def tokens_of(tenant) -> dict[str, str]:
    return dict(WebhookToken.objects.filter(tenant=tenant).values_list("provider", "token"))


def test_provision_command_prints_one_url_per_provider_each_with_its_own_token(db, capsys):
    call_command("provision_tenant", "kappa", name="Kappa", owner_email="o@kappa.kz", owner_password=PASSWORD)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    tenant = Tenant.objects.get(slug="kappa")
    tokens = tokens_of(tenant)
    assert set(tokens) == set(WEBHOOK_PROVIDERS)
    assert out["webhooks"] == {p: f"http://localhost:8000/webhooks/{p}/{tokens[p]}/" for p in WEBHOOK_PROVIDERS}
    assert len(set(tokens.values())) == len(tokens) and out["webhook_key"] not in tokens.values()


def test_admin_shows_each_providers_url_and_whether_it_opens(admin_client, tenant_a):
    tenant_config_import(tenant_a, {"channels": {"chatflow": {"token": "cf", "instance_id": "i"}}})
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    for provider, token in tokens_of(tenant_a).items():
        assert f"/webhooks/{provider}/{token}/" in page
        assert f"/admin/tenants/tenant/{tenant_a.pk}/webhook-token/{provider}/rotate/" in page
    # whatsapp, telegram, instagram, wwebjs, amocrm, retell
    assert page.count("не настроен — URL отвечает 404") == 6


def test_a_provider_added_after_the_tenant_gets_its_url_from_the_admin(admin_client, tenant_a):
    """A tenant made before Instagram existed has no token for it: the admin offers to make its URL."""
    WebhookToken.objects.filter(tenant=tenant_a, provider="instagram").delete()
    create = f"/admin/tenants/tenant/{tenant_a.pk}/webhook-token/instagram/rotate/"
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert "Создать URL" in page and create in page
    assert admin_client.post(create).status_code == 302
    assert len(tokens_of(tenant_a)["instagram"]) >= 24


def test_admin_rotates_one_providers_token_after_confirmation(admin_client, tenant_a):
    before = tokens_of(tenant_a)
    url = f"/admin/tenants/tenant/{tenant_a.pk}/webhook-token/telegram/rotate/"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200 and before["telegram"] in confirm.content.decode()
    assert tokens_of(tenant_a) == before  # looking at the page changes nothing
    res = admin_client.post(url)
    assert res.status_code == 302 and res["Location"] == f"/admin/tenants/tenant/{tenant_a.pk}/change/"
    after = tokens_of(tenant_a)
    assert after["telegram"] != before["telegram"] and len(after["telegram"]) >= 24
    assert {p: t for p, t in after.items() if p != "telegram"} == {p: t for p, t in before.items() if p != "telegram"}
    assert admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/webhook-token/viber/rotate/").status_code == 404


def test_only_the_platform_superuser_rotates(db, tenant_a):
    User.objects.create_user("staff@platform.kz", "Staff-pass-2026", is_staff=True)
    client = Client(HTTP_HOST="localhost")
    client.login(email="staff@platform.kz", password="Staff-pass-2026")
    before = tokens_of(tenant_a)
    res = client.post(f"/admin/tenants/tenant/{tenant_a.pk}/webhook-token/chatflow/rotate/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]
    assert tokens_of(tenant_a) == before


def test_migration_keeps_configured_providers_on_the_old_key_and_gives_the_rest_fresh_tokens(db, tenant_a, tenant_b):
    """Existing tenants: a provider already in use keeps its registered URL working (the old webhook_key,
    flagged legacy); an unconfigured one gets a fresh token. Stored `sandbox` outbound becomes `auto`."""
    migration = importlib.import_module("tenants.migrations.0002_webhook_tokens")
    tenant_config_import(tenant_a, {"channels": {"chatflow": {"token": "cf", "instance_id": "i"}},
                                    "amocrm": {"base_url": "https://buildco.amocrm.ru"}})
    Tenant.objects.filter(pk=tenant_a.pk).update(config={**Tenant.objects.get(pk=tenant_a.pk).config,
                                                         "outbound_channel": "sandbox"})
    WebhookToken.objects.all().delete()  # as before the migration (rolled back with the test)
    migration.give_each_provider_a_token(apps, None)
    migration.greet_over_whatsapp_by_default(apps, None)
    rows = {t.provider: t for t in WebhookToken.objects.filter(tenant=tenant_a)}
    assert {p for p, t in rows.items() if t.legacy} == {"chatflow", "amocrm"}
    assert rows["chatflow"].token == rows["amocrm"].token == tenant_a.webhook_key
    assert tenant_a.webhook_key not in (rows["whatsapp"].token, rows["telegram"].token)
    assert not WebhookToken.objects.filter(tenant=tenant_b, legacy=True).exists()
    assert tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))["outbound_channel"] == "auto"
    # The old ChatFlow URL still delivers; Telegram's old URL (never configured) does not open.
    web = Client(HTTP_HOST="localhost")
    body = {"messageType": "text", "message": "hi", "metadata": {"remoteJid": "77011112233@s.whatsapp.net",
                                                                  "messageId": "LEGACY-1"}}
    assert web.post(f"/webhooks/chatflow/{tenant_a.webhook_key}/", body, content_type="application/json"
                    ).status_code == 200
    assert web.post(f"/webhooks/telegram/{tenant_a.webhook_key}/", {"update_id": 1},
                    content_type="application/json").status_code == 404
    # The admin asks to rotate the legacy token.
    User.objects.create_superuser("root@platform.kz", "Root-pass-2026")
    web.login(email="root@platform.kz", password="Root-pass-2026")
    page = web.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert page.count("старый общий ключ") == 2


def test_greeting_template_and_auto_outbound_are_valid_settings(db):
    checked = tconfig.validate({"outbound_channel": "auto", "channels": {"whatsapp_cloud": {
        "greeting_template": {"name": "hello_lead", "language": "ru"}}}})
    assert checked["channels"]["whatsapp_cloud"]["greeting_template"]["name"] == "hello_lead"
    assert tconfig.default_config()["outbound_channel"] == "auto"
    with pytest.raises(tconfig.ConfigError) as err:
        tconfig.validate({"channels": {"whatsapp_cloud": {"greeting_template": {"language": "ru"}}}})
    assert err.value.key == "channels.whatsapp_cloud.greeting_template.name"
    with pytest.raises(tconfig.ConfigError):
        tconfig.validate({"outbound_channel": "fax"})
