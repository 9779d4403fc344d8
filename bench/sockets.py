"""Many sockets on one web process (issue 17): idle authenticated board sockets held by one daphne process — the
memory each costs, and the time from a committed change to its event on every socket of the tenant.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/sockets.py [--sockets 2000] [--changes 20]

Each change is a lead update through the API (`PATCH /api/leads/<id>/`, committed before its response); the clock
starts when the request is sent, so a figure includes the request's own handling (an upper bound of
commit → event); the columns "save→event" take the clock from the lead's `updated_at` (stamped at its save, just
before the commit; same machine, wall clock) instead. The same run first measures one socket (the baseline of the
ratio). Target: p95 < 500 ms at 2,000.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Server, bench_tenant, django_setup, setup_platform  # noqa: E402

WAVE = 25


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _open(uri: str, host: str, port: int) -> websockets.ClientConnection:
    socket = await websockets.connect(uri, host="127.0.0.1", port=port, open_timeout=120, ping_interval=None,
                                      max_queue=None)
    hello = json.loads(await asyncio.wait_for(socket.recv(), 120))
    assert hello["type"] == "hello", hello
    return socket


async def _phase(server: Server, *, host: str, token: str, lead_id: int, sockets: int, changes: int) -> dict:
    process = psutil.Process(server.proc.pid)
    uri = f"ws://{host}:{server.port}/ws/?token={token}"
    rss_before = process.memory_info().rss
    opened: list = []
    started = time.monotonic()
    # In waves of WAVE: daphne drops a handshake its application has not accepted within 5 s, and each accept
    # authenticates in the database; the opening rate is printed, the idle sockets are what is measured.
    for offset in range(0, sockets, WAVE):
        opened += await asyncio.gather(*[_open(uri, host, server.port) for _ in range(min(WAVE, sockets - offset))])
    open_seconds = time.monotonic() - started
    await asyncio.sleep(2)
    rss_after = process.memory_info().rss
    latencies: list[float] = []
    from_save: list[float] = []
    missing = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=60,
                                 headers={"Host": host, "Authorization": f"Token {token}"}) as api:
        for n in range(changes):
            marker = f"Bench {sockets}-{n}"

            async def seen(socket, marker=marker) -> tuple[float, float] | None:
                while True:
                    event = json.loads(await socket.recv())
                    if event.get("type") == "lead.updated" and (event.get("lead") or {}).get("name") == marker:
                        # Wall clock too: the lead's updated_at is stamped at its save, just before the commit.
                        saved = datetime.fromisoformat(event["lead"]["updated_at"]).timestamp()
                        return time.monotonic(), time.time() - saved

            waiters = [asyncio.create_task(seen(s)) for s in opened]
            sent_at = time.monotonic()
            answer = await api.patch(f"/api/leads/{lead_id}/", json={"name": marker})
            assert answer.status_code == 200, answer.text
            done, pending = await asyncio.wait(waiters, timeout=30)
            for task in pending:
                task.cancel()
            missing += len(pending)
            latencies += [task.result()[0] - sent_at for task in done]
            from_save += [task.result()[1] for task in done]
            await asyncio.sleep(0.2)
    for socket in opened:
        await socket.close()
    return {"sockets": sockets, "open_s": open_seconds, "rss_per_socket_kb": (rss_after - rss_before) / sockets / 1024,
            "rss_mb": rss_after / 2**20, "events": len(latencies), "missing": missing,
            "p50_ms": statistics.median(latencies) * 1000, "p95_ms": _percentile(latencies, 0.95) * 1000,
            "max_ms": max(latencies) * 1000, "save_p50_ms": statistics.median(from_save) * 1000,
            "save_p95_ms": _percentile(from_save, 0.95) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.sockets + 1024)), hard))

    django_setup()
    setup_platform()
    from django_tenants.utils import tenant_context
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from leads.models import Lead, Stage, StageKind

    tenant = bench_tenant("sockbench")
    host = tenant.domains.first().domain
    with tenant_context(tenant):
        owner = User.objects.get(email="owner@sockbench.test")
        token = Token.objects.get_or_create(user=owner)[0].key
        lead = Lead.objects.create(name="Bench", phone="77010000001",
                                   stage=Stage.objects.get(kind=StageKind.IN_DIALOG))
    with Server("buildcrm.asgi:application", name="sockets") as server:
        rows = [asyncio.run(_phase(server, host=host, token=token, lead_id=lead.pk, sockets=n, changes=args.changes))
                for n in (1, args.sockets)]
    print(f"{'sockets':>8} {'open s':>7} {'KB/socket':>9} {'RSS MB':>7} {'events':>7} {'missing':>7} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'save→event p50':>15} {'p95':>7}")
    for r in rows:
        print(f"{r['sockets']:>8} {r['open_s']:>7.1f} {r['rss_per_socket_kb']:>9.1f} {r['rss_mb']:>7.0f} "
              f"{r['events']:>7} {r['missing']:>7} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['max_ms']:>7.1f} "
              f"{r['save_p50_ms']:>15.1f} {r['save_p95_ms']:>7.1f}")
    base, big = rows
    print(f"p95 ratio {big['sockets']} sockets / 1 socket: {big['p95_ms'] / base['p95_ms']:.1f}x; "
          f"target p95 < 500 ms at 2,000: {'met' if big['p95_ms'] < 500 and not big['missing'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
