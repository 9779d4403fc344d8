"""core.db.advisory_lock: one holder at a time across connections, released with the block, and never left
held on a connection that goes back to the pool (an aborted transaction refusing the unlock drops the connection,
and the server releases the lock with it)."""
from __future__ import annotations

import time

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from core.db import advisory_lock
from tests.conftest import database_url


def free_elsewhere(name: str) -> bool:
    """Whether another session can take the lock just now (and gives it back at once)."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        taken = other.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [name]).fetchone()[0]
        if taken:
            other.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [name])
        return taken


def test_one_holder_at_a_time_until_the_block_ends(live_db):
    with advisory_lock("test:lock:one") as held:
        assert held and not free_elsewhere("test:lock:one")
    assert free_elsewhere("test:lock:one")


def test_a_lock_held_elsewhere_is_not_taken(live_db):
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", ["test:lock:other"])
        with advisory_lock("test:lock:other") as held:
            assert not held
    assert free_elsewhere("test:lock:other")  # the other session ended, and the block never held it


def test_an_unlock_refused_by_an_aborted_transaction_drops_the_connection(live_db):
    with pytest.raises(DatabaseError), transaction.atomic(), advisory_lock("test:lock:aborted") as held:
        assert held
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    assert connection.connection is None
    # The server lets go of a closed connection's locks once its backend has exited.
    deadline = time.monotonic() + 10
    while not free_elsewhere("test:lock:aborted"):
        assert time.monotonic() < deadline, "the lock outlived its connection"
        time.sleep(0.05)
