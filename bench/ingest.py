"""Ingest bench (issue 3): ChatFlow webhooks against the real web process on the embedded PostgreSQL.

    cd /work/main && PATH=.venv/bin:$PATH python -m buildcrm.devstack --tmp -- python bench/ingest.py

The script runs `manage.py setup_platform`, provisions a bench tenant (AI off, so only ingest is
measured), and starts two servers the way the Procfile's web line does (`daphne -b … -p PORT APP`):
the real app (`buildcrm.asgi:application`) and a bare Django view that only returns 200
(`bench.bare_asgi:application`). Both are loaded by the same generator (bench/common.py, asyncio,
keep-alive; chosen over wrk because wrk cannot send an exact number of requests with exact ids):

  (a) saturated: 20,000 webhooks (5% deliberate duplicates: the same messageId again, half of them in a
      different raw body — wrapped as {"body": …}) on 50 connections → messages stored per second, and the
      ratio of the app's request rate to the bare view's rate under the same load;
  (b) open loop: a fixed 100 messages/s for 30 s (another 3,000, 5% duplicates) → p50/p99 latency
      measured from each request's scheduled time;
  (c) lost and duplicated messages: Message rows against the unique ids sent, over everything sent.

(a) and (b) load the web process alone, as the bare view is loaded. Then a Celery worker (as the Procfile's
worker line, concurrency 2) does what follows storage for the backlog (a new client's lead, live events,
follow-ups): the script prints how long that took, and repeats the open loop with the worker busy beside
the web process on the same two cores (informational: the realistic steady state), waiting again until
every stored message is processed.

Clients write from a pool of 2,000 phone numbers, so the run creates ~2,000 leads and then appends to them.

  (d) the drain keeps up with the door (issue 17): a burst of 10,000 webhooks from 10,000 new clients is stored
      by the web process (workers stopped: the ingest rate), then two Celery worker processes (concurrency 1
      each) turn them into leads: the drain rate is the new-client messages over the time from the first new
      lead to the last processed message, printed beside the ingest rate (`--new-clients-only` runs just this).

Targets: ≥ 300 messages/s, ratio ≥ 0.6, p99 < 50 ms at 100/s, 0 lost, 0 duplicated; (d) ≥ 500 messages/s
drained.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Server,
    bench_tenant,
    closed_loop,
    django_setup,
    http_request,
    open_loop,
    setup_platform,
    start_workers,
    stop,
    webhook_path,
)


def chatflow_body(message_id: str, phone: str, n: int, wrapped: bool = False) -> bytes:
    event = {
        "messageType": "text",
        "message": f"Здравствуйте! Интересует дом из газоблока, 120 м², участок в Алматы. Сообщение {n}",
        "metadata": {"remoteJid": f"{phone}@s.whatsapp.net", "messageId": message_id, "timestamp": 1735000000 + n,
                     "instanceId": "bench-instance", "sender": "Клиент"},
        "mediaData": None,
    }
    return json.dumps({"body": event} if wrapped else event, ensure_ascii=False).encode()


class Workload:
    """Requests with unique message ids plus deliberate duplicates of recent ones."""

    def __init__(self, path: str, phones: list[str], dup_share: float, seed: int) -> None:
        self.path, self.phones, self.dup_share = path, phones, dup_share
        self.rng = random.Random(seed)
        self.unique: set[str] = set()
        self.duplicates = 0
        self._recent: list[tuple[str, str, int]] = []

    def build(self, prefix: str, count: int) -> list[bytes]:
        requests = []
        for n in range(count):
            if self._recent and self.rng.random() < self.dup_share:
                message_id, phone, m = self.rng.choice(self._recent[-200:])  # often still in flight
                body = chatflow_body(message_id, phone, m, wrapped=self.rng.random() < 0.5)
                self.duplicates += 1
            else:
                message_id = f"{prefix}-{n:06d}-{self.rng.getrandbits(32):08X}"
                phone = self.rng.choice(self.phones)
                body = chatflow_body(message_id, phone, n)
                self.unique.add(message_id)
                self._recent.append((message_id, phone, n))
            requests.append(http_request("POST", self.path, body))
        return requests


def stored_counts(tenant, sent: set[str]) -> dict:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from leads.models import Lead

    with tenant_context(tenant), connection.cursor() as cur:
        cur.execute("SELECT provider_message_id FROM conversations_message WHERE provider = 'chatflow' "
                    "AND direction = 'in'")
        ids = [row[0] for row in cur.fetchall()]
        leads = Lead.objects.count()
        cur.execute("SELECT count(*) FROM conversations_inboundevent")
        events = cur.fetchone()[0]
        cur.execute("SELECT count(*) FILTER (WHERE inbound_pending), count(*) FILTER (WHERE lead_id IS NULL) "
                    "FROM conversations_message")
        pending, without_lead = cur.fetchone()
    distinct = set(ids)
    return {"rows": len(ids), "lost": len(sent - distinct), "duplicated": len(ids) - len(distinct),
            "unexpected": len(distinct - sent), "leads": leads, "inbound_events": events, "pending": pending,
            "without_lead": without_lead}


def wait_processed(tenant, timeout: float) -> float:
    """Seconds until the worker has processed every stored message (or the timeout)."""
    import time

    from django.db import connection
    from django_tenants.utils import tenant_context

    started = time.perf_counter()
    with tenant_context(tenant):
        while time.perf_counter() - started < timeout:
            with connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM conversations_message WHERE inbound_pending")
                if cur.fetchone()[0] == 0:
                    break
            time.sleep(0.2)
    return time.perf_counter() - started


def new_client_burst(tenant, path: str, count: int, concurrency: int) -> tuple[str, float, float, bool]:
    """(d): the ingest rate of `count` first messages of new clients, then the rate two worker processes drain
    them at. Returns (summary, ingest rate, drain rate, every message has its lead)."""

    from django.db import connection
    from django_tenants.utils import tenant_context

    rng = random.Random(23)
    tag = f"{rng.getrandbits(24):06X}"
    requests = [http_request("POST", path, chatflow_body(f"N{tag}-{n:06d}", f"7799{int(tag, 16) % 1000:03d}{n:05d}",
                                                        n)) for n in range(count)]
    with tenant_context(tenant), connection.cursor() as cur:
        cur.execute("SELECT COALESCE(max(id), 0) FROM leads_lead")
        leads_before = cur.fetchone()[0]
    errors: list[bytes] = []
    with Server("buildcrm.asgi:application", name="web-burst", env={
            "CONN_MAX_AGE": "0", "WEBHOOK_RATE_PER_SECOND": "1000000", "WEBHOOK_RATE_BURST": "1000000"}) as web:
        door = closed_loop(web.port, requests, concurrency, errors)
    workers = start_workers(2, 1)
    try:
        wall = wait_processed(tenant, timeout=1200)
    finally:
        stop(workers)
    with tenant_context(tenant), connection.cursor() as cur:
        cur.execute("SELECT count(*), min(created_at), max(created_at) FROM leads_lead WHERE id > %s", [leads_before])
        leads, first_lead, last_lead = cur.fetchone()
        cur.execute("SELECT count(*) FROM conversations_message WHERE provider_message_id LIKE %s "
                    "AND (lead_id IS NULL OR inbound_pending)", [f"N{tag}-%"])
        unfinished = cur.fetchone()[0]
    # The workers' start-up (Celery boot, ~seconds) is not the drain's: the window opens with the first new lead.
    window = (last_lead - first_lead).total_seconds() if leads > 1 else wall
    drain_rate = count / window if window else 0.0
    summary = (f"{count} new clients: stored at {count / door.elapsed:.0f} messages/s (web, {len(errors)} errors); "
               f"drained at {drain_rate:.0f} messages/s by 2 worker processes ({leads} leads in {window:.1f} s, "
               f"{wall:.1f} s with the workers' start), {unfinished} unfinished")
    return summary, count / door.elapsed, drain_rate, unfinished == 0 and leads == count and not errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--open-seconds", type=float, default=30.0)
    parser.add_argument("--app", default="buildcrm.asgi:application")
    parser.add_argument("--new-clients", type=int, default=10000, help="(d): the new-client burst's size")
    parser.add_argument("--new-clients-only", action="store_true", help="run only (d)")
    parser.add_argument("--profile", help="write a py-spy profile (raw format, GIL holder only) of the web "
                        "process's saturated run here")
    args = parser.parse_args()

    setup_platform()
    django_setup()
    tenant = bench_tenant("bench-ingest", {"channels": {"chatflow": {"api_url": "http://127.0.0.1:9/api/v1",
                                                                     "token": "bench", "instance_id": "bench"}}})
    path = webhook_path(tenant, "chatflow")
    if args.new_clients_only:
        summary, door, drain, ok = new_client_burst(tenant, path, args.new_clients, args.concurrency)
        print(f"(d) {summary}\n  drain/door ratio {drain / door:.2f}  target ≥ 500 msg/s "
              f"{'OK' if ok and drain >= 500 else 'MISSED'}")
        return 0 if ok and drain >= 500 else 1
    rng = random.Random(7)
    phones = [f"7701{rng.randrange(10**7):07d}" for _ in range(args.phones)]
    work = Workload(path, phones, args.duplicates, seed=11)
    warm = work.build("W", 500)
    saturated = work.build("S", args.messages)
    unique_saturated = len(work.unique) - len({i for i in work.unique if i.startswith("W-")})
    opened = work.build("O", int(args.rate * args.open_seconds))
    print(f"workload: {args.messages} saturated + {len(opened)} open-loop + {len(warm)} warm-up webhooks, "
          f"{work.duplicates} deliberate duplicates, {len(work.unique)} unique message ids, {len(phones)} phones")

    with Server("bench.bare_asgi:application", name="bare") as bare:
        closed_loop(bare.port, warm, args.concurrency)
        bare_run = closed_loop(bare.port, saturated, args.concurrency)
    print(f"bare view  c={args.concurrency}: {bare_run.summary()}")

    errors: list[bytes] = []
    # CONN_MAX_AGE=0: Django's ASGI handler runs each request's sync code in a thread of its own, so a
    # persistent per-thread connection (the settings default, 60 s) is never reused and leaks until
    # PostgreSQL refuses new clients. The web process must run with 0 (or a pool).
    # The per-URL rate limit (WEBHOOK_RATE_PER_SECOND) stays on, so its Redis round trip is measured, but raised
    # far above what one bench URL posts.
    with Server(args.app, name="web", env={"CONN_MAX_AGE": "0", "WEBHOOK_RATE_PER_SECOND": "1000000",
                                           "WEBHOOK_RATE_BURST": "1000000"}) as web:
        closed_loop(web.port, warm, args.concurrency, errors)
        spy = None
        if args.profile:  # py-spy is a profiling aid only (pip install py-spy), not a requirement
            import subprocess

            spy = subprocess.Popen(["py-spy", "record", "-p", str(web.proc.pid), "-o", args.profile, "-f", "raw",
                                    "--threads", "--gil", "--nonblocking"], stdout=subprocess.DEVNULL)
        sat = closed_loop(web.port, saturated, args.concurrency, errors)
        if spy is not None:
            spy.send_signal(2)
            spy.wait()
        print(f"webhooks   c={args.concurrency}: {sat.summary()}")
        open_run = open_loop(web.port, opened, args.rate, args.concurrency, errors)
        print(f"webhooks   open loop {args.rate:.0f}/s: {open_run.summary()}")
        workers = start_workers(1, 2)
        try:
            backlog = wait_processed(tenant, timeout=1200)
            print(f"worker: the backlog of {len(work.unique)} stored messages processed in {backlog:.1f} s "
                  f"({len(work.unique) / backlog:.0f} messages/s)")
            beside = work.build("B", int(args.rate * args.open_seconds))
            beside_run = open_loop(web.port, beside, args.rate, args.concurrency, errors)
            print(f"webhooks   open loop {args.rate:.0f}/s, worker processing alongside: {beside_run.summary()}")
            drain = wait_processed(tenant, timeout=600)
        finally:
            stop(workers)
    if errors:
        print(f"non-200 answers: {len(errors)}, first: {errors[0]!r}")
    counts = stored_counts(tenant, work.unique)
    burst_summary, burst_door, burst_drain, burst_ok = new_client_burst(tenant, path, args.new_clients,
                                                                        args.concurrency)
    print(f"new-client burst: {burst_summary}")

    msg_rate = unique_saturated / sat.elapsed
    ratio = sat.rate / bare_run.rate
    p50, p99 = open_run.pct(50) * 1000, open_run.pct(99) * 1000
    checks = [
        ("(a) saturated throughput c=50", f"{msg_rate:.0f} messages/s stored ({sat.rate:.0f} requests/s)",
         msg_rate >= 300, "≥ 300 msg/s"),
        ("(a) ratio to the bare view", f"{ratio:.2f} ({sat.rate:.0f} / {bare_run.rate:.0f} requests/s)",
         ratio >= 0.6, "≥ 0.6"),
        ("(b) open loop 100/s latency", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", p99 < 50, "p99 < 50 ms"),
        ("    (same, worker alongside)", f"p50 {beside_run.pct(50) * 1000:.1f} ms, p99 "
         f"{beside_run.pct(99) * 1000:.1f} ms", True, "(informational)"),
        ("(c) lost messages", f"{counts['lost']} of {len(work.unique)} unique ids", counts["lost"] == 0, "0"),
        ("(c) duplicated messages", f"{counts['duplicated']} ({counts['rows']} rows for {len(work.unique)} ids, "
         f"{work.duplicates} duplicates sent)", counts["duplicated"] == 0 and counts["unexpected"] == 0, "0"),
        ("(c) processed, each with a lead", f"{counts['pending']} waiting, {counts['without_lead']} without lead, "
         f"{counts['leads']} leads for {len(phones)} phones",
         counts["pending"] == 0 and counts["without_lead"] == 0 and counts["leads"] <= len(phones), "all"),
        ("(d) new-client burst drained", f"{burst_drain:.0f} messages/s (stored at {burst_door:.0f}/s)",
         burst_ok and burst_drain >= 500, "≥ 500 msg/s"),
    ]
    print(f"\nstored: {counts['rows']} messages, {counts['leads']} leads, {counts['inbound_events']} raw events")
    print(f"processed by the worker: {counts['rows'] - counts['pending']} of {counts['rows']} messages, "
          f"{counts['without_lead']} without a lead; all done {drain:.1f} s after the last webhook")
    print("\nRESULTS")
    for name, value, ok, target in checks:
        print(f"  {name:<32} {value:<60} target {target:<12} {'OK' if ok else 'MISSED'}")
    return 0 if all(ok for _, _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
