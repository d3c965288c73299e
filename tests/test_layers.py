"""The channel layers (conversations/layers.py): one process's, and Redis's."""

import asyncio
import json

import pytest
import redis

from conversations import relay
from conversations.layers import LocalChannelLayer, ProcessFirstRedisChannelLayer
from tests.browser.servers import redis_available, start_redis


async def cancel_a_waiting_receive(layer, channel: str, settle: float) -> None:
    """Start a receive on `channel`, let it wait `settle` s, then cancel it (a
    socket closing while its consumer waits for a frame)."""
    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(settle)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


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
    await cancel_a_waiting_receive(layer, channel, settle=0)

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


# ProcessFirstRedisChannelLayer: two layers on one redis-server are two processes.


@pytest.fixture
def redis_url(tmp_path):
    if not redis_available():
        pytest.skip("needs redis-server")
    process, port = start_redis(tmp_path)
    yield f"redis://127.0.0.1:{port}/0"
    process.stop()


async def take(layer, channel: str) -> dict:
    """Return the channel's next message; fail, not hang, if it never comes."""
    return await asyncio.wait_for(layer.receive(channel), 5)


async def inbox_size(layer: ProcessFirstRedisChannelLayer) -> int:
    """Return the frames waiting in Redis for the layer's process."""
    inbox = layer.prefix + layer.non_local_name(await layer.new_channel())
    return await layer.connection(0).zcard(inbox)


async def test_a_group_send_reaches_members_in_both_processes_in_order(redis_url):
    here, there = (ProcessFirstRedisChannelLayer(hosts=[redis_url]) for _ in "ab")
    mine, theirs = await here.new_channel(), await there.new_channel()
    await here.group_add("conversation-1", mine)
    await there.group_add("conversation-1", theirs)

    for n in range(20):
        await here.group_send("conversation-1", {"type": "frame", "n": n})
    await here.send(mine, {"type": "snapshot"})
    await here.group_send("conversation-1", {"type": "frame", "n": 20})

    # This process's own member was served without Redis ...
    assert await inbox_size(here) == 0
    received = [(await take(here, mine)) for _ in range(22)]
    assert [m.get("n", "snapshot") for m in received] == [*range(20), "snapshot", 20]
    # ... and the other process's through it, in the same order.
    assert [(await take(there, theirs))["n"] for _ in range(21)] == list(range(21))
    await here.close_pools()
    await there.close_pools()


async def test_frames_of_many_replies_to_another_process_share_round_trips(
    redis_url, monkeypatch
):
    # Room for all 200 in the other process's inbox before it reads.
    here, there = (
        ProcessFirstRedisChannelLayer(hosts=[redis_url], capacity=1000) for _ in "ab"
    )
    pages = {}
    for reply in range(20):
        pages[reply] = await there.new_channel()
        await there.group_add(f"conversation-{reply}", pages[reply])
    round_trips = []
    connection = here.connection(0)
    make_pipeline = connection.pipeline

    def counted_pipeline(*args, **kwargs):
        round_trips.append(1)
        return make_pipeline(*args, **kwargs)

    monkeypatch.setattr(connection, "pipeline", counted_pipeline)

    def frame(n: int) -> dict:
        # Later frames sort first by their bytes: only their order in Redis
        # keeps them in order.
        return {"text": chr(ord("z") - n), "type": "frame", "n": n}

    async def relay_frames(reply: int) -> None:
        for n in range(10):
            await here.group_send(
                f"conversation-{reply}",
                frame(n),
                remote_members=[pages[reply]],
            )

    await asyncio.gather(*(relay_frames(reply) for reply in range(20)))

    # 200 frames, each page's in order, in far fewer round trips than frames.
    for page in pages.values():
        assert [(await take(there, page))["n"] for _ in range(10)] == list(range(10))
    assert len(round_trips) <= 20
    await here.close_pools()
    await there.close_pools()


async def test_a_full_inbox_in_another_process_misses_the_message(redis_url):
    here = ProcessFirstRedisChannelLayer(hosts=[redis_url], capacity=2)
    there = ProcessFirstRedisChannelLayer(hosts=[redis_url])
    theirs = await there.new_channel()
    await there.group_add("conversation-1", theirs)

    for n in range(3):
        await here.group_send("conversation-1", {"type": "frame", "n": n})

    # Nobody in that process received yet: two wait in Redis, the third was refused.
    assert await inbox_size(there) == 2
    assert [(await take(there, theirs))["n"] for _ in range(2)] == [0, 1]
    await here.close_pools()
    await there.close_pools()


async def test_a_reply_asks_redis_who_watches_once_not_on_every_delta(
    redis_url, monkeypatch
):
    here, there = (ProcessFirstRedisChannelLayer(hosts=[redis_url]) for _ in "ab")
    theirs = await there.new_channel()
    await there.group_add(relay.group_name(1), theirs)
    monkeypatch.setattr(relay, "get_channel_layer", lambda: here)
    lookups = []
    look_up = here.remote_members

    async def counted(group):
        lookups.append(group)
        return await look_up(group)

    monkeypatch.setattr(here, "remote_members", counted)
    audience = relay.Audience(1)

    for n in range(10):
        await audience.broadcast({"type": "reply.delta", "n": n})
    assert len(lookups) == 1
    audience.changed()  # a page joined
    await audience.broadcast({"type": "reply.delta", "n": 10})
    assert len(lookups) == 2
    # The other process's page got every one.
    frames = [json.loads((await take(there, theirs))["text"]) for _ in range(11)]
    assert [frame["n"] for frame in frames] == list(range(11))
    await here.close_pools()
    await there.close_pools()


async def test_a_channel_that_left_the_group_gets_nothing_more(redis_url):
    here, there = (ProcessFirstRedisChannelLayer(hosts=[redis_url]) for _ in "ab")
    staying, leaving = await here.new_channel(), await here.new_channel()
    for channel in (staying, leaving):
        await here.group_add("g", channel)
    await here.group_discard("g", leaving)

    await there.group_send("g", {"type": "from-there"})
    await here.group_send("g", {"type": "from-here"})

    assert {(await take(here, staying))["type"] for _ in range(2)} == {
        "from-there",
        "from-here",
    }
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(here.receive(leaving), 0.3)
    await here.close_pools()
    await there.close_pools()


async def test_a_send_redis_refuses_delivers_nothing_here_either(redis_url):
    """So the relay's retry (relay._send_quietly) cannot duplicate a frame."""
    layer = ProcessFirstRedisChannelLayer(hosts=[redis_url])
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await layer.close_pools()
    layer.hosts[0]["address"] = "redis://127.0.0.1:1/0"  # Redis is away

    with pytest.raises(redis.exceptions.ConnectionError):
        await layer.group_send("g", {"type": "frame"})

    assert channel not in layer.inboxes or not layer.inboxes[channel].messages


async def test_a_receiver_already_waiting_is_woken_by_a_frame_from_its_own_process(
    redis_url,
):
    # channels_redis's receive would leave it waiting in the Redis pop, which a
    # frame kept out of Redis never ends.
    layer = ProcessFirstRedisChannelLayer(hosts=[redis_url])
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", first)
    waiting = [asyncio.create_task(layer.receive(c)) for c in (first, second)]
    await asyncio.sleep(0.1)

    await layer.group_send("g", {"type": "frame"})
    await layer.send(second, {"type": "snapshot"})

    received = await asyncio.wait_for(asyncio.gather(*waiting), 1)
    assert [m["type"] for m in received] == ["frame", "snapshot"]
    await layer.close_pools()


async def test_receivers_hear_when_redis_goes_away_instead_of_waiting_forever(
    tmp_path,
):
    if not redis_available():
        pytest.skip("needs redis-server")
    process, port = start_redis(tmp_path)
    layer = ProcessFirstRedisChannelLayer(hosts=[f"redis://127.0.0.1:{port}/0"])
    channels = [await layer.new_channel() for _ in range(3)]
    waiting = [asyncio.create_task(layer.receive(c)) for c in channels]
    await asyncio.sleep(0.2)

    process.stop()

    results = await asyncio.wait_for(
        asyncio.gather(*waiting, return_exceptions=True), 10
    )
    assert all(isinstance(r, ConnectionError) for r in results), results
    await layer.close_pools()


async def test_a_channel_no_one_receives_from_is_forgotten_after_the_expiry(
    redis_url,
):
    layer = ProcessFirstRedisChannelLayer(hosts=[redis_url], expiry=60)
    closed, open_ = await layer.new_channel(), await layer.new_channel()
    for channel in (closed, open_):
        await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "frame"})
    assert (await take(layer, open_))["type"] == "frame"
    waiting = asyncio.create_task(layer.receive(open_))
    await asyncio.sleep(0)
    for inbox in layer.inboxes.values():
        inbox.touched -= 120  # two minutes ago
    layer._swept_at -= 2  # the once-a-second sweep is due

    await layer.send(open_, {"type": "later"})

    assert closed not in layer.inboxes
    assert (await waiting)["type"] == "later"
    await layer.close_pools()


async def test_a_receiver_that_goes_away_leaves_no_inbox_behind(redis_url):
    layer = ProcessFirstRedisChannelLayer(hosts=[redis_url])
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await cancel_a_waiting_receive(layer, channel, settle=0.05)

    assert channel not in layer.inboxes
    # A frame sent later is still received by whoever listens next.
    await layer.group_send("g", {"type": "frame", "n": 2})
    assert (await take(layer, channel))["n"] == 2
    await layer.close_pools()
