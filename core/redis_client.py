"""One Redis client per process and URL (parallel test workers use different Redis databases)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from redis.exceptions import LockError

log = logging.getLogger("buildcrm")
_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def redis_client() -> redis.Redis:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = redis.Redis.from_url(url)
    return client


@contextmanager
def redis_lock(name: str, *, timeout: float, wait: float | None = None) -> Iterator[bool]:
    """A Redis lock held for the block, shared by every process; yields whether it was acquired (`wait`: how
    long to wait for it; None: not at all). A lock that expired before the block ended is only logged: the
    block's work is done by then."""
    lock = redis_client().lock(name, timeout=timeout, blocking_timeout=wait)
    acquired = bool(lock.acquire(blocking=wait is not None))
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except LockError:
                log.warning("lock %s expired before its holder finished", name)
