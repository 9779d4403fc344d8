"""Websocket group names and publishing. Groups are built from ids, never from raw schema names.

Publishing runs on one long-lived event loop per process (a daemon thread) with a channel layer of its
own: `async_to_sync(group_send)` from sync code would build a new loop — and a new Redis connection — for
every event, which dominated the cost of storing a webhook or sending a follow-up. Events are
fire-and-forget: a failed publish is logged, never raised into the business transaction.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import weakref
from collections import defaultdict
from concurrent.futures import Future
from typing import Any

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


def group_tenant(tenant_id: int) -> str:
    """Every socket of the tenant (to close them all when the tenant is suspended)."""
    return f"t{tenant_id}.all"


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
                        for group in groups:  # the group rides along: a process fans it out to its own sockets
                            await layer.group_send(group, {"type": handler, "event": event, "group": group})
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


class LocalFanout:
    """One channel-layer membership per web process and group, fanned out to the process's own sockets.

    With one membership per socket, an event for a tenant of 2,000 open boards is 2,000 Redis messages, each popped
    by the process one round trip at a time (seconds per event, bench/sockets.py). Here the process joins each
    group once with a channel of its own, reads every event once, and hands it to each local member's handler
    (`crm.event` → `crm_event`), in order. One instance per event loop (a test's loop, daphne's loop)."""

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def current(cls, layer: Any) -> LocalFanout:
        loop = asyncio.get_running_loop()
        fanout = cls._by_loop.get(loop)
        if fanout is None or fanout.layer is not layer:
            fanout = cls._by_loop[loop] = cls(layer)
        return fanout

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.members: dict[str, set] = defaultdict(set)
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        self._starting = asyncio.Lock()

    async def _start(self) -> str:
        async with self._starting:
            if self.channel is None:
                # The default prefix: channels_redis pulls one process-specific list, shared with the consumers.
                self.channel = await self.layer.new_channel()
                self.reader = asyncio.get_running_loop().create_task(self._read(self.channel))
        return self.channel

    async def join(self, group: str, consumer: Any) -> None:
        channel = await self._start()
        self.members[group].add(consumer)
        # Every join refreshes the membership, so it never reaches the layer's group expiry while sockets come.
        await self.layer.group_add(group, channel)

    async def leave(self, group: str, consumer: Any) -> None:
        members = self.members.get(group)
        if members is None:
            return
        members.discard(consumer)
        if not members:
            del self.members[group]
            if self.channel is not None:
                await self.layer.group_discard(group, self.channel)

    async def _read(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away for a moment: the layer reconnects on the next receive
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A cancel that surfaced as another error (a read cut mid-way) still ends the reader: a loop
                    # shutting down waits for it, and swallowing it would hang that shutdown forever.
                    raise asyncio.CancelledError from exc
                log.warning("websocket fan-out receive failed: %s", exc)
                await asyncio.sleep(1)
                continue
            members = list(self.members.get(message.get("group") or "", ()))
            # A CRM event goes to the browser as it is: encoded once, written to every socket. (A consumer's
            # `dispatch` would encode it per socket and hop to a thread per socket to close stale DB connections.)
            text = json.dumps(message["event"]) if message.get("type") == "crm.event" else None
            for consumer in members:
                try:
                    if text is not None:
                        await consumer.send(text_data=text)
                    else:
                        await consumer.dispatch(message)
                except Exception as exc:  # one broken socket never stops the others' events
                    log.warning("websocket fan-out to one socket failed: %s", exc)
