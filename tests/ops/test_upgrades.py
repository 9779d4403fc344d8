"""Upgrades: a migration added since the base schema was made reaches the base before the next tenant is cloned
(provisioning stays a clone), and `migrate_tenants` migrates every schema in parallel with progress, reporting
the schemas that fail while the others go on."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from tenants.models import Tenant
from tenants.schema_clone import schema_missing_migrations
from tenants.services import tenant_provision

pytestmark = pytest.mark.live
BASE = settings.TENANT_BASE_SCHEMA
# A real migration of a tenant app: AddField followups.FollowUp.send_failures. "Not yet applied" is made by undoing it.
MIGRATION = ("followups", "0003_followup_send_failures")


def unapply(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("ALTER TABLE {}.followups_followup DROP COLUMN send_failures").format(sql.Identifier(schema))
        )
        cursor.execute(
            sql.SQL("DELETE FROM {}.django_migrations WHERE app = %s AND name = %s").format(sql.Identifier(schema)),
            list(MIGRATION),
        )


def has_migration(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'followups_followup' AND column_name = 'send_failures'",
            [schema],
        )
        column = cursor.fetchone() is not None
        cursor.execute(
            sql.SQL("SELECT 1 FROM {}.django_migrations WHERE app = %s AND name = %s").format(sql.Identifier(schema)),
            list(MIGRATION),
        )
        recorded = cursor.fetchone() is not None
    assert column == recorded, schema
    return column


def test_provisioning_brings_a_stale_base_schema_current_first(live_db):
    assert not schema_missing_migrations(BASE)
    unapply(BASE)
    assert schema_missing_migrations(BASE) == {MIGRATION}
    result = tenant_provision(
        slug="after-upgrade", name="After", owner_email="o@after.test", owner_password="Test-pass-123!"
    )
    connection.set_schema_to_public()
    assert has_migration(BASE) and not schema_missing_migrations(BASE)
    assert has_migration(result.tenant.schema_name)  # cloned from the migrated base: the new column is there
    # The clone plan followed the base: the next tenant gets the same structure.
    second = tenant_provision(
        slug="after-upgrade-2", name="After 2", owner_email="o@after2.test", owner_password="Test-pass-123!"
    )
    connection.set_schema_to_public()
    assert has_migration(second.tenant.schema_name)


def test_migrate_tenants_in_parallel_with_progress(live_tenant, live_db):
    others = [
        tenant_provision(
            slug=f"mig-{i}", name=f"M{i}", owner_email=f"o@mig{i}.test", owner_password="Test-pass-123!"
        ).tenant
        for i in range(3)
    ]
    connection.set_schema_to_public()
    tenants = [live_tenant, *others]
    for tenant in tenants:
        unapply(tenant.schema_name)
    out = StringIO()
    call_command("migrate_tenants", "--jobs", "2", "--skip-public", stdout=out)
    total = Tenant.objects.exclude(schema_name__in=["public", BASE]).count()
    text = out.getvalue()
    assert f"migrated {total}/{total} tenants, 0 failed" in text
    assert f"migrate_tenants: {total} tenant schemas with 2 processes" in text
    assert all(has_migration(t.schema_name) for t in tenants)


def test_a_failing_schema_is_reported_and_the_others_go_on(live_tenant, live_db):
    broken = tenant_provision(
        slug="mig-broken", name="B", owner_email="o@broken.test", owner_password="Test-pass-123!"
    ).tenant
    connection.set_schema_to_public()
    unapply(live_tenant.schema_name)
    # The column is there but the migration is not recorded: applying it fails ("already exists").
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DELETE FROM {}.django_migrations WHERE app = %s AND name = %s").format(
                sql.Identifier(broken.schema_name)
            ),
            list(MIGRATION),
        )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 schema\\(s\\) failed: mig_broken"):
        call_command("migrate_tenants", "--jobs", "2", "--skip-public", stdout=out, stderr=err)
    assert "mig_broken" in err.getvalue() and "already exists" in err.getvalue()
    assert has_migration(live_tenant.schema_name)
    # Repaired by hand (fake the migration), the next run is clean.
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("INSERT INTO {}.django_migrations (app, name, applied) VALUES (%s, %s, now())").format(
                sql.Identifier(broken.schema_name)
            ),
            list(MIGRATION),
        )
    call_command("migrate_tenants", "--jobs", "2", "--skip-public", stdout=StringIO())


def test_current_schemas_are_skipped(live_tenant, live_db):
    """Nothing to migrate: every schema is checked with one query and left alone (its migrations table unchanged)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT max(applied) FROM {}.django_migrations").format(sql.Identifier(live_tenant.schema_name))
        )
        before = cursor.fetchone()[0]
    out = StringIO()
    call_command("migrate_tenants", "--jobs", "2", "--skip-public", stdout=out)
    assert "0 failed" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT max(applied) FROM {}.django_migrations").format(sql.Identifier(live_tenant.schema_name))
        )
        assert cursor.fetchone()[0] == before
