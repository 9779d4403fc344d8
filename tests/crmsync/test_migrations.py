"""AmoLeadLink moved from integrations to crmsync without touching its table (`integrations_amoleadlink`): a schema
migrated before the move keeps its rows through `migrate_schemas`, provisioning's clone of the base schema carries the
new migrations, and a fresh `setup_platform` + `provision_tenant` builds it."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import tenant_context

from crmsync.models import AmoLeadLink
from leads.services import SYSTEM, lead_create

ROOT = Path(__file__).resolve().parents[2]
MOVED = {("integrations", "0002_amoleadlink_moved_to_crmsync"), ("crmsync", "0001_initial")}


def link_tables(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                       "AND table_name LIKE '%%amoleadlink%%'", [schema])
        return [row[0] for row in cursor.fetchall()]


def test_the_model_keeps_its_table():
    assert AmoLeadLink._meta.db_table == "integrations_amoleadlink"
    assert AmoLeadLink._meta.app_label == "crmsync"


def test_a_cloned_tenant_has_the_table_and_the_moves_migrations(tenant_a):
    with tenant_context(tenant_a):
        assert MOVED <= set(MigrationRecorder(connection).applied_migrations())
        lead = lead_create(actor=SYSTEM, name="Amo", phone="77010000001", source="amocrm")
        AmoLeadLink.objects.create(lead=lead, account_id=1, amo_lead_id=2)
        assert list(lead.amo_links.values_list("amo_lead_id", flat=True)) == [2]
    assert link_tables(tenant_a.schema_name) == ["integrations_amoleadlink"]


@pytest.mark.live
def test_migrate_schemas_takes_a_schema_from_before_the_move_with_its_rows(live_tenant):
    schema = live_tenant.schema_name
    with tenant_context(live_tenant):
        lead = lead_create(actor=SYSTEM, name="Amo", phone="77010000002", source="amocrm")
        AmoLeadLink.objects.create(lead=lead, account_id=30000001, amo_lead_id=4101)
    # Back to where every tenant was before the move: integrations 0001 holds the model, crmsync is not migrated.
    call_command("migrate_schemas", "crmsync", "zero", schema_name=schema, tenant=True, interactive=False,
                 verbosity=0)
    call_command("migrate_schemas", "integrations", "0001", schema_name=schema, tenant=True, interactive=False,
                 verbosity=0)
    with tenant_context(live_tenant):
        applied = set(MigrationRecorder(connection).applied_migrations())
    assert not MOVED & applied and ("integrations", "0001_initial") in applied
    assert link_tables(schema) == ["integrations_amoleadlink"]  # state-only steps: the table never moved

    call_command("migrate_schemas", schema_name=schema, tenant=True, interactive=False, verbosity=0)
    with tenant_context(live_tenant):
        assert MOVED <= set(MigrationRecorder(connection).applied_migrations())
        link = AmoLeadLink.objects.select_related("lead").get()
        assert (link.lead.pk, link.account_id, link.amo_lead_id) == (lead.pk, 30000001, 4101)


@pytest.mark.live
def test_a_fresh_setup_platform_and_provisioning_build_the_table(live_db):
    """On a new, empty database, as `make run` does: setup_platform, then provision_tenant (the base schema's clone)."""
    db = settings.DATABASES["default"]
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    admin = {"host": db["HOST"], "user": db["USER"], "password": db.get("PASSWORD") or None,
             "port": db.get("PORT") or None, "dbname": "postgres", "autocommit": True}
    admin = {k: v for k, v in admin.items() if v is not None}
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        host = db["HOST"]
        url = (f"postgres://{db['USER']}@/{name}?host={host}" if host.startswith("/") else
               f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{db['PORT'] or 5432}/{name}")
        env = {**os.environ, "DATABASE_URL": url, "DB_POOL": "false"}
        for command in (["setup_platform"], ["provision_tenant", "fresh-co", "--name", "Fresh",
                                             "--owner-email", "o@fresh.kz", "--owner-password", "Str0ng-pass-1"]):
            proc = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr[-3000:]
        with psycopg.connect(**{**admin, "dbname": name}) as conn:
            for schema in ("tenant_base", "fresh_co"):
                tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                      "AND table_name LIKE '%%amoleadlink%%'", [schema]).fetchall()
                assert tables == [("integrations_amoleadlink",)], schema
                applied = set(conn.execute(f'SELECT app, name FROM "{schema}".django_migrations').fetchall())
                assert MOVED <= applied, schema
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
