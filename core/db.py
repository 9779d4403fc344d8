"""Raw SQL on the hot paths (webhook storage), beside the ORM on the same connection and transaction."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import NOT_PROVIDED

log = logging.getLogger("buildcrm")


def server_bound_cursor() -> psycopg.Cursor:
    """A psycopg cursor with server-side parameter binding on Django's connection, with the current tenant's
    search path in effect. Django's own cursors bind client-side (psycopg quotes every value into the SQL
    text, a tenth of a webhook's CPU); this one sends the values apart, and psycopg prepares a statement
    after a few runs, so PostgreSQL parses and plans it once per connection."""
    with connection.cursor():  # connects if needed and sets the search path (django-tenants)
        pass
    return psycopg.Cursor(connection.connection)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says PostgreSQL cannot be reached (down, restarting, no pooled connection free in time)
    rather than that a statement failed on a working server (those carry an SQLSTATE of another class). Django
    wraps psycopg's errors; raw cursors (`server_bound_cursor`) raise them as they are."""
    if not isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    # 08: connection exception; 57P01-03: the server shutting down, crashed, starting up.
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


_INSERTS: dict[type, tuple[list, str]] = {}


def array_type(field) -> str:
    """The PostgreSQL array type for a field's values in `unnest(%s::type[])` (no length: nothing truncates)."""
    return field.db_type(connection).split("(")[0] + "[]"


def insert_rows(instances: list) -> None:
    """Saves new instances of one model as `Model.objects.create` would (field defaults, auto_now_add, the same
    value preparation), in one INSERT … SELECT FROM unnest(arrays) RETURNING id: the same statement text for
    any number of rows, server-side bound and so prepared once per connection — a fraction of the ORM's cost,
    for the hot paths that send messages. Ids come back in the order of the rows, as Django's bulk_create
    (which inserts the same way) relies on. No signals: none are used in this project."""
    if not instances:
        return
    model = type(instances[0])
    plan = _INSERTS.get(model)
    if plan is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        unsupported = [f.name for f in fields if f.db_default is not NOT_PROVIDED
                       or (f.target_field if f.is_relation else f).get_internal_type() not in connection.data_types]
        if unsupported:  # unnest cannot carry them (arrays flatten, database defaults are skipped)
            raise TypeError(f"insert_rows: {model.__name__} fields {unsupported} need Model.objects.bulk_create")
        sql = (f"INSERT INTO {model._meta.db_table} ({', '.join(f.column for f in fields)}) "
               f"SELECT * FROM unnest({', '.join(f'%s::{array_type(f)}' for f in fields)}) "
               f"RETURNING {model._meta.pk.column}")
        plan = _INSERTS[model] = (fields, sql)
    fields, sql = plan
    columns = [[f.get_db_prep_save(f.pre_save(instance, add=True), connection) for instance in instances]
               for f in fields]
    with server_bound_cursor() as cursor:
        cursor.execute(sql, columns)
        for instance, (pk,) in zip(instances, cursor.fetchall(), strict=True):
            instance.pk = pk
            instance._state.adding = False
            instance._state.db = connection.alias


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """A PostgreSQL session advisory lock on `name` for the block, not waited for; yields whether it was taken.
    The server lets go of it when the holder's connection ends, so a worker killed while holding it blocks nobody
    (a Redis lock with a timeout would stand until it expires). The lock lives on this thread's connection: the
    block must not close it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [name])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [name])
            except DatabaseError as exc:
                # Broken, the connection took the lock with it; refused (an aborted transaction), it still holds
                # it: either way it is closed for good here, never handed back to the pool with the lock.
                log.warning("lock %s not released, connection dropped: %s", name, exc)
                with contextlib.suppress(Exception):
                    if connection.connection is not None:
                        connection.connection.close()
                with contextlib.suppress(Exception):
                    connection.close()
