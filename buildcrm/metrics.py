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
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def _registry(*, scrape: bool = True):
    """The samples to expose: every process of this host (multiprocess mode) or this process's own, plus — when
    `scrape` — the gauges read at scrape time (once per deployment is enough: the web's, not each worker's)."""
    global _local_registered
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        if scrape:
            registry.register(ScrapeCollector())
        return registry
    if not scrape:
        return REGISTRY
    if not _local_registered:
        REGISTRY.register(ScrapeCollector())
        _local_registered = True
    return REGISTRY


def _bearer_ok(header: str) -> bool:
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), settings.METRICS_TOKEN.encode())


def metrics_serve(port: int, *, scrape: bool, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serves this host's samples on `port` (any path) in a daemon thread, with the same bearer token as /metrics.

    For several hosts and containers: Prometheus scrapes every web and worker replica on this port directly
    (deploy/prometheus.yml), with no tenant Host header to get right, and no replicas sharing a multiprocess
    directory (their pids would collide). Workers have no HTTP server of their own: this is theirs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if not settings.METRICS_TOKEN:
                self._answer(404, b"not found\n", "text/plain")
            elif not _bearer_ok(self.headers.get("Authorization", "")):
                self._answer(401, b"a bearer token is required\n", "text/plain",
                             {"WWW-Authenticate": 'Bearer realm="metrics"'})
            else:
                try:
                    body = generate_latest(_registry(scrape=scrape))
                finally:
                    connection.close()  # this thread's own connection, if the scrape gauges opened one
                self._answer(200, body, CONTENT_TYPE_LATEST)

        def _answer(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
            return  # one line per scrape would drown the console

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    log.info("metrics served on port %s", server.server_address[1])
    return server


def metrics_port_start(*, scrape: bool) -> ThreadingHTTPServer | None:
    """Starts `metrics_serve` on METRICS_PORT when it is set (daphne at import of the ASGI app, a Celery worker at
    its start); a port already taken is logged, never fatal to the process."""
    if not settings.METRICS_PORT:
        return None
    try:
        return metrics_serve(settings.METRICS_PORT, scrape=scrape)
    except OSError as exc:
        log.warning("metrics port %s not served: %s", settings.METRICS_PORT, exc)
        return None


def metrics_view(request):
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"detail": "not found"}, status=404)
    if not _bearer_ok(request.headers.get("Authorization", "")):
        response = JsonResponse({"detail": "a bearer token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = generate_latest(_registry())
    finally:
        connection.set_schema_to_public()
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
