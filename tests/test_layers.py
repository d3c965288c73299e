"""The single-process channel layer (conversations/layers.py)."""

import asyncio

import pytest

from conversations.layers import LocalChannelLayer


async def test_a_group_send_reaches_every_member_in_order_and_no_one_else():
    layer = LocalChannelLayer()
    one, two, other = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("conversation-1", one)
    await layer.group_add("conversation-1", two)
    await layer.group_add("conversation-2", other)
    frame = {"type": "conversation.frame", "frame": {"text": "Hi"}}

    await layer.group_send("conversation-1", frame)
    frame["frame"]["text"] = "changed by the sender afterwards"
    await layer.group_send("conversation-1", {"type": "conversation.frame", "n": 2})

    for channel in (one, two):
        assert (await layer.receive(channel))["frame"] == {"text": "Hi"}
        assert (await layer.receive(channel))["n"] == 2
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(other), 0.05)


async def test_a_full_channel_misses_the_message_and_the_others_still_get_it():
    layer = LocalChannelLayer(capacity=1)
    full, free = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", full)
    await layer.group_add("g", free)
    await layer.send(full, {"type": "first"})

    await layer.group_send("g", {"type": "second"})

    assert (await layer.receive(full))["type"] == "first"
    assert (await layer.receive(free))["type"] == "second"


async def test_a_member_past_the_group_expiry_is_dropped():
    layer = LocalChannelLayer(group_expiry=10)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    layer.groups["g"][channel] -= 60  # joined a minute ago

    await layer.group_send("g", {"type": "frame"})

    assert channel not in layer.groups.get("g", {})


async def test_a_receiver_that_goes_away_leaves_no_queue_behind():
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "frame", "n": 1})
    assert (await layer.receive(channel))["n"] == 1
    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    assert channel not in layer.channels
    # A message sent later is still received by whoever listens next.
    await layer.group_send("g", {"type": "frame", "n": 2})
    assert (await layer.receive(channel))["n"] == 2


async def test_an_expired_message_is_not_received():
    layer = LocalChannelLayer(expiry=60)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "old"})
    expires, message = layer.channels[channel]._queue[0]
    layer.channels[channel]._queue[0] = (expires - 120, message)
    layer._cleaned_at -= 2  # the once-a-second walk is due
    await layer.send(channel, {"type": "new"})

    assert (await layer.receive(channel))["type"] == "new"
