"""100,000 follow-ups due at once across 10 tenants, swept and sent by two real Celery worker processes.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/followups.py [--per-tenant 10000]

Each tenant has its own time zone. Seven are in their working day; three are inside their quiet hours, which
end about two minutes after the start: their follow-ups must move to the end of quiet hours (plus the spread)
and go out only then. The bench plays Celery beat (it fans `followups.tasks.sweep_due` out to every tenant
every 5 s through `tenants.tasks.dispatch_to_tenants`, as the beat schedule does); the workers claim, send
through `message_send` and deliver through the real send pipeline (sandbox channel).

First, in the same run, the baseline: 10,000 follow-ups due at once in one tenant, swept and sent by one worker
process of concurrency 1 (what one slot does alone). Then the 100,000.

Prints sends per second (over the whole run, which includes waiting for quiet hours to end, and over the burst of
rows due at the start outside quiet hours, with its ratio to the baseline), the worst lateness (message delivered
− due time, the due time after any quiet-hours move) and its p50/p95, duplicates and sends inside quiet hours.
Target (issue 5): all sent within 300 s, 0 duplicates, 0 inside quiet hours.
"""
import argparse
import os
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from bench.common import percentile, start_workers, stop  # noqa: E402
from tenants.services import platform_setup, tenant_config_import, tenant_provision  # noqa: E402

ZONES = ["Asia/Almaty", "Europe/Moscow", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "UTC", "Asia/Dubai",
         "Australia/Sydney", "America/Los_Angeles", "Asia/Kolkata"]
QUIET_TENANTS = {2, 5, 8}  # inside quiet hours at the start; they end ~2 minutes later


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _quiet_hours(tz: str, now: datetime, quiet_now: bool) -> dict:
    local = now.astimezone(ZoneInfo(tz))
    if quiet_now:  # started three hours ago, ends at the second minute boundary from now
        end = (local + timedelta(minutes=2)).replace(second=0, microsecond=0)
        if (end - local).total_seconds() < 90:
            end += timedelta(minutes=1)
        return {"start": _hhmm(local - timedelta(hours=3)), "end": _hhmm(end)}
    return {"start": _hhmm(local + timedelta(hours=6)), "end": _hhmm(local + timedelta(hours=8))}


FOLLOWUPS = {"enabled": True, "max_per_lead": 3, "spread_minutes": 1,
             "steps": [{"after_minutes": 15, "text": "Подскажите, актуально?"},
                       {"after_minutes": 45, "text": "Когда удобно созвониться?"}]}
NOT_DUE = timedelta(days=1)  # rows wait here until their phase makes them due at once


def setup(per_tenant: int, tag: str, zones: list[str], name: str = "") -> list:
    from followups.models import FollowUp
    from leads.models import Lead, Stage, StageKind

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    platform_setup()
    now = timezone.now()
    tenants = []
    for i, tz in enumerate(zones):
        result = tenant_provision(slug=f"fb{tag}{name}{i}", name=f"Bench {name}{i}", owner_email=f"o{i}{name}@bench.kz",
                                  owner_password="Bench-pass-2026", timezone_name=tz)
        tenant = result.tenant
        tenant_config_import(tenant, {"timezone": tz, "ai": {"enabled": True, "provider": "offline"},
                                      "followups": {**FOLLOWUPS, "quiet_hours": _quiet_hours(tz, now, False)}})
        tenant.refresh_from_db()
        with tenant_context(tenant):
            stage = Stage.objects.get(kind=StageKind.IN_DIALOG)
            hour_ago, two_hours_ago = now - timedelta(hours=1), now - timedelta(hours=2)
            leads = Lead.objects.bulk_create(
                [Lead(name=f"Клиент {n}", phone=f"7701{i:02d}{n:06d}", stage=stage, provider="sandbox",
                      channel="sandbox", last_inbound_at=two_hours_ago, last_outbound_at=hour_ago,
                      last_message_at=hour_ago, waiting_since=hour_ago) for n in range(per_tenant)],
                batch_size=5000)
            FollowUp.objects.bulk_create(
                [FollowUp(lead=lead, kind="followup", step=1, text="Подскажите, актуально?", due_at=now + NOT_DUE,
                          planned_at=now, gap_minutes=15) for lead in leads], batch_size=5000)
        tenants.append(tenant)
    connection.set_schema_to_public()
    return tenants


def arm_quiet_hours(tenants) -> None:
    """Quiet hours that started three hours ago and end ~2 minutes from now for QUIET_TENANTS, far away for the
    rest: set just before the phase's workers start (they read the tenant's config as they find it)."""
    now = timezone.now()
    for i, tenant in enumerate(tenants):
        tz = tenant.config["timezone"]
        quiet_hours = _quiet_hours(tz, now, i in QUIET_TENANTS)
        tenant_config_import(tenant, {"followups": {**FOLLOWUPS, "quiet_hours": quiet_hours}})
        tenant.refresh_from_db()
        print(f"tenant {tenant.slug} {tz:20} quiet_hours={tenant.config['followups']['quiet_hours']}", flush=True)


def run_phase(tenants, total: int, *, workers: int, concurrency: int, timeout: int) -> datetime:
    """Starts the workers, makes every pending row of `tenants` due at once, plays beat until all are delivered.
    Returns the moment the rows fell due."""
    from followups.models import FollowUp
    from tenants.tasks import dispatch_to_tenants

    procs = start_workers(workers, concurrency)
    try:
        time.sleep(3)  # let the workers connect
        start = timezone.now()
        for tenant in tenants:  # "due at once": every row falls due now
            with tenant_context(tenant):
                FollowUp.objects.filter(status="pending").update(due_at=start)
        connection.set_schema_to_public()
        deadline = time.monotonic() + timeout
        next_beat = 0.0
        last_print = 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_beat:  # the beat: fan the sweep out to every tenant every 5 s
                dispatch_to_tenants.delay("followups.tasks.sweep_due")
                next_beat = now + 5
            if now - last_print >= 10:
                claimed, delivered = counts(tenants)
                print(f"t={(timezone.now() - start).total_seconds():5.0f}s claimed+queued={claimed:6d} "
                      f"delivered={delivered:6d}", flush=True)
                last_print = now
                if delivered >= total:
                    break
            time.sleep(0.5)
    finally:
        stop(procs)
    return start


def last_delivery(tenants) -> datetime:
    from django.db.models import Max

    from conversations.models import Message

    latest = []
    for tenant in tenants:
        with tenant_context(tenant):
            latest.append(Message.objects.filter(purpose="followup", status="sent").aggregate(at=Max("sent_at"))["at"])
    connection.set_schema_to_public()
    return max(latest)


def counts(tenants) -> tuple[int, int]:
    from conversations.models import Message
    from followups.models import FollowUp

    claimed = delivered = 0
    for tenant in tenants:
        with tenant_context(tenant):
            claimed += FollowUp.objects.filter(status="sent").count()
            delivered += Message.objects.filter(purpose="followup", status="sent").count()
    connection.set_schema_to_public()
    return claimed, delivered


def report(tenants, start: datetime, total: int, baseline_rate: float | None) -> bool:
    from django.db.models import Count

    from conversations.models import Message
    from followups.models import FollowUp
    from followups.scheduling import in_quiet_hours, settings_current

    last_sent = last_unmoved = None
    worst_delivery = worst_claim = timedelta(0)
    duplicates = quiet_sends = not_sent = unmoved = 0
    lateness: list[float] = []
    for tenant in tenants:
        with tenant_context(tenant):
            s = settings_current()
            rows = FollowUp.objects.filter(kind="followup").values_list("status", "due_at", "done_at",
                                                                         "message__sent_at")
            for status, due_at, done_at, sent_at in rows:
                if status != "sent" or sent_at is None:
                    not_sent += 1
                    continue
                worst_claim = max(worst_claim, done_at - due_at)
                worst_delivery = max(worst_delivery, sent_at - due_at)
                lateness.append((sent_at - due_at).total_seconds())
                last_sent = max(last_sent or sent_at, sent_at)
                if due_at == start:  # due at once and not moved by quiet hours: the burst itself
                    unmoved += 1
                    last_unmoved = max(last_unmoved or sent_at, sent_at)
                if in_quiet_hours(sent_at, s) or in_quiet_hours(done_at, s):
                    quiet_sends += 1
            per_row = (Message.objects.filter(purpose="followup").values("meta__followup_id")
                       .annotate(n=Count("id")).filter(n__gt=1).count())
            per_lead = (Message.objects.filter(purpose="followup").values("lead_id").annotate(n=Count("id"))
                        .filter(n__gt=1).count())
            duplicates += per_row + per_lead
    connection.set_schema_to_public()
    elapsed = (last_sent - start).total_seconds() if last_sent else float("inf")
    sent = total - not_sent
    print(f"\nfollow-ups due: {total} across {len(tenants)} tenants; sent and delivered: {sent}")
    print(f"all delivered after: {elapsed:.1f} s | sends per second: {sent / elapsed:.0f} (over the whole run, "
          f"which includes waiting for quiet hours to end)")
    if last_unmoved:
        burst = (last_unmoved - start).total_seconds()
        print(f"the burst (due at the start, outside quiet hours): {unmoved} delivered in {burst:.1f} s "
              f"= {unmoved / burst:.0f} sends per second")
        if baseline_rate:
            print(f"ratio to the baseline (one worker process of concurrency 1, same run): "
                  f"{unmoved / burst / baseline_rate:.2f}")
    print(f"worst lateness: delivered {worst_delivery.total_seconds():.1f} s after due "
          f"(claimed and queued {worst_claim.total_seconds():.1f} s after due); "
          f"lateness p50 {percentile(lateness, 50):.1f} s, p95 {percentile(lateness, 95):.1f} s")
    print(f"duplicates: {duplicates} | sent inside quiet hours: {quiet_sends} | not sent: {not_sent}")
    ok = not_sent == 0 and elapsed <= 300 and duplicates == 0 and quiet_sends == 0
    print(f"target (all within 300 s, 0 duplicates, 0 in quiet hours): {'OK' if ok else 'MISSED'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-tenant", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:4]
    started_setup = time.monotonic()
    tenants = setup(args.per_tenant, tag, ZONES)
    baseline_tenants = setup(args.baseline_rows, tag, ZONES[:1], name="base") if args.baseline_rows else []
    total = args.per_tenant * len(tenants)
    print(f"setup: {total} follow-ups (+{args.baseline_rows} for the baseline) in "
          f"{time.monotonic() - started_setup:.0f} s", flush=True)

    baseline_rate = None
    if baseline_tenants:
        print(f"\nbaseline: {args.baseline_rows} due at once in one tenant, one worker process of concurrency 1",
              flush=True)
        start = run_phase(baseline_tenants, args.baseline_rows, workers=1, concurrency=1, timeout=args.timeout)
        baseline_rate = args.baseline_rows / (last_delivery(baseline_tenants) - start).total_seconds()
        print(f"baseline: {baseline_rate:.0f} sends per second", flush=True)

    print(f"\n{total} due at once across {len(tenants)} tenants, {args.workers} worker processes of concurrency "
          f"{args.concurrency}", flush=True)
    arm_quiet_hours(tenants)
    start = run_phase(tenants, total, workers=args.workers, concurrency=args.concurrency, timeout=args.timeout)
    ok = report(tenants, start, total, baseline_rate)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
