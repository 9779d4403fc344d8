"""Fast tenant schema creation: copy the migrated base schema's tables (LIKE … INCLUDING ALL), foreign
keys and rows in one batch of SQL, instead of django-tenants' generic plpgsql clone or a full migrate.

Django creates only tables, identity columns, indexes and constraints in a tenant schema, so this covers
the whole schema; tests compare the catalog of a clone with the base schema's.
"""
from __future__ import annotations

import logging

from django.db import connection, transaction
from psycopg import sql

log = logging.getLogger("buildcrm.tenants")
_CACHE: dict[tuple, list[tuple[str, str]]] = {}


def _fingerprint(cursor, base: str) -> tuple:
    # Cheap key: changes whenever a migration or a table is added to the base schema.
    cursor.execute(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s),"
        " (SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = %s)",
        [base, base],
    )
    counts = cursor.fetchone()
    cursor.execute(sql.SQL("SELECT count(*), coalesce(max(id), 0) FROM {}.django_migrations").format(
        sql.Identifier(base)))
    return (base, *counts, *cursor.fetchone())


def _plan(cursor, base: str) -> list[tuple[str, str]]:
    """Tables, constraints and indexes of the base schema, their definitions written without the schema name."""
    cursor.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname", [base])
    tables = [row[0] for row in cursor.fetchall()]
    cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(base)))
    # Primary keys and unique constraints first, then foreign keys (they need the referenced keys).
    cursor.execute(
        "SELECT t.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND k.contype IN ('p', 'u', 'x', 'f') "
        "ORDER BY k.contype = 'f', t.relname, k.conname", [base])
    constraints = cursor.fetchall()
    # Indexes of their own (not behind a constraint), with their original names: migrations refer to them.
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname", [base])
    # pg_get_indexdef always names the table with its schema; the new schema is on the search path instead.
    indexes = [row[0].replace(f" ON {base}.", " ON ").replace(f" ON ONLY {base}.", " ON ONLY ")
               for row in cursor.fetchall()]
    constraints = [(t, name, d.replace(f"REFERENCES {base}.", "REFERENCES ")) for t, name, d in constraints]
    plan = [("table", table) for table in tables]
    plan += [("constraint", f"{table}\x00{name}\x00{definition}") for table, name, definition in constraints]
    plan += [("index", definition) for definition in indexes]
    return plan


def schema_clone(base: str, new: str) -> None:
    """Creates schema `new` as a copy of `base`: structure, foreign keys and rows (migrations, content types,
    permissions, whatever the base holds)."""
    with connection.cursor() as cursor:
        key = _fingerprint(cursor, base)
        if key not in _CACHE:
            _CACHE.clear()
            with transaction.atomic():  # SET LOCAL search_path only holds inside a transaction
                _CACHE[key] = _plan(cursor, base)
        plan = _CACHE[key]
        b, n = sql.Identifier(base), sql.Identifier(new)
        # Definitions name tables without a schema: resolve them inside the new schema.
        statements = [sql.SQL("CREATE SCHEMA {}").format(n), sql.SQL("SET LOCAL search_path TO {}").format(n)]
        tables = [name for kind, name in plan if kind == "table"]
        for table in tables:
            t = sql.Identifier(table)
            statements.append(sql.SQL(
                "CREATE TABLE {}.{} (LIKE {}.{} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY "
                "INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)").format(n, t, b, t))
        for kind, item in plan:
            if kind == "constraint":
                table, name, definition = item.split("\x00")
                statements.append(sql.SQL("ALTER TABLE {}.{} ADD CONSTRAINT {} ").format(
                    n, sql.Identifier(table), sql.Identifier(name)) + sql.SQL(definition))
            elif kind == "index":
                statements.append(sql.SQL(item))
        cursor.execute(sql.SQL("; ").join(statements))
        # Constraints are DEFERRABLE INITIALLY DEFERRED (Django's FKs), so rows copy in any order.
        for table in tables:
            t = sql.Identifier(table)
            cursor.execute(sql.SQL("INSERT INTO {}.{} SELECT * FROM {}.{}").format(n, t, b, t))
            if cursor.rowcount:
                cursor.execute(
                    "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "JOIN pg_namespace s ON s.oid = c.relnamespace "
                    "WHERE s.nspname = %s AND c.relname = %s AND a.attidentity <> ''", [new, table])
                for (column,) in cursor.fetchall():
                    cursor.execute(sql.SQL(
                        "SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT max({}) FROM {}.{}))").format(
                        sql.Identifier(column), n, t), [f'"{new}"."{table}"', column])


# ---------------------------------------------------------------------------------------------------------
# Keeping the base schema current: a deployment that added a migration but has not run migrate_schemas yet (or ran
# it for some schemas only) must not hand new tenants a schema of the old version. Provisioning checks the base's
# applied migrations against the code's (one query; the code's set is read once per process) and migrates the base
# first when it is behind; the clone plan above is keyed by the base's migrations, so it is rebuilt with it.

_CODE_LEAVES: set[tuple[str, str]] | None = None


def code_migration_leaves() -> set[tuple[str, str]]:
    """The latest migration of every app, as the code on disk has them."""
    global _CODE_LEAVES
    if _CODE_LEAVES is None:
        from django.db.migrations.loader import MigrationLoader

        _CODE_LEAVES = set(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
    return _CODE_LEAVES


def schema_missing_migrations(schema: str) -> set[tuple[str, str]]:
    """The code's latest migrations a schema has not applied (empty: it is current)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT app, name FROM {}.django_migrations").format(sql.Identifier(schema)))
        applied = set(cursor.fetchall())
    return code_migration_leaves() - applied


def base_schema_refresh(base: str) -> bool:
    """Migrates the base schema when the code has migrations it lacks; True when it did. One process at a time
    (a PostgreSQL advisory lock, waited for: a second provisioning then finds the base current)."""
    if not schema_missing_migrations(base):
        return False
    from django.core.management import call_command  # a command run from here, not at import: Django's registry

    lock = f"tenant-base-migrate:{base}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [lock])
    try:
        missing = schema_missing_migrations(base)
        if missing:
            call_command("migrate_schemas", schema_name=base, interactive=False, verbosity=0)
            log.info("base schema %s migrated before cloning (was missing %s)", base, sorted(missing))
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:  # migrate may have closed the connection, and the lock with it
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [lock])
    return True
