"""core.tasks.enqueue: a task named, not imported, runs in the schema of the tenant that enqueued it — with a real
Celery worker (tenant-schemas-celery stamps the schema into the message, as for tenants.tasks.dispatch_to_tenants)."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from conversations.models import Direction, Message, MessageStatus
from core.tasks import enqueue
from leads.services import lead_for_inbound

pytestmark = pytest.mark.live

WAIT_SECONDS = 30  # an upper bound for the worker, not a timing assertion


def queued_message(tenant) -> int:
    """An outbound sandbox message stored as queued, with no delivery task queued for it."""
    with tenant_context(tenant):
        lead, _ = lead_for_inbound(provider="sandbox", identity="77015550101", phone="77015550101", name="Probe")
        return Message.objects.create(lead=lead, direction=Direction.OUT, text="probe", provider="sandbox",
                                      status=MessageStatus.QUEUED, author_kind="ai", purpose="reply").pk


def settled(tenant, pk: int) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    with tenant_context(tenant):
        while True:
            status = Message.objects.get(pk=pk).status
            if status != MessageStatus.QUEUED or time.monotonic() > deadline:
                return status
            time.sleep(0.05)


def test_a_task_enqueued_by_name_runs_in_the_tenants_schema(worker, live_tenant):
    pk = queued_message(live_tenant)
    with tenant_context(live_tenant):
        enqueue("conversations.deliver_message", pk, attempt=1)
    # The message exists only in this tenant's schema: run anywhere else, the task could not have sent it.
    assert settled(live_tenant, pk) == MessageStatus.SENT


def test_the_schema_is_the_enqueuing_threads_own(worker, live_tenant):
    """A web process serves tenants on many threads at once: each enqueue carries its own thread's schema."""
    pk = queued_message(live_tenant)
    done = threading.Event()

    def other_thread() -> None:
        try:
            with tenant_context(live_tenant):
                enqueue("conversations.deliver_message", pk, attempt=1)
        finally:
            connection.close()
            done.set()

    connection.set_schema_to_public()  # this thread stays in public meanwhile
    threading.Thread(target=other_thread).start()
    assert done.wait(WAIT_SECONDS)
    assert settled(live_tenant, pk) == MessageStatus.SENT


def test_an_explicit_schema_wins_over_the_connections(worker, live_tenant):
    pk = queued_message(live_tenant)
    connection.set_schema_to_public()
    enqueue("conversations.deliver_message", pk, attempt=1, schema=live_tenant.schema_name)
    assert settled(live_tenant, pk) == MessageStatus.SENT


def test_with_always_eager_the_task_runs_in_place(live_tenant, live_db, settings):
    """Where tasks run in-process (task_always_eager), a task named runs at once, as its .delay() would —
    send_task alone would leave it in the broker."""
    from buildcrm.celery import app

    pk = queued_message(live_tenant)
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with tenant_context(live_tenant):
            enqueue("conversations.deliver_message", pk, attempt=1)
            assert Message.objects.get(pk=pk).status == MessageStatus.SENT
    finally:
        app.conf.task_always_eager = old
