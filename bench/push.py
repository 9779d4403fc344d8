"""Time from an event to the browser's push service receiving the push, with a real Celery worker process.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/push.py [--events 30]

A manager's phone is subscribed (its push service: a local stand-in that checks the VAPID JWT and decrypts the body
with the phone's key, tests/notifications/pushservice.py). Two series, each event waiting for its push before the
next:
1. a client message on the manager's lead, stored as the webhook stores it (inbound_receive) → the worker drains it
   → `messages.received` → the notifications listener queues the task → the worker encrypts, signs and POSTs;
2. `lead.became_hot` emitted and committed here → the same task → the POST.
Baseline, same run: one bare encrypt + sign + POST to the stand-in from this process (integrations.webpush.send).
Prints p50/p95 of each series and their ratio to the baseline's p50. Target (issue 16): p95 ≤ 2 s.
"""
import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from bench.common import bench_tenant, percentile, start_workers, stop  # noqa: E402
from tenants.services import platform_setup  # noqa: E402
from tests.notifications.pushservice import PushService  # noqa: E402


def wait_push(service: PushService, count: int, timeout: float = 30.0):
    received = service.wait_for(count, timeout=timeout)
    if len(received) < count:
        raise SystemExit(f"push {count} did not arrive within {timeout}s")
    push = received[count - 1]
    if push.problem:
        raise SystemExit(f"the push service refused push {count}: {push.problem}")
    return push


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()

    from accounts.models import User
    from conversations.services import inbound_receive
    from core.events import emit
    from integrations import sandbox, webpush
    from leads.models import Lead
    from notifications.services import push_subscribe
    from tenants.selectors import platform_vapid_keys

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    platform_setup()
    tenant = bench_tenant(f"push{uuid.uuid4().hex[:6]}")
    service = PushService()
    phone_number = "77015550101"
    with tenant_context(tenant):
        manager = User.objects.create_user(f"manager@{tenant.slug}.test", "Bench-pass-123!", role="manager")
        endpoint, device = service.subscribe("manager-phone")
        push_subscribe(user=manager, endpoint=endpoint, p256dh=device.p256dh, auth=device.auth_b64)

    # Baseline: what one push costs on its own (encrypt, sign, POST, the stand-in's checks).
    private_key = platform_vapid_keys()[0]
    bare = []
    for _ in range(args.events):
        started = time.perf_counter()
        webpush.send(endpoint=endpoint, p256dh=device.p256dh, auth=device.auth_b64, payload={"title": "x"},
                     private_key=private_key, subject=settings.WEBPUSH_SUBJECT)
        bare.append(time.perf_counter() - started)
    service.received.clear()

    procs = start_workers(1, 2)
    try:
        time.sleep(4)  # let the worker connect
        with tenant_context(tenant):
            first = sandbox.inbound(phone_number, "Клиент", "Здравствуйте")
            inbound_receive(provider="sandbox", items=[first], raw={"text": "hi"}, event_id=first.provider_message_id)
        deadline = time.monotonic() + 30
        lead = None
        while lead is None and time.monotonic() < deadline:
            with tenant_context(tenant):
                lead = Lead.objects.filter(phone=phone_number).first()
            time.sleep(0.05)
        if lead is None:
            raise SystemExit("the worker did not make the lead")
        with tenant_context(tenant):
            Lead.objects.filter(pk=lead.pk).update(assignee=manager)
        time.sleep(1)

        replied, hot = [], []
        for n in range(args.events):
            with tenant_context(tenant):
                item = sandbox.inbound(phone_number, "Клиент", f"Вопрос {n}")
                started = time.perf_counter()
                inbound_receive(provider="sandbox", items=[item], raw={"text": n}, event_id=item.provider_message_id)
            push = wait_push(service, len(service.received) + 1)
            replied.append(push.at - started)
            time.sleep(0.2)
        for _ in range(args.events):
            with tenant_context(tenant):
                started = time.perf_counter()
                emit("lead.became_hot", lead_id=lead.pk, assignee_id=manager.pk)  # autocommit: committed here
            push = wait_push(service, len(service.received) + 1)
            hot.append(push.at - started)
            time.sleep(0.2)
    finally:
        stop(procs)
        service.close()
        connection.set_schema_to_public()

    base = percentile(bare, 50)
    print(f"baseline: bare encrypt+sign+POST p50={base * 1000:.1f} ms p95={percentile(bare, 95) * 1000:.1f} ms")
    for name, samples in (("client message → push", replied), ("emit+commit → push", hot)):
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        print(f"{name}: n={len(samples)} p50={p50 * 1000:.0f} ms p95={p95 * 1000:.0f} ms "
              f"max={max(samples) * 1000:.0f} ms ratio p50/baseline={p50 / base:.1f}x  target p95 ≤ 2000 ms: "
              f"{'ok' if p95 <= 2.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
