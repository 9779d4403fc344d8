"""The channel layer (live events between processes) with a connection pool that waits instead of failing.

channels_redis builds redis-py's plain ConnectionPool, which raises "Too many connections" once its 100 connections
are in use: a burst of board sockets connecting at once (every PWA reconnecting after a deploy) failed the
handshakes past the hundredth with a 500 (seen in bench/sockets.py). Here the pool is a BlockingConnectionPool:
past `CHANNEL_REDIS_MAX_CONNECTIONS` a caller waits up to `CHANNEL_REDIS_POOL_TIMEOUT` seconds for a free one.

A receive also ends on a cancel that redis-py's read swallowed: channels_redis re-issues BZPOPMIN every 5 s until a
message comes, so a task whose cancel was lost inside one read stayed "cancelling" forever and an event loop's
shutdown (pytest-asyncio's, daphne's) waited on it without end — caught with a stack dump of a hung test worker.
"""
from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer
from django.conf import settings
from redis.asyncio import BlockingConnectionPool


def _raise_if_cancel_pending() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError("a cancel requested earlier was swallowed by a read; ending the receive")


class ChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, max_connections=settings.CHANNEL_REDIS_MAX_CONNECTIONS,
                                               timeout=settings.CHANNEL_REDIS_POOL_TIMEOUT, **host)

    async def _brpop_with_clean(self, index, channel, timeout):
        # Each pass of receive_single's wait (≤ brpop_timeout, 5 s) checks for a cancel still pending. A message
        # popped by a pass whose task is being cancelled stays in the backup queue: the next receive puts it back.
        _raise_if_cancel_pending()
        member = await super()._brpop_with_clean(index, channel, timeout)
        _raise_if_cancel_pending()
        return member
