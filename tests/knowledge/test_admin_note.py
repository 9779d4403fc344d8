"""The global admin says which AI settings the offline brain uses and which only the LLM reads, and edits the
persona (issue 14); the config rejects an unknown persona gender."""

import pytest
from django.test import Client

from accounts.models import User
from tenants.config import ConfigError, validate
from tenants.services import tenant_config_get
from tests.platform.test_admin import _change_form


@pytest.fixture
def admin_client(db):
    User.objects.create_superuser("root@platform.kz", "Root-pass-2026")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="root@platform.kz", password="Root-pass-2026")
    return client


def test_ai_settings_say_which_brain_reads_them(admin_client, tenant_a):
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert "Офлайн-мозг (по умолчанию, без API-ключа) читает" in page
    assert "Только для LLM (мозг openai); встроенный офлайн-мозг это поле не читает." in page
    assert "Читают оба мозга" in page


def test_admin_sets_the_persona(admin_client, tenant_a):
    data = _change_form(admin_client, tenant_a)
    data.update(ai_persona_name="Арман", ai_persona_gender="m")
    res = admin_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", data)
    assert res.status_code == 302, res.content.decode()[:2000]
    tenant_a.refresh_from_db()
    ai = tenant_config_get(tenant_a)["ai"]
    assert (ai["persona_name"], ai["persona_gender"]) == ("Арман", "m")


def test_persona_gender_is_validated():
    assert validate({"ai": {"persona_name": "Алия", "persona_gender": "f"}})["ai"]["persona_gender"] == "f"
    with pytest.raises(ConfigError) as err:
        validate({"ai": {"persona_gender": "x"}})
    assert "ai.persona_gender" in str(err.value)
