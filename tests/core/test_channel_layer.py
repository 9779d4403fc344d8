"""core.channel_layer: a receive ends on a cancel that was swallowed earlier in its task (redis-py's read sometimes
loses one; channels_redis then re-issues BZPOPMIN every 5 s and an event loop's shutdown waited on it forever)."""
from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from core.channel_layer import ChannelLayer

pytestmark = pytest.mark.live


@pytest.mark.asyncio
async def test_a_receive_ends_on_a_cancel_its_task_swallowed(live_db):
    layer = get_channel_layer()
    assert isinstance(layer, ChannelLayer)
    channel = await layer.new_channel()
    started = asyncio.Event()

    async def reader() -> None:
        try:
            started.set()
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # lost, as inside a read: the task stays "cancelling"
        await layer.receive(channel)  # nothing ever comes on this channel

    task = asyncio.ensure_future(reader())
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=15)
    assert task in done, "the receive went on waiting after its task was cancelled"
    assert task.cancelled()


@pytest.mark.asyncio
async def test_a_receive_without_a_cancel_still_gets_its_message(live_db):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)
    await layer.send(channel, {"type": "crm.event", "event": {"n": 1}})
    assert (await asyncio.wait_for(receiving, 10))["event"] == {"n": 1}
