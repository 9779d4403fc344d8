"""Faults lose nothing: the real stack as separate processes (tests/faults/stack.py) survives a worker killed
with SIGKILL in the middle of a delivery and of an AI turn, Redis and PostgreSQL restarted under load, a
gateway answering 5xx or nothing, an LLM that times out. Afterwards every stored client message was processed
once (no message pending, one lead per client, one AI turn per message) and every reply reached the gateway
exactly once; while PostgreSQL is down the web answers 503, never 200 to a webhook it could not store."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import FIGURES, assert_nothing_lost, phones, settle
from tests.faults.stack import Process, Stack, kill_sender, wait_until

pytestmark = pytest.mark.faults
HELLO = "Здравствуйте! Сколько стоит дом 10 на 12?"


def supervisor_restarts(stack: Stack, worker: Process) -> None:
    """What systemd or docker does with a dead worker; its own startup is not waited for here."""
    worker.start()


def record(case: str, faults: int, figures: dict) -> None:
    FIGURES.append({"case": case, "faults": faults, **figures})


def test_gateway_errors_and_timeouts_deliver_each_reply_once(stack, offline_tenant, chatflow, logs_on_failure):
    numbers = phones(4)
    refused = chatflow.refused
    # Four faults, whichever sends meet them: even one message meeting all four still has a fifth attempt.
    chatflow.fail(1, 503)
    chatflow.fail(1, 500)
    chatflow.fail(1, 429)
    chatflow.hang(1)  # no answer at all: the adapter's 10 s timeout, then a retry
    for number in numbers:
        offline_tenant.deliver(number, HELLO, f"gw-{number}")
    settle(offline_tenant, numbers)
    assert chatflow.refused - refused == 4, "every scripted fault was met"
    record("gateway 503/500/429/no answer", 4, assert_nothing_lost(offline_tenant, chatflow, numbers))


def test_a_worker_killed_mid_delivery(stack, offline_tenant, chatflow, logs_on_failure):
    numbers = phones(3)
    aborted = chatflow.aborted
    chatflow.hold()
    try:
        for number in numbers:
            offline_tenant.deliver(number, HELLO, f"kd-{number}")
        wait_until(lambda: chatflow.held, what="a delivery in flight")
        worker = kill_sender(stack, chatflow.port, chatflow.held_clients[-1])
        wait_until(lambda: chatflow.aborted > aborted, what="the dead sender's request to end undelivered")
    finally:
        chatflow.release()
    supervisor_restarts(stack, worker)
    settle(offline_tenant, numbers)
    stack.wait_worker_ready(worker)
    record("worker SIGKILL mid-delivery", 1, assert_nothing_lost(offline_tenant, chatflow, numbers))


def test_a_worker_killed_mid_ai_turn(stack, llm_tenant, chatflow, llm, logs_on_failure):
    numbers = phones(2)
    llm.hold()
    try:
        for number in numbers:
            llm_tenant.deliver(number, HELLO, f"ka-{number}")
        wait_until(lambda: llm.held, what="an AI turn waiting for the LLM")
        worker = kill_sender(stack, llm.port, llm.held_clients[-1])
    finally:
        llm.release()
    supervisor_restarts(stack, worker)
    settle(llm_tenant, numbers)
    stack.wait_worker_ready(worker)
    figures = assert_nothing_lost(llm_tenant, chatflow, numbers)
    record("worker SIGKILL mid-AI-turn", 1, figures)


def queued_tasks(stack: Stack) -> int:
    import redis

    client = redis.Redis.from_url(stack.redis.url)
    try:
        return client.llen("celery")
    finally:
        client.close()


def test_redis_restarted_under_load(stack, offline_tenant, chatflow, logs_on_failure):
    numbers = phones(16)
    slots = 2 * len(stack.workers)  # each worker runs two pool processes
    with ThreadPoolExecutor(8) as pool:
        chatflow.hold()  # every worker slot ends up in a delivery, so the rest of the work waits in Redis
        try:
            list(pool.map(lambda n: offline_tenant.deliver(n, HELLO, f"rr-{n}"), numbers[:10]))
            wait_until(lambda: chatflow.held == slots and queued_tasks(stack), what="work queued in Redis")
            stack.redis.kill()  # every queued task, unacknowledged delivery, kick and lock in Redis is gone
            # Stored is stored: webhooks still get 200 while Redis is down.
            for number in numbers[10:13]:
                assert offline_tenant.webhook(number, HELLO, f"rr-{number}") == 200
        finally:
            chatflow.release()
        stack.redis.start()
        list(pool.map(lambda n: offline_tenant.deliver(n, HELLO, f"rr-{n}"), numbers[13:]))
    settle(offline_tenant, numbers)
    record("Redis SIGKILL + restart (empty) under load", 1, assert_nothing_lost(offline_tenant, chatflow, numbers))


def test_postgres_restarted_web_answers_503_then_recovers(stack, llm_tenant, chatflow, llm, logs_on_failure):
    numbers = phones(6)
    llm.hold()
    try:
        for number in numbers[:3]:
            llm_tenant.deliver(number, HELLO, f"pg-{number}")
        wait_until(lambda: llm.held >= 3, what="three AI turns waiting for the LLM")
        stack.pg.crash()  # the turns' connections die with it
        waited = []  # seconds to each answer while the database is down (a figure, not an assertion)
        try:
            # Not a hang and not a 500: the API, the PWA and webhooks answer 503, and a webhook that could not
            # be stored gets no 200 (the provider retries it).
            for path in ("/api/leads/", "/", "/sandbox", "/api/leads/"):
                started = time.monotonic()
                answer = llm_tenant.api("GET", path)
                waited.append(time.monotonic() - started)
                assert answer.status_code == 503, (path, answer.status_code, answer.text[:300])
                assert answer.headers.get("retry-after") and answer.json()["detail"]
            for number in numbers[3:]:
                started = time.monotonic()
                assert llm_tenant.webhook(number, HELLO, f"pg-{number}") == 503
                waited.append(time.monotonic() - started)
        finally:
            stack.pg.start()
        # Back by itself: no process restarted.
        wait_until(lambda: llm_tenant.api("GET", "/api/leads/").status_code == 200, what="the API to recover")
        assert llm_tenant.api("GET", "/").status_code == 200
    finally:
        llm.release()  # the held turns go on with connections the restart broke
    for number in numbers[3:]:
        llm_tenant.deliver(number, HELLO, f"pg-{number}")  # the provider's retry
    settle(llm_tenant, numbers)
    assert all(w.alive() for w in stack.workers) and stack.web.alive()
    figures = assert_nothing_lost(llm_tenant, chatflow, numbers)
    record("PostgreSQL immediate stop + restart", 1, {**figures, "note": f"{len(waited)} answers 503 while down, "
                                                      f"slowest {max(waited):.2f}s, median {sorted(waited)[3]:.2f}s"})


def test_llm_timeouts_still_answer_every_message(stack, llm_timeout_tenant, chatflow, llm, logs_on_failure):
    tenant, numbers = llm_timeout_tenant, phones(2)
    calls = llm.calls
    llm.delay = 5  # over the tenant's 2 s timeout: every attempt times out
    try:
        for number in numbers:
            tenant.deliver(number, HELLO, f"lt-{number}")
        settle(tenant, numbers)
    finally:
        llm.delay = 0
    assert llm.calls - calls == 2 * len(numbers), "each turn tried the LLM twice (max_retries 1)"
    turns = stack.query(f"SELECT brain FROM {tenant.schema}.aiagent_aiturn t JOIN {tenant.schema}.leads_lead l "
                        f"ON l.id = t.lead_id WHERE l.phone = ANY(%s)", [numbers])
    assert [brain for (brain,) in turns] == ["fallback"] * len(numbers), "the offline brain answered instead"
    record("LLM timeouts", 2 * len(numbers), assert_nothing_lost(tenant, chatflow, numbers))
