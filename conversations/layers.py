"""The channel layers: one process's in-memory layer, and Redis for several processes.

`LocalChannelLayer` (one process): Channels' in-memory layer, cheaper per frame.

`InMemoryChannelLayer.group_send` walks every queue and group of the process for
expired entries, starts a task per channel and deep-copies the message once per
channel, on every frame; its `receive` walks them all again, for every message
each socket takes, and builds a new queue each time (the old one is dropped when
it runs empty). Here the expiry walk runs at most once a second (nothing expires
faster: messages after `expiry`, 60 s, memberships after a day), the channels are
served in one loop, the message is copied once per group send (receivers only
read it; the sender may still change its own dict; a message of strings and
numbers alone, as every frame is, needs only a shallow copy), and a channel keeps
its queue while something receives on it.

`ProcessFirstRedisChannelLayer` (several processes): channels_redis, with the
frames for this process's own sockets kept out of Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from contextlib import suppress
from copy import deepcopy
from functools import partial

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer

from conversations.batches import Batches

logger = logging.getLogger(__name__)

CLEAN_INTERVAL = 1.0
# At most this many messages taken off a process's Redis inbox in one round trip.
READ_BATCH = 500
# Sends in one pipeline are scored this far apart at least (seconds).
STAMP_STEP = 1e-6

# A message for other processes' channels on one Redis host: their inbox keys,
# then the packed message and capacity of each (_CAPPED_ADD's arguments).
RemoteSend = tuple[list[str], list]


# channels_redis 4.3's group_send script: each message added to its channel's
# inbox unless the inbox holds its capacity already; returns how many were not.
_CAPPED_ADD = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        local count = redis.call('ZCOUNT', KEYS[i], '-inf', '+inf')
        if count < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""

# Values a receiver cannot change in place: a dict of them is copied by dict().
_IMMUTABLE = frozenset({str, int, float, bool, bytes, type(None)})


def _copy(message: dict) -> dict:
    if all(type(value) in _IMMUTABLE for value in message.values()):
        return dict(message)
    return deepcopy(message)


class LocalChannelLayer(InMemoryChannelLayer):
    _cleaned_at = 0.0

    def _clean_expired_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at >= CLEAN_INTERVAL:
            self._cleaned_at = now
            self._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired_now_and_then()
        channels = self.groups.get(group)
        if not channels:
            return
        entry = (time.time() + self.expiry, _copy(message))
        for channel in list(channels):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(
                    maxsize=self.get_capacity(channel)
                )
            # As InMemoryChannelLayer: a full channel misses the message.
            with suppress(asyncio.QueueFull):
                queue.put_nowait(entry)

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._clean_expired_now_and_then()
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(
                maxsize=self.get_capacity(channel)
            )
        try:
            _expires, message = await queue.get()
        except BaseException:
            # The receiver went away (a socket closed): as InMemoryChannelLayer,
            # an empty queue goes with it, so closed channels leave nothing behind.
            if queue.empty() and self.channels.get(channel) is queue:
                del self.channels[channel]
            raise
        return message


class _Inbox:
    """The frames waiting for one of this process's channels, and who waits for them."""

    __slots__ = ("messages", "touched", "waiters")

    def __init__(self, capacity: int) -> None:
        # Full, it drops its oldest, as channels_redis's own buffer does.
        self.messages: deque[dict] = deque(maxlen=capacity)
        self.waiters: list[asyncio.Future] = []
        self.touched = time.monotonic()

    def put(self, message: dict) -> None:
        self.messages.append(message)
        self.wake()

    def wake(self, error: BaseException | None = None) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
        self.waiters.clear()


class ProcessFirstRedisChannelLayer(RedisChannelLayer):
    """channels_redis that serves this process's own channels without Redis.

    A reply runs in the process of the socket that asked for it, so nearly every
    frame goes to a socket of the process that sends it; channels_redis sends it
    through Redis all the same (four round trips and a Lua script to send, a
    blocking pop, a Lua clean-up and msgpack to receive: about 400 us of CPU a
    frame more than the in-memory layer, docs/performance.md). Here the process
    keeps its own members of each group and puts the frame straight into their
    inboxes; Redis carries it only to the other processes' members, once the
    sender knows them (`group_send(remote_members=...)`), in a pipeline shared
    with the frames other replies send meanwhile (`_pipelines`, batches.py).

    The receive side is rebuilt for that: one reader task drains the process's
    Redis inbox into per-channel inboxes, and `receive` waits on its channel's
    inbox alone. (channels_redis's `receive` lets whichever receiver holds its
    lock wait in the Redis pop, where a frame put in its buffer never wakes it.)
    Written against channels_redis 4.3 (pinned): it uses `receive_single`, which
    takes one message off a Redis inbox with the library's in-flight backup,
    `_map_channel_keys_to_connection`, which addresses and packs a message for
    its channels' Redis inboxes, and `_group_key`, where the group's members are.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for host in self.hosts:
            # The reader waits in a blocking pop of 5 s; redis-py's default read
            # timeout is 5 s too, and it read "Timeout reading" now and then.
            host.setdefault("socket_timeout", None)
        # group -> this process's channels in it, as group_add / group_discard
        # leave them (Redis holds the whole list, for every process).
        self.local_groups: dict[str, set[str]] = {}
        self.inboxes: dict[str, _Inbox] = {}
        # Redis inbox name ("specific.<process>!") -> the task draining it.
        self.readers: dict[str, asyncio.Task] = {}
        # Redis host index -> the sends to other processes waiting for its pipeline.
        self.remote_sends: dict[int, Batches[RemoteSend, None]] = {}
        # The score of the last message sent to another process.
        self._stamp = 0.0
        self._swept_at = time.monotonic()

    def is_local(self, channel: str) -> bool:
        """Return whether `channel` was made by this layer (this process)."""
        return "!" in channel and self.non_local_name(channel).endswith(
            self.client_prefix + "!"
        )

    # Groups

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        if self.is_local(channel):
            self.local_groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group, channel):
        # Locally first: a channel that leaves gets nothing more, even if Redis
        # is away and the discard below raises.
        members = self.local_groups.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.local_groups[group]
        await super().group_discard(group, channel)

    async def group_send(
        self, group, message, *, remote_members: list[str] | None = None
    ):
        """Send `message` to every member of `group`, in any process.

        `remote_members`: the other processes' channels in the group, when the
        caller knows them (relay.Audience); None looks them up.
        """
        # Redis first, for the other processes' members, when there are any.
        # Should it raise, nothing was delivered here either, so the relay's
        # retry sends no duplicate.
        if remote_members is None:
            remote_members = await self.remote_members(group)
        if remote_members:
            await self._send_to_remote(remote_members, message)
        members = self.local_groups.get(group)
        if members:
            copied = _copy(message)
            for channel in members:
                self._inbox(channel).put(copied)

    async def remote_members(self, group: str) -> list[str]:
        """Return the other processes' channels in `group`.

        The library's own lookup (expired members dropped, then the list read) in
        one round trip instead of two: ~210 -> ~135 us of CPU.
        """
        self.require_valid_group_name(group)
        connection = self.connection(self.consistent_hash(group))
        pipeline = connection.pipeline(transaction=False)
        key = self._group_key(group)
        pipeline.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipeline.zrange(key, 0, -1)
        _, members = await pipeline.execute()
        names = (member.decode("utf8") for member in members)
        return [name for name in names if not self.is_local(name)]

    async def _send_to_remote(self, channels: list[str], message: dict) -> None:
        """Put `message` in the Redis inboxes of `channels`: what channels_redis's
        group_send does once it has the members (expired messages dropped, then
        the capped add of its script), in the next pipeline to its Redis host."""
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            channels, message
        )
        for index, keys in by_connection.items():
            arguments = [messages[key] for key in keys]
            arguments += [capacities[key] for key in keys]
            await self._pipelines(index).write((keys, arguments))

    def _pipelines(self, index: int) -> Batches[RemoteSend, None]:
        # Every frame for a page on another process is a round trip to Redis,
        # which its reply's relay awaits: at 50 streams, thousands a second. The
        # sends that come while a pipeline is out go together in the next one.
        sends = self.remote_sends.get(index)
        if sends is None:
            sends = self.remote_sends[index] = Batches(
                partial(self._send_pipeline, index)
            )
        return sends

    async def _send_pipeline(
        self, index: int, sends: list[RemoteSend]
    ) -> list[Exception | None]:
        """Send `sends` to Redis host `index` in one pipeline; return each one's
        result: None, or its script's error. Redis away raises for all."""
        pipeline = self.connection(index).pipeline(transaction=False)
        for keys, arguments in sends:
            # A message's score is its time, and Redis returns messages of one
            # score in byte order: each send a later one, as if sent alone.
            now = self._stamp = max(time.time(), self._stamp + STAMP_STEP)
            for key in keys:
                pipeline.zremrangebyscore(key, min=0, max=int(now) - int(self.expiry))
            pipeline.eval(_CAPPED_ADD, len(keys), *keys, *arguments, now, self.expiry)
        results = await pipeline.execute(raise_on_error=False)
        outcomes: list[Exception | None] = []
        position = 0
        for keys, _arguments in sends:
            mine = results[position : position + len(keys) + 1]
            position += len(keys) + 1
            error = next((r for r in mine if isinstance(r, Exception)), None)
            if error is None and mine[-1]:
                logger.info("%s of %s channels over capacity", mine[-1], len(keys))
            outcomes.append(error)
        return outcomes

    # Sending and receiving

    async def send(self, channel, message):
        if not self.is_local(channel):
            return await super().send(channel, message)
        # Here too, or a frame sent to one page (a snapshot) would go through
        # Redis and arrive after the group frames that followed it.
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        inbox = self._inbox(channel)
        if len(inbox.messages) >= self.get_capacity(channel):
            raise ChannelFull()
        inbox.put(_copy(message))

    async def receive(self, channel):
        if not self.is_local(channel):
            return await super().receive(channel)
        inbox = self._inbox(channel)
        while not inbox.messages:
            reader = self._reader(self.non_local_name(channel))
            waiter = reader.get_loop().create_future()
            inbox.waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                self._forget_if_idle(channel, inbox)
                raise
            finally:
                if waiter in inbox.waiters:
                    inbox.waiters.remove(waiter)
        inbox.touched = time.monotonic()
        return inbox.messages.popleft()

    def _forget_if_idle(self, channel: str, inbox: _Inbox) -> None:
        # The receiver went away (a socket closed): as the library, an empty
        # inbox goes with it. A frame sent later makes a new one.
        idle = not inbox.messages and all(w.done() for w in inbox.waiters)
        if idle and self.inboxes.get(channel) is inbox:
            del self.inboxes[channel]

    def _inbox(self, channel: str) -> _Inbox:
        self._sweep_now_and_then()
        inbox = self.inboxes.get(channel)
        if inbox is None:
            inbox = self.inboxes[channel] = _Inbox(self.get_capacity(channel))
        return inbox

    def _sweep_now_and_then(self) -> None:
        # A channel nobody has received from for `expiry` (its socket closed, or
        # frames came after it left) is forgotten, with what waits in it: as in
        # Redis, where a message expires after `expiry`.
        now = time.monotonic()
        if now - self._swept_at < CLEAN_INTERVAL:
            return
        self._swept_at = now
        for channel, inbox in list(self.inboxes.items()):
            if not inbox.waiters and now - inbox.touched > self.expiry:
                del self.inboxes[channel]

    def _reader(self, redis_inbox: str) -> asyncio.Task:
        loop = asyncio.get_running_loop()
        reader = self.readers.get(redis_inbox)
        if reader is None or reader.done() or reader.get_loop() is not loop:
            reader = self.readers[redis_inbox] = loop.create_task(
                self._read(redis_inbox)
            )
        return reader

    async def _read(self, redis_inbox: str) -> None:
        """Move what Redis holds for this process into its channels' inboxes."""
        key = self.prefix + redis_inbox
        try:
            while True:
                # Wait for the first with the library's pop (its in-flight backup
                # keeps a message a cancelled pop took) ...
                self._deliver(*await self.receive_single(redis_inbox))
                # ... then take what else waits in one round trip, not four each:
                # one at a time, a process fell seconds behind at 100 streams.
                connection = self.connection(self.consistent_hash(redis_inbox))
                for content, _score in await connection.zpopmin(key, READ_BATCH):
                    message = self.deserialize(content)
                    self._deliver(message.pop("__asgi_channel__", None), message)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Redis went away: every receiver hears of it (the consumers rejoin
            # when it is back, consumers.py); the next receive starts a reader.
            for inbox in self.inboxes.values():
                inbox.wake(ConnectionError(f"channel layer inbox: {error!r}"))

    def _deliver(self, channels: str | list[str] | None, message: dict) -> None:
        if channels is None:
            return  # not addressed to a channel of this process's: nothing to do
        for channel in channels if isinstance(channels, list) else [channels]:
            self._inbox(channel).put(message)

    async def _stop_readers(self) -> None:
        # A reader of another (finished) event loop went with it: only ours remain.
        loop = asyncio.get_running_loop()
        ours = [r for r in self.readers.values() if r.get_loop() is loop]
        self.readers.clear()
        for reader in ours:
            reader.cancel()
        await asyncio.gather(*ours, return_exceptions=True)

    async def close_pools(self):
        await self._stop_readers()
        await super().close_pools()

    async def flush(self):
        await self._stop_readers()
        self.local_groups.clear()
        self.inboxes.clear()
        await super().flush()
