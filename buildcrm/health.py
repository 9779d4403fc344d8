"""/healthz: database, Redis and worker liveness as JSON."""
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        detail = fn()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}
    except Exception as exc:  # a health probe reports every failure instead of raising it
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).ping()


def _workers() -> dict:
    from buildcrm.celery import app

    replies = app.control.ping(timeout=1.0) or []
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return {"workers": sorted(name for reply in replies for name in reply)}


def healthz(request):
    checks = {"database": _check(_database), "redis": _check(_redis), "worker": _check(_workers)}
    ok = checks["database"]["ok"] and checks["redis"]["ok"]
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)
