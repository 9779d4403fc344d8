"""`/metrics` on the platform host: Prometheus text for a scraper holding `METRICS_TOKEN` (bearer).

No token configured → 404 (the endpoint does not exist); a missing or wrong token → 401. The samples of every
process (web, workers) are added up from `PROMETHEUS_MULTIPROC_DIR` when it is set, else this process's own
(core.metrics). Read at scrape, here: the Celery queues' depth (Redis LLEN), the inbound drain lag (age of the
oldest client message waiting for a worker) and the follow-ups due but not sent, over every active tenant.
"""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from psycopg import sql

from core.metrics import TENANT_LABELS
from core.redis_client import redis_client
from tenants.selectors import tenants_active

log = logging.getLogger("buildcrm.metrics")
# kombu's Redis transport keeps a queue's messages of priority > 0 in lists named queue + '\x06\x16' + step.
_PRIORITY_SUFFIXES = ("", *(f"\x06\x16{step}" for step in (1, 2, 3, 4, 5, 6, 7, 8, 9)))


def celery_queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue (settings.METRICS_CELERY_QUEUES), one Redis round trip."""
    queues = list(settings.METRICS_CELERY_QUEUES)
    pipe = redis_client().pipeline(transaction=False)
    for queue in queues:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    counts = pipe.execute()
    per = len(_PRIORITY_SUFFIXES)
    return {queue: sum(counts[i * per : (i + 1) * per]) for i, queue in enumerate(queues)}


def tenant_backlogs() -> list[tuple[str, float, int]]:
    """(schema, age in seconds of the oldest pending inbound message or 0, follow-ups due and not sent) per active
    tenant, in one statement over all their schemas (each part an index lookup)."""
    schemas = list(tenants_active().values_list("schema_name", flat=True))
    if not schemas:
        return []
    parts = [
        sql.SQL(
            "SELECT {name}::text, (SELECT created_at FROM {s}.conversations_message WHERE inbound_pending ORDER BY id "
            "LIMIT 1), (SELECT count(*) FROM {s}.followups_followup WHERE status = 'pending' AND due_at <= now())"
        ).format(name=sql.Literal(schema), s=sql.Identifier(schema))
        for schema in schemas
    ]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(" UNION ALL ").join(parts))
        rows = cursor.fetchall()
    return [(schema, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0, due) for schema, oldest, due in rows]


class ScrapeCollector:
    """Gauges whose value is read when Prometheus scrapes (so workers need not report them)."""

    def collect(self):
        depth = GaugeMetricFamily("buildcrm_celery_queue_depth", "Tasks waiting in a Celery queue", labels=["queue"])
        try:
            for queue, count in celery_queue_depths().items():
                depth.add_metric([queue], count)
        except Exception as exc:  # Redis down: the other figures still go out
            log.warning("metrics: queue depth not read: %s", exc)
        yield depth
        labels = ["tenant"] if TENANT_LABELS else []
        lag = GaugeMetricFamily(
            "buildcrm_inbound_drain_lag_seconds",
            "Age of the oldest stored client message not yet processed by a worker",
            labels=labels,
        )
        due = GaugeMetricFamily("buildcrm_followups_overdue", "Follow-up touches due and not yet sent", labels=labels)
        try:
            rows = tenant_backlogs()
        except Exception as exc:
            log.warning("metrics: tenant backlogs not read: %s", exc)
            rows = None
        if rows is not None:
            if TENANT_LABELS:
                for schema, age, count in rows:
                    lag.add_metric([schema], age)
                    due.add_metric([schema], count)
            else:
                lag.add_metric([], max((age for _, age, _ in rows), default=0.0))
                due.add_metric([], sum(count for _, _, count in rows))
            yield lag
            yield due


_local_registered = False


def _registry():
    global _local_registered
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(ScrapeCollector())
        return registry
    if not _local_registered:
        REGISTRY.register(ScrapeCollector())
        _local_registered = True
    return REGISTRY


def metrics_view(request):
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"detail": "not found"}, status=404)
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        response = JsonResponse({"detail": "a bearer token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = generate_latest(_registry())
    finally:
        connection.set_schema_to_public()
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
