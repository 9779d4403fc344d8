"""Rate limit of the webhook entry: per webhook URL (one tenant's token of one provider), in Redis, so every
web process shares it. One Redis round trip per webhook (a GCRA script: a steady rate plus a burst); when
Redis is down or slow the webhook goes through unlimited — a limiter must never lose or refuse a real message
because of itself (a short timeout, then Redis is left alone for a few seconds)."""
from __future__ import annotations

import logging
import math
import threading
import time

import redis
from django.conf import settings
from redis.exceptions import RedisError

log = logging.getLogger("buildcrm.webhooks")

REDIS_TIMEOUT = 0.25  # seconds; a webhook waits at most this for the limiter
REDIS_BACKOFF = 5.0  # seconds without asking Redis after it failed

# Generic cell rate algorithm: the key holds the theoretical arrival time (TAT, µs on Redis's clock) of the
# next request. A request is allowed while TAT - burst ≤ now; each allowed one moves TAT by one interval.
# Returns 0 when allowed (and counted), else the microseconds until one more would be.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - burst > now then
  return math.max(1, next_tat - burst - now)
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return 0
"""

_lock = threading.Lock()
_scripts: dict[str, object] = {}
_skip_until: dict[str, float] = {}  # per Redis URL: when to ask it again after it failed


def _script(url: str):
    script = _scripts.get(url)
    if script is None:
        with _lock:
            script = _scripts.get(url)
            if script is None:
                client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT,
                                              socket_connect_timeout=REDIS_TIMEOUT)
                script = _scripts[url] = client.register_script(_GCRA)
    return script


def webhook_rate_wait(*, tenant_id: int, provider: str) -> float:
    """Counts one webhook of this tenant's `provider` URL; returns 0 when it may go through, else the seconds
    until one more would be allowed (the caller answers 429 with Retry-After). WEBHOOK_RATE_PER_SECOND 0
    switches the limit off."""
    rate, url = float(settings.WEBHOOK_RATE_PER_SECOND), settings.REDIS_URL
    if rate <= 0 or time.monotonic() < _skip_until.get(url, 0.0):
        return 0.0
    interval = 1_000_000 / rate
    burst = interval * max(1, int(settings.WEBHOOK_RATE_BURST))
    try:
        wait_us = int(_script(url)(keys=[f"webhook-rate:{tenant_id}:{provider}"], args=[int(interval), int(burst)]))
    except (RedisError, OSError) as exc:
        _skip_until[url] = time.monotonic() + REDIS_BACKOFF
        log.warning("webhook rate limit off for %.0f s: redis failed: %s", REDIS_BACKOFF, exc)
        return 0.0
    return wait_us / 1_000_000


def retry_after(wait: float) -> str:
    """The Retry-After header (whole seconds, at least 1) for a wait in seconds."""
    return str(max(1, math.ceil(wait)))
