"""Webhook door bench: what the per-provider token lookup and the per-URL rate limit add to every webhook.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/webhook_door.py

In this process, against the embedded PostgreSQL and Redis, single-threaded, many rounds each:
  - the tenant lookup's statement by (token, provider) — one indexed query joined to its tenant — against the
    former statement by the tenant's single key, and the whole `tenants.selectors.tenant_by_webhook_key`;
  - the configured-provider check on the stored config;
  - the rate limit's one Redis round trip (`buildcrm.webhook_rate.webhook_rate_wait`), against a bare PING.
Prints the median and p99 of each in microseconds. bench/ingest.py measures the whole webhook under load.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_tenant, django_setup, setup_platform  # noqa: E402


def timed_together(fns: list, rounds: int) -> list[tuple[float, float]]:
    """(median, p99) µs of each function, their calls interleaved so a busy machine weighs on all alike."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            started = time.perf_counter_ns()
            fn()
            samples[i].append((time.perf_counter_ns() - started) / 1000)
    result = []
    for values in samples:
        values.sort()
        result.append((statistics.median(values), values[int(len(values) * 0.99) - 1]))
    return result


def main() -> int:
    setup_platform()
    django_setup()
    from django.conf import settings

    from buildcrm.webhook_rate import webhook_rate_wait
    from core.db import server_bound_cursor
    from core.redis_client import redis_client
    from tenants.models import Tenant, WebhookToken
    from tenants.selectors import _TENANT_BY_KEY_SQL, tenant_by_webhook_key, webhook_provider_configured

    tenant = bench_tenant("bench-door", {"channels": {"chatflow": {"token": "bench", "instance_id": "bench"}}})
    token = WebhookToken.objects.get(tenant=tenant, provider="chatflow").token
    fields = ", ".join(f.column for f in Tenant._meta.concrete_fields)
    former_sql = (f"SELECT {fields} FROM public.{Tenant._meta.db_table} WHERE webhook_key = %s AND is_active "
                  "AND NOT is_template AND schema_name <> 'public'")

    def statement(sql: str, params: list):
        def run() -> None:
            with server_bound_cursor() as cursor:
                cursor.execute(sql, params)
                assert cursor.fetchone() is not None

        return run

    former = statement(former_sql, [tenant.webhook_key])
    joined = statement(_TENANT_BY_KEY_SQL, [token, "chatflow"])

    def lookup() -> None:
        assert tenant_by_webhook_key(token, provider="chatflow") is not None

    def configured() -> None:
        webhook_provider_configured(config=tenant.config, provider="chatflow")

    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 1_000_000, 1_000_000
    ping = redis_client().ping
    rounds = 5000
    def rate() -> None:
        webhook_rate_wait(tenant_id=tenant.pk, provider="chatflow")

    steps = [("former statement (single key)", former), ("new statement (token, provider)", joined),
             ("tenant_by_webhook_key (+ the Tenant)", lookup), ("configured check", configured),
             ("redis PING (a bare round trip)", ping), ("rate limit (one EVALSHA)", rate)]
    timed_together([fn for _, fn in steps], 200)  # warm up: connections, prepared statements, the script
    rows = list(zip([name for name, _ in steps], timed_together([fn for _, fn in steps], rounds), strict=True))
    print(f"\n{_TENANT_BY_KEY_SQL}\n")
    print(f"{'step':<36} {'median µs':>10} {'p99 µs':>10}   ({rounds} rounds each)")
    for name, (median, p99) in rows:
        print(f"{name:<36} {median:>10.0f} {p99:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
