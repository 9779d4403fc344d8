"""Seconds to provision one tenant by cloning the migrated base schema, against a plain `migrate_schemas`
of a new schema, measured in the same run on the same database.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/provision.py [--tenants 5]

Target (issue 2): provisioning under 1.5 s per tenant here; the schema step at least 5x faster than migrating.
Provisioning also hashes the owner's password (PBKDF2, the same cost on either path), so the ratio is
printed for the schema step and for the whole provisioning.
"""
import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

from tenants.models import Tenant  # noqa: E402
from tenants.services import platform_setup, tenant_provision  # noqa: E402


def _schema_seconds(tag: str, i: int, *, clone: bool) -> float:
    tenant = Tenant(schema_name=f"bench_{'c' if clone else 'm'}_{tag}_{i}", slug=f"b-{'c' if clone else 'm'}-{tag}-{i}",
                    name="bench", webhook_key=uuid.uuid4().hex, is_active=False)
    started = time.perf_counter()
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=clone):
        tenant.save(verbosity=0)
    elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return elapsed


def _provision_seconds(tag: str, i: int, *, clone: bool) -> float:
    started = time.perf_counter()
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=clone):
        tenant_provision(slug=f"p-{'c' if clone else 'm'}-{tag}-{i}", name=f"Bench {i}", owner_email=f"o{i}@bench.kz",
                         owner_password="Bench-pass-2026")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    platform_setup()
    tag = uuid.uuid4().hex[:6]
    n = args.tenants
    schema_clone = [_schema_seconds(tag, i, clone=True) for i in range(n)]
    schema_migrate = [_schema_seconds(tag, i, clone=False) for i in range(n)]
    full_clone = [_provision_seconds(tag, i, clone=True) for i in range(n)]
    full_migrate = [_provision_seconds(tag, i, clone=False) for i in range(max(2, n // 2))]
    sc, sm = statistics.median(schema_clone), statistics.median(schema_migrate)
    fc, fm = statistics.median(full_clone), statistics.median(full_migrate)
    print(f"schema step:  clone median {sc * 1000:.0f} ms | migrate_schemas median {sm * 1000:.0f} ms | "
          f"ratio {sm / sc:.1f}x")
    print(f"provisioning: clone path median {fc:.3f} s (max {max(full_clone):.3f} s) | migrate path median "
          f"{fm:.3f} s | ratio {fm / fc:.1f}x")
    print(f"targets: provisioning < 1.5 s -> {'OK' if max(full_clone) < 1.5 else 'MISSED'}; "
          f"schema step >= 5x faster than migrating -> {'OK' if sm / sc >= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
