"""The worker side of `migrate_tenants`: processes started fresh ("spawn", not forked — forking a process that runs
threads can copy a lock another thread held, and hang), each setting Django up once and migrating the schemas it is
given over its own connection. Nothing here imports a model before Django is set up."""

from __future__ import annotations


def init(database_name: str) -> None:
    import django

    django.setup()
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database_name  # the parent's (a test run's database, too)


def migrate_schema(schema: str) -> tuple[str, str | None]:
    from django.core.management import call_command
    from django.db import connections

    from tenants.schema_clone import schema_missing_migrations

    try:
        # A schema with every latest migration applied is skipped: an upgrade that changed nothing costs one query
        # per tenant instead of a migrate run.
        if schema_missing_migrations(schema):
            call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
        return schema, None
    except BaseException as exc:  # reported by the parent, the other schemas go on
        return schema, f"{type(exc).__name__}: {exc}"
    finally:
        connections.close_all()
