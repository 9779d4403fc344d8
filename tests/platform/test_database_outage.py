"""What tells the web that PostgreSQL is down (503 instead of 500 or a wait), and when it is back. The whole path,
with a real server stopped and started under daphne, is in tests/faults/test_faults.py."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import IntegrityError, OperationalError
from psycopg import errors
from psycopg_pool import PoolTimeout

from buildcrm.middleware import DatabaseOutage
from core.db import database_unavailable


def wrapped(cause: Exception) -> OperationalError:
    """As Django raises it: its own class, psycopg's error as the cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize("error", [
    wrapped(psycopg.OperationalError("connection to server on socket failed: No such file or directory")),
    wrapped(errors.AdminShutdown()), wrapped(errors.CrashShutdown()), wrapped(errors.CannotConnectNow()),
    wrapped(PoolTimeout("couldn't get a connection after 3.00 sec")),
    psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),  # raw cursor
    psycopg.InterfaceError("the connection is closed"),
])
def test_the_server_out_of_reach_is_unavailable(error):
    assert database_unavailable(error)


@pytest.mark.parametrize("error", [
    wrapped(errors.DeadlockDetected()), wrapped(errors.QueryCanceled()), errors.SerializationFailure(),
    IntegrityError("duplicate key"), ValueError("not a database error"),
])
def test_a_statement_failing_on_a_working_server_is_not(error):
    assert not database_unavailable(error)


class Probe:
    """A stand-in for the plain connection attempt: unreachable until `back` is set; counts its runs."""

    def __init__(self) -> None:
        self.back = False
        self.runs = 0
        self.ran = threading.Event()

    def __call__(self) -> bool:
        self.runs += 1
        self.ran.set()
        if not self.back:
            raise psycopg.OperationalError("connection refused")
        return True


def test_an_outage_refuses_at_once_and_ends_when_a_probe_gets_through(monkeypatch):
    monkeypatch.setattr("buildcrm.middleware.PROBE_EVERY_SECONDS", 0.0)
    probe = Probe()
    outage = DatabaseOutage(probe=probe)
    assert outage.admit() and probe.runs == 0, "no outage known: requests go to the database, nothing probes"
    outage.failed()
    epoch = outage.epoch
    assert not outage.admit()  # refused, and a probe started
    assert probe.ran.wait(10)
    deadline = time.monotonic() + 10
    while outage._probing:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not outage.admit() and outage.epoch == epoch, "the probe failed: still down"
    probe.back = True
    deadline = time.monotonic() + 10
    while not outage.admit():
        assert time.monotonic() < deadline, "a probe that gets through ends the outage"
        time.sleep(0.01)
    assert outage.epoch == epoch + 1, "connections kept from before the outage are known to be stale"
