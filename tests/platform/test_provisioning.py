import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from leads.models import Stage
from tenants.models import Domain, Tenant
from tenants.services import ProvisioningError, tenant_provision

PASSWORD = "Str0ng-pass-1"


def test_provision_creates_schema_domain_owner_stages_and_settings(db):
    result = tenant_provision(slug="gamma-co", name="Gamma", owner_email="Boss@Gamma.kz", owner_password=PASSWORD,
                              timezone_name="Europe/Moscow")
    tenant = result.tenant
    assert tenant.schema_name == "gamma_co"
    assert schema_exists("gamma_co")
    assert Domain.objects.get(tenant=tenant).domain == "gamma-co.localhost"
    assert len(tenant.webhook_key) >= 24
    assert tenant.config["timezone"] == "Europe/Moscow"
    with tenant_context(tenant):
        owner = User.objects.get()
        assert (owner.email, owner.role) == ("boss@gamma.kz", "owner")
        assert owner.check_password(PASSWORD)
        kinds = list(Stage.objects.values_list("kind", flat=True))
    assert kinds == ["new", "in_dialog", "requests_call", "incomplete", "complete", "won", "lost"]
    payload = result.as_dict()
    assert payload["slug"] == "gamma-co" and payload["domain"] == "gamma-co.localhost"
    # one URL per provider, each with its own token (none is the tenant's webhook_key)
    tokens = {p: url.rstrip("/").rsplit("/", 1)[1] for p, url in payload["webhooks"].items()}
    assert {p: url.rsplit("/", 3)[1] for p, url in payload["webhooks"].items()} == {
        p: p for p in ("chatflow", "whatsapp", "telegram", "instagram", "wwebjs", "amocrm", "retell")}
    assert len(set(tokens.values())) == 7 and tenant.webhook_key not in tokens.values()
    assert all(len(t) >= 24 for t in tokens.values())


def test_tenant_users_live_in_their_own_schema(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        assert User.objects.filter(email="owner@alpha.test").exists()
        assert not User.objects.filter(email="owner@beta.test").exists()
    connection.set_schema_to_public()
    assert not User.objects.filter(email="owner@alpha.test").exists()


@pytest.mark.parametrize("slug, reason", [
    ("Bad_Slug", "invalid slug"), ("1abc", "invalid slug"), ("a", "invalid slug"), ("public", "reserved"),
    ("www", "reserved"), ("admin", "reserved"), ("alpha", "taken"), ("x" * 42, "invalid slug"),
])
def test_bad_or_taken_slug_is_refused_and_nothing_is_created(db, slug, reason):
    before = Tenant.objects.count(), Domain.objects.count()
    with pytest.raises(ProvisioningError, match=reason):
        tenant_provision(slug=slug, name="X", owner_email="o@x.kz", owner_password=PASSWORD)
    assert (Tenant.objects.count(), Domain.objects.count()) == before


def test_weak_owner_password_is_refused_before_anything_is_made(db):
    with pytest.raises(ProvisioningError, match="password"):
        tenant_provision(slug="weakling", name="W", owner_email="o@w.kz", owner_password="123")
    assert not Tenant.objects.filter(slug="weakling").exists()
    assert not schema_exists("weakling")


def test_provision_command_prints_json_and_exits_1_on_a_taken_slug(db, capsys):
    call_command("provision_tenant", "delta", name="Delta", owner_email="o@delta.kz", owner_password=PASSWORD)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"slug", "domain", "webhook_key", "webhooks"}
    assert set(out["webhooks"]) >= {"chatflow", "whatsapp", "telegram", "instagram", "wwebjs", "amocrm", "retell"}
    with pytest.raises(CommandError, match="taken"):
        call_command("provision_tenant", "delta", name="Delta", owner_email="o@delta.kz", owner_password=PASSWORD)


def test_provision_command_exit_code_is_1_with_one_line(live_db):
    proc = subprocess.run(
        [sys.executable, "manage.py", "provision_tenant", "public", "--name", "x", "--owner-email", "a@b.kz",
         "--owner-password", PASSWORD],
        capture_output=True, text=True, env=_subprocess_env(),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["CommandError: slug 'public' is reserved"]


def _subprocess_env() -> dict:
    import os

    from tests.conftest import database_url

    return {**os.environ, "DATABASE_URL": database_url()}


CATALOG = """
SELECT 'col', c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text
       || ':' || a.attidentity::text
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(s)s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'idx', replace(pg_get_indexdef(i.indexrelid), %(s)s || '.', '')
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(s)s
UNION ALL
SELECT 'con', c.relname || ':' || k.contype::text || ':' || replace(pg_get_constraintdef(k.oid), %(s)s || '.', '')
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(s)s
"""


def _normalised(kind: str, text: str) -> tuple:
    # PostgreSQL may print a re-parsed partial-index predicate with casts in other places: compare the
    # definitions without casts, brackets and spaces.
    import re

    if kind == "idx":
        text = re.sub(r"::[a-z ]+(\[\])?|[()\[\] ]", "", text)
    return kind, text


def _catalog(schema: str) -> set:
    with connection.cursor() as cursor:
        cursor.execute(CATALOG, {"s": schema})
        return {_normalised(kind, text) for kind, text in cursor.fetchall()}


def test_cloned_schema_matches_the_migrated_base_schema(tenant_a):
    base, clone = _catalog("tenant_base"), _catalog(tenant_a.schema_name)
    assert len(base) > 100
    assert base == clone


def test_cloned_schema_has_migration_history_and_working_sequences(tenant_a):
    from django.db.migrations.recorder import MigrationRecorder

    with tenant_context(tenant_a):
        applied = MigrationRecorder(connection).applied_migrations()
        assert ("leads", "0001_initial") in applied and ("auth", "0001_initial") in applied
        stage = Stage.objects.create(name="X", kind="custom", position=99)
        assert stage.pk > max(Stage.objects.exclude(pk=stage.pk).values_list("pk", flat=True))


def test_an_owner_provisioned_without_a_name_is_not_named_after_the_role(db):
    """The header showed "Владелец · Владелец" (issue 16): no name stays blank, and the PWA shows the e-mail."""
    named = tenant_provision(slug="named-co", name="Named", owner_email="boss@named.kz", owner_password=PASSWORD,
                             owner_name="  Айгуль Сеитова ")
    nameless = tenant_provision(slug="nameless-co", name="Nameless", owner_email="boss@nameless.kz",
                                owner_password=PASSWORD)
    with tenant_context(named.tenant):
        assert User.objects.get().full_name == "Айгуль Сеитова"
    with tenant_context(nameless.tenant):
        owner = User.objects.get()
        assert owner.full_name == "" and str(owner) == "boss@nameless.kz"


def test_the_migration_unnames_owners_named_after_the_role_only(tenant_a):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0002_owner_default_name")
    with tenant_context(tenant_a):
        owner = User.objects.filter(role="owner").first()
        User.objects.filter(pk=owner.pk).update(full_name="Владелец")
        User.objects.exclude(pk=owner.pk).filter(role="manager").update(full_name="Владелец")
        migration.blank_role_word_names(apps, None)
        assert User.objects.get(pk=owner.pk).full_name == ""
        assert User.objects.filter(role="manager", full_name="Владелец").exists()
