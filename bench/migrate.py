"""Upgrading many tenants: one new migration (a real AddField of a tenant app) applied to every tenant schema by
`migrate_schemas --tenant` (one process, schema after schema) and by `migrate_tenants --jobs N` (N processes), in
the same run on the same database; plus what provisioning pays when the base schema is behind.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/migrate.py [--tenants 200] [--jobs 2 4]

"A new migration" is made by undoing followups 0003 (drop the column, forget the migration) in every schema before
each run, so both runs apply the same DDL to the same schemas.
"""

import argparse
import os
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from psycopg import sql  # noqa: E402

from tenants.models import Tenant  # noqa: E402
from tenants.schema_clone import base_schema_refresh, schema_missing_migrations  # noqa: E402

MIGRATION = ("followups", "0003_followup_send_failures")


def unapply(schemas: list[str]) -> None:
    with connection.cursor() as cursor:
        for schema in schemas:
            s = sql.Identifier(schema)
            cursor.execute(
                sql.SQL(
                    "ALTER TABLE {}.followups_followup DROP COLUMN IF EXISTS send_failures; "
                    "DELETE FROM {}.django_migrations WHERE app = %s AND name = %s"
                ).format(s, s),
                list(MIGRATION),
            )


def migrated(schemas: list[str]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT table_schema) FROM information_schema.columns WHERE table_schema = "
            "ANY(%s) AND table_name = 'followups_followup' AND column_name = 'send_failures'",
            [schemas],
        )
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--jobs", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    call_command("setup_platform", verbosity=0)
    base = settings.TENANT_BASE_SCHEMA
    tag = uuid.uuid4().hex[:5]
    started = time.perf_counter()
    for i in range(args.tenants):  # the schema step of provisioning (a clone of the base), no owner or domain
        Tenant(schema_name=f"bm_{tag}_{i}", slug=f"bm-{tag}-{i}", name="bench", webhook_key=uuid.uuid4().hex).save(
            verbosity=0
        )
        connection.set_schema_to_public()
    print(f"{args.tenants} tenant schemas cloned in {time.perf_counter() - started:.1f} s")
    schemas = list(Tenant.objects.exclude(schema_name__in=["public"]).values_list("schema_name", flat=True))
    n = len(schemas) - 1  # without the base schema

    unapply(schemas)
    started = time.perf_counter()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    sequential = time.perf_counter() - started
    connection.set_schema_to_public()
    assert migrated(schemas) == len(schemas), "sequential run incomplete"
    print(
        f"migrate_schemas --tenant (sequential): {n} tenants + base in {sequential:.1f} s "
        f"({sequential / len(schemas) * 1000:.0f} ms per schema)"
    )

    for jobs in args.jobs:
        unapply(schemas)
        out = StringIO()
        started = time.perf_counter()
        call_command("migrate_tenants", "--jobs", str(jobs), "--skip-public", stdout=out)
        parallel = time.perf_counter() - started
        connection.set_schema_to_public()
        assert migrated(schemas) == len(schemas), "parallel run incomplete"
        progress = [line for line in out.getvalue().splitlines() if line.startswith("migrated ")]
        print(
            f"migrate_tenants --jobs {jobs}: {parallel:.1f} s, {sequential / parallel:.2f}x the sequential run "
            f"(progress lines: {len(progress)}, last: {progress[-1] if progress else '-'})"
        )

    # An upgrade that brings no migration for the tenant schemas (every deploy runs migrate_tenants).
    started = time.perf_counter()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    noop_sequential = time.perf_counter() - started
    connection.set_schema_to_public()
    started = time.perf_counter()
    call_command("migrate_tenants", "--jobs", str(args.jobs[0]), "--skip-public", stdout=StringIO())
    noop_parallel = time.perf_counter() - started
    connection.set_schema_to_public()
    print(
        f"nothing to migrate: migrate_schemas --tenant {noop_sequential:.1f} s, migrate_tenants "
        f"{noop_parallel:.1f} s ({noop_sequential / noop_parallel:.1f}x)"
    )

    # Provisioning after a migration was added but before anyone migrated: the base catches up once, then clones.
    unapply([base])
    assert schema_missing_migrations(base)
    started = time.perf_counter()
    base_schema_refresh(base)
    refresh = time.perf_counter() - started
    connection.set_schema_to_public()
    started = time.perf_counter()
    Tenant(schema_name=f"bm_{tag}_after", slug=f"bm-{tag}-after", name="bench", webhook_key=uuid.uuid4().hex).save(
        verbosity=0
    )
    clone = time.perf_counter() - started
    connection.set_schema_to_public()
    print(
        f"stale base schema: migrated once in {refresh:.2f} s before the clone; the clone then {clone:.2f} s; "
        f"later provisionings check it with one query"
    )
    print(f"cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
