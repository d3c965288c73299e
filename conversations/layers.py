"""The channel layer of a single process: Channels' in-memory layer, cheaper per frame.

`InMemoryChannelLayer.group_send` walks every queue and group of the process for
expired entries, starts a task per channel and deep-copies the message once per
channel, on every frame. Here the expiry walk runs at most once a second (nothing
expires faster: messages after `expiry`, 60 s, memberships after a day), the
channels are served in one loop, and the message is copied once per group send
(receivers only read it; the sender may still change its own dict).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from copy import deepcopy

from channels.layers import InMemoryChannelLayer

CLEAN_INTERVAL = 1.0


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
        entry = (time.time() + self.expiry, deepcopy(message))
        for channel in list(channels):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(
                    maxsize=self.get_capacity(channel)
                )
            # As InMemoryChannelLayer: a full channel misses the message.
            with suppress(asyncio.QueueFull):
                queue.put_nowait(entry)
