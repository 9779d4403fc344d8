"""`migrate_schemas` for many tenants at once: public first, then the base schema that provisioning clones, then
every tenant schema in N processes, with a progress line. A schema that fails is reported at the end (exit 1); the
others go on."""

from __future__ import annotations

import multiprocessing
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.parallel_migrate import init, migrate_schema


class Command(BaseCommand):
    help = (
        "Migrates the public schema, the base schema, then every tenant schema in --jobs processes (default: "
        "the CPU count), printing progress. Exit 1 when a schema failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=0, help="processes (0: the CPU count)")
        parser.add_argument("--skip-public", action="store_true", help="the shared schema is migrated already")

    def handle(self, *args, jobs: int = 0, skip_public: bool = False, **options):
        started = time.monotonic()
        jobs = jobs or multiprocessing.cpu_count()
        if not skip_public:
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        base = settings.TENANT_BASE_SCHEMA
        schemas = list(
            Tenant.objects.exclude(schema_name__in=["public", base])
            .order_by("id")
            .values_list("schema_name", flat=True)
        )
        if Tenant.objects.filter(schema_name=base).exists():
            _, error = migrate_schema(base)  # first: provisioning clones it while the rest migrate
            if error:
                raise CommandError(f"base schema {base}: {error}")
        total, done, failed = len(schemas), 0, []
        tty = self.stdout.isatty()
        context = multiprocessing.get_context("spawn")
        processes = max(1, min(jobs, total or 1))
        with context.Pool(
            processes=processes, initializer=init, initargs=(settings.DATABASES["default"]["NAME"],)
        ) as pool:
            for schema, error in pool.imap_unordered(migrate_schema, schemas):
                done += 1
                if error:
                    failed.append((schema, error))
                    self.stderr.write(f"{schema}: {error}")
                if tty or done == total or done % max(1, total // 10) == 0:
                    elapsed = time.monotonic() - started
                    line = (
                        f"migrated {done}/{total} tenants, {len(failed)} failed, {elapsed:.1f} s, "
                        f"~{elapsed / done * (total - done):.0f} s left"
                    )
                    self.stdout.write(("\r" + line) if tty else line, ending="" if tty and done < total else "\n")
                    self.stdout.flush()
        elapsed = time.monotonic() - started
        self.stdout.write(f"migrate_tenants: {total} tenant schemas with {jobs} processes in {elapsed:.1f} s")
        if failed:
            raise CommandError(f"{len(failed)} schema(s) failed: " + ", ".join(s for s, _ in failed[:20]))
