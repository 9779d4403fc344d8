"""Websocket group names and publishing. Groups are built from ids, never from raw schema names.

Publishing runs on one long-lived event loop per process (a daemon thread) with a channel layer of its
own: `async_to_sync(group_send)` from sync code would build a new loop — and a new Redis connection — for
every event, which dominated the cost of storing a webhook or sending a follow-up. Events are
fire-and-forget: a failed publish is logged, never raised into the business transaction.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from concurrent.futures import Future

log = logging.getLogger("buildcrm.realtime")

_state: dict = {"pid": None, "loop": None, "queue": None}
_lock = threading.Lock()


def group_staff(tenant_id: int) -> str:
    """Users who see every lead of the tenant."""
    return f"t{tenant_id}.staff"


def group_user(tenant_id: int, user_id: int) -> str:
    """A manager who sees only the leads assigned to them."""
    return f"t{tenant_id}.u{user_id}"


def group_account(tenant_id: int, user_id: int) -> str:
    """Every socket of one user, whatever they see (to close them when their credentials are revoked)."""
    return f"t{tenant_id}.a{user_id}"


def session_fingerprint(session_key: str | None) -> str:
    """How a socket and a revocation name a login session without passing its key around."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else ""


def _publisher():
    with _lock:
        # A forked worker process (Celery prefork) must not reuse its parent's loop thread.
        if _state["pid"] != os.getpid() or _state["loop"] is None or _state["loop"].is_closed():
            from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

            loop = asyncio.new_event_loop()
            layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
            queue: asyncio.Queue = asyncio.Queue()

            async def drain() -> None:
                # One consumer keeps events in the order they were published (lead.created before its message).
                while True:
                    groups, event, handler, future = await queue.get()
                    try:
                        for group in groups:
                            await layer.group_send(group, {"type": handler, "event": event})
                        future.set_result(None)
                    except Exception as exc:  # never raised into the caller's transaction
                        log.warning("websocket publish failed: %s", exc)
                        future.set_exception(exc)

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.create_task(drain())
                loop.run_forever()

            threading.Thread(target=run, name="realtime-publisher", daemon=True).start()
            _state.update(pid=os.getpid(), loop=loop, queue=queue)
        return _state["loop"], _state["queue"]


def publish(groups: list[str], event: dict, *, handler: str = "crm.event") -> Future:
    """Queues `event` to every group, in publishing order; returns a future that resolves once sent. `handler`
    names the consumer method that gets it (crm.event: forwarded to the browser as it is)."""
    loop, queue = _publisher()
    future: Future = Future()
    loop.call_soon_threadsafe(queue.put_nowait, (groups, event, handler, future))
    return future
