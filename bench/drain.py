"""Drain bench (issue 17): how fast the inbound drain turns stored new-client messages into leads.

    PATH=.venv/bin:$PATH python -m buildcrm.devstack --tmp -- python bench/drain.py [--profile out.prof]

Stores N ChatFlow messages from N new clients (plus a second message from a tenth of them) straight through
`inbound_receive` (no web process: this bench measures the drain alone), then runs
`inbound_process_pending` in this process and prints messages drained per second; `--profile` writes a
cProfile of the drain (read it with `python -m pstats`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_tenant, django_setup, setup_platform


def store(count: int, prefix: str) -> int:
    from conversations.services import inbound_receive
    from integrations.base import InboundMessage

    stored = 0
    for n in range(count):
        phone = f"7702{n:07d}"
        for k in range(2 if n % 10 == 0 else 1):
            item = InboundMessage(
                provider="chatflow",
                identity=phone,
                phone=phone,
                name=f"Клиент {n}",
                kind="text",
                text=f"Здравствуйте, интересует дом {n}/{k}",
                provider_message_id=f"{prefix}-{n}-{k}",
                media_url=None,
                mimetype=None,
                caption=None,
                timestamp=None,
                raw={},
            )
            stored += len(inbound_receive(provider="chatflow", items=[item], raw="{}", event_id=f"{prefix}-{n}-{k}"))
    return stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--profile")
    parser.add_argument("--batch", type=int, default=200, help="messages per drain batch")
    args = parser.parse_args()
    setup_platform()
    django_setup()
    from django.db import connection
    from django_tenants.utils import tenant_context

    tenant = bench_tenant("bench-drain")
    with tenant_context(tenant):
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM conversations_message")
            prefix = f"D{cur.fetchone()[0]}"
        stored = store(args.messages, prefix)
        started = time.perf_counter()
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        drained = 0
        while True:
            done = __import__("conversations.services", fromlist=["x"]).inbound_process_pending(batch=args.batch)
            if not done:
                break
            drained += done
        elapsed = time.perf_counter() - started
        if args.profile:
            profiler.disable()
            profiler.dump_stats(args.profile)
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM conversations_message WHERE inbound_pending OR lead_id IS NULL")
            left = cur.fetchone()[0]
    print(
        f"drain: {drained} of {stored} new-client messages in {elapsed:.2f} s = {drained / elapsed:.0f} messages/s "
        f"(one process), {left} left pending or without a lead"
    )
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
