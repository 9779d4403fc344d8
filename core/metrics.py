"""Prometheus metrics: every counter, gauge and histogram of the product, and the one-line helpers the seams call
(the webhook entry, the inbound store, the send pipeline, the AI turn, the follow-up sweep, the websocket consumer).

Web and worker processes each write their own samples; with `PROMETHEUS_MULTIPROC_DIR` set (devstack and the
Procfile's runner set it, and empty it at start) they write them to files there, which `/metrics` adds up
(prometheus-client's multiprocess mode). The variable must be in the environment before this module is imported.
Values read at scrape time (queue depth, drain lag, follow-ups due) are collected by `buildcrm.metrics`.

Labels stay bounded: providers and channels are a fixed set (the callers map anything else to "other"), reasons
are classified here. A `tenant` label is added only with METRICS_TENANT_LABELS=1 (opt-in: one series per tenant).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

# Read from the environment, not settings: label names are fixed when the metrics are defined, at import.
TENANT_LABELS = os.environ.get("METRICS_TENANT_LABELS", "") in ("1", "true", "yes")
_T = ["tenant"] if TENANT_LABELS else []

WEBHOOKS = Counter("buildcrm_webhooks", "Webhooks answered, by provider and HTTP status", ["provider", "status", *_T])
MESSAGES = Counter(
    "buildcrm_messages",
    "Messages by channel and what happened to them: stored (a client's, "
    "inbound), sent (the provider accepted ours), failed (ours, given up)",
    ["channel", "event", *_T],
)
OUTBOUND_LATENCY = Histogram(
    "buildcrm_outbound_provider_seconds",
    "Time of one send call to the provider",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
AI_TURN = Histogram(
    "buildcrm_ai_turn_seconds",
    "One AI turn of one lead, from the worker picking it up to the reply queued, by result",
    ["result"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 45, 90),
)
LLM_ERRORS = Counter("buildcrm_llm_errors", "LLM calls that failed (the offline brain answered), by reason", ["reason"])
FOLLOWUPS_DUE = Counter("buildcrm_followups_due", "Follow-up touches that came due and were claimed by a sweep")
FOLLOWUPS_SENT = Counter("buildcrm_followups_sent", "Follow-up touches sent")
FOLLOWUP_LATENESS = Histogram(
    "buildcrm_followup_lateness_seconds",
    "How late a follow-up touch went out after its due time",
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
WS_CONNECTIONS = Gauge("buildcrm_websocket_connections", "Open CRM websockets", multiprocess_mode="livesum")

_LLM_REASONS = (  # first match wins: (label, pattern over the lowercased reason)
    ("timeout", re.compile(r"timed? ?out|timeout|budget")),
    ("rate_limited", re.compile(r"\b429\b|rate")),
    ("http_5xx", re.compile(r"\b5\d\d\b")),
    ("http_4xx", re.compile(r"\b4\d\d\b")),
    ("connection", re.compile(r"connect|network|resolve|refused|reset")),
    ("bad_response", re.compile(r"json|invalid|malformed|tool|empty|parse")),
)


def _t(labels: dict, tenant: str | None) -> dict:
    if TENANT_LABELS:
        labels["tenant"] = tenant or ""
    return labels


def webhook_answered(*, provider: str, status: int | str, tenant: str | None = None) -> None:
    WEBHOOKS.labels(**_t({"provider": provider, "status": str(status)}, tenant)).inc()


def messages_counted(*, channel: str, event: str, count: int = 1, tenant: str | None = None) -> None:
    if count:
        MESSAGES.labels(**_t({"channel": channel or "other", "event": event}, tenant)).inc(count)


@contextmanager
def provider_call(provider: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        OUTBOUND_LATENCY.labels(provider=provider or "other").observe(time.perf_counter() - started)


def ai_turn_observed(*, result: str, seconds: float) -> None:
    AI_TURN.labels(result=result if re.fullmatch(r"[a-z_]{1,20}", result or "") else "other").observe(seconds)


def llm_reason(reason: str) -> str:
    """A bounded label for an LLM failure's free-text reason."""
    text = (reason or "")[:300].lower()
    return next((label for label, pattern in _LLM_REASONS if pattern.search(text)), "other")


def llm_failed(reason: str) -> None:
    LLM_ERRORS.labels(reason=llm_reason(reason)).inc()


def followups_claimed(count: int) -> None:
    if count:
        FOLLOWUPS_DUE.inc(count)


def followups_sent(lateness_seconds: Iterable[float]) -> None:
    for seconds in lateness_seconds:
        FOLLOWUPS_SENT.inc()
        FOLLOWUP_LATENESS.observe(max(0.0, seconds))


def websocket_opened() -> None:
    WS_CONNECTIONS.inc()


def websocket_closed() -> None:
    WS_CONNECTIONS.dec()
