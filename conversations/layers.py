"""The channel layer of a single process: Channels' in-memory layer, cheaper per frame.

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
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from copy import deepcopy

from channels.layers import InMemoryChannelLayer

CLEAN_INTERVAL = 1.0


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
