"""The channel layer (live events between processes) with a connection pool that waits instead of failing.

channels_redis builds redis-py's plain ConnectionPool, which raises "Too many connections" once its 100 connections
are in use: a burst of board sockets connecting at once (every PWA reconnecting after a deploy) failed the
handshakes past the hundredth with a 500 (seen in bench/sockets.py). Here the pool is a BlockingConnectionPool:
past `CHANNEL_REDIS_MAX_CONNECTIONS` a caller waits up to `CHANNEL_REDIS_POOL_TIMEOUT` seconds for a free one.
"""
from __future__ import annotations

from channels_redis.core import RedisChannelLayer
from django.conf import settings
from redis.asyncio import BlockingConnectionPool


class ChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, max_connections=settings.CHANNEL_REDIS_MAX_CONNECTIONS,
                                               timeout=settings.CHANNEL_REDIS_POOL_TIMEOUT, **host)
