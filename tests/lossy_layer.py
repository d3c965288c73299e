"""A channel layer that loses frames on purpose: the page's repair path is tested
against it (tests/test_frame_repair.py, tests/browser/test_frame_repair.py).

It is the in-memory layer, except that of the frames fanned out to a
conversation's pages (`group_send` of `conversation.frame`) it drops every
`drop_every`-th `reply.delta` and, with `drop_done`, every `reply.done`: what a
lagging channels_redis inbox does when it is full. Frames sent to one socket
(`send`: the snapshots a page asks for) go through, as they would once the lag
is over. `dropped` counts what it threw away, by frame type.
"""

from __future__ import annotations

import json
from collections import Counter

from channels.layers import InMemoryChannelLayer

from conversations.relay import FRAME_EVENT


class LossyInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, drop_every: int = 3, drop_done: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.drop_every = drop_every
        self.drop_done = drop_done
        self.deltas_seen = 0
        self.dropped: Counter[str] = Counter()

    def loses(self, message: dict) -> bool:
        if message.get("type") != FRAME_EVENT:
            return False
        frame_type = json.loads(message["text"]).get("type")
        if frame_type == "reply.done":
            return self.drop_done
        if frame_type == "reply.delta" and self.drop_every:
            self.deltas_seen += 1
            return self.deltas_seen % self.drop_every == 0
        return False

    async def group_send(self, group: str, message: dict) -> None:
        if self.loses(message):
            self.dropped[json.loads(message["text"])["type"]] += 1
            return
        await super().group_send(group, message)
