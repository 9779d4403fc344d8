"""Raw SQL on the hot paths (webhook storage), beside the ORM on the same connection and transaction."""
from __future__ import annotations

import psycopg
from django.db import connection


def server_bound_cursor() -> psycopg.Cursor:
    """A psycopg cursor with server-side parameter binding on Django's connection, with the current tenant's
    search path in effect. Django's own cursors bind client-side (psycopg quotes every value into the SQL
    text, a tenth of a webhook's CPU); this one sends the values apart, and psycopg prepares a statement
    after a few runs, so PostgreSQL parses and plans it once per connection."""
    with connection.cursor():  # connects if needed and sets the search path (django-tenants)
        pass
    return psycopg.Cursor(connection.connection)


_INSERTS: dict[type, tuple[list, str]] = {}


def insert_row(instance) -> None:
    """Saves a new model instance as `Model.objects.create` would (field defaults, auto_now_add, the same
    value preparation), as one prepared INSERT … RETURNING id: a quarter of the ORM's cost per row, for
    rows written in bulk one by one (a sweep's messages). No signals: none are used in this project."""
    model = type(instance)
    plan = _INSERTS.get(model)
    if plan is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        sql = (f"INSERT INTO {model._meta.db_table} ({', '.join(f.column for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {model._meta.pk.column}")
        plan = _INSERTS[model] = (fields, sql)
    fields, sql = plan
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    with server_bound_cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
