"""Frames on their way to the pages: channel-layer groups, sends, and the outbox.

Every open page of a conversation is in `group_name(id)`; a running reply listens
on `control_group_name(id)` (docs/websocket.md, "Channel layer").

A frame that describes a write goes out only once that write has committed. The
writes run in the database thread (`database_sync_to_async`), possibly several in
one `transaction.atomic()`, while the channel layer lives on the event loop. So a
write does not send anything itself: it posts its frames to an `Outbox` with
`outbox.post_on_commit(...)`, which registers them with `transaction.on_commit`.
A rolled-back write never posts (Django drops the callback), and a committed one
posts when its outermost transaction commits (at once, in autocommit). The
async caller sends what was posted, in order, after the write returned or raised:

    await run_write(do_store_user_message, conversation_id, content)

`run_write` makes the outbox, runs the write in the database thread, then
flushes. Sending from the event loop after the thread is done (rather than from
inside it) keeps the database thread free of network waits and the frames in the
order they were written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.frames import Frame, encode_frame

# The channel-layer message type consumers forward to their socket as-is. Its
# "text" is the frame's JSON, encoded once here for every page that gets it
# (frame_event), not once per socket; and a message of strings alone is cheap for
# a channel layer to copy (layers.py) or to pack (Redis).
FRAME_EVENT = "conversation.frame"
# A frame the channel layer refuses is tried this many times, RETRY_BACKOFF, then
# twice that apart, before it is dropped.
SEND_ATTEMPTS = 3
SEND_RETRY_BACKOFF = 0.1
# How long a reply trusts what it found out about other processes' pages (Audience).
AUDIENCE_TTL = 1.0

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def group_name(conversation_id: int) -> str:
    """Return the group every open page of the conversation listens to."""
    return f"conversation-{conversation_id}"


def control_group_name(conversation_id: int) -> str:
    """Return the group the conversation's running reply listens to."""
    # Apart from the page group so the reply does not receive its own deltas back.
    return f"conversation-{conversation_id}-reply"


async def broadcast(conversation_id: int, frame: Frame) -> bool:
    """Send a frame to every page that has the conversation open.

    Returns whether it went out. A channel layer that is away (Redis restarting) is
    tried again briefly, then the frame is dropped and logged: the write it
    describes is saved, and a page that missed it resyncs when it sees a gap in
    offsets or when its socket rejoins (consumers.py).
    """
    event = frame_event(frame)
    return await _send_quietly(
        lambda layer: layer.group_send(group_name(conversation_id), event), frame
    )


async def send_frame(channel: str, frame: Frame) -> bool:
    """Send a frame to one page's consumer (see broadcast for failures)."""
    event = frame_event(frame)
    return await _send_quietly(lambda layer: layer.send(channel, event), frame)


class Audience:
    """Who watches a running reply's deltas: a reply's own `broadcast`.

    With several processes, finding the other processes' pages of a conversation
    costs a Redis round trip (~135 us of CPU) on every send. A reply sends ~50
    deltas a second, so it asks on its first and keeps the answer (the channels,
    so a delta for them is one more round trip, not three). A page that opens the
    conversation later asks the reply for a snapshot (reply.sync, consumers.py),
    and the reply calls `changed()` before answering: the deltas after that
    snapshot reach the newcomer. The answer is renewed every AUDIENCE_TTL besides,
    in case such a request went missing, and so that a page that left is left out
    (until then its process keeps what comes for it until the layer's expiry, as
    for any closed channel). Frames other than deltas
    (reply.done above all) go through `broadcast`, which always looks.
    """

    def __init__(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self._remote_members: list[str] | None = None
        self._looked_up_at = 0.0

    def changed(self) -> None:
        """A page joined: look again before the next delta."""
        self._remote_members = None

    async def broadcast(self, frame: Frame) -> bool:
        """Send a delta frame to every page that has the conversation open."""
        event = frame_event(frame)
        return await _send_quietly(lambda layer: self._group_send(layer, event), frame)

    async def _group_send(self, layer: Any, event: dict[str, str]) -> None:
        group = group_name(self.conversation_id)
        lookup = getattr(layer, "remote_members", None)
        if lookup is None:  # one process: no one else to ask about
            await layer.group_send(group, event)
            return
        now = time.monotonic()
        if self._remote_members is None or now - self._looked_up_at >= AUDIENCE_TTL:
            self._remote_members = await lookup(group)
            self._looked_up_at = now
        await layer.group_send(group, event, remote_members=self._remote_members)


def frame_event(frame: Frame) -> dict[str, str]:
    """Return the channel-layer message that carries `frame` to a page's socket."""
    return {"type": FRAME_EVENT, "text": encode_frame(frame)}


async def _send_quietly(send: Callable[[Any], Awaitable[None]], frame: Frame) -> bool:
    delay = SEND_RETRY_BACKOFF
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await send(get_channel_layer())
            return True
        except Exception:
            if attempt == SEND_ATTEMPTS:
                logger.warning(
                    "Channel layer unavailable: %s frame dropped",
                    frame.get("type"),
                    exc_info=True,
                )
                return False
            await asyncio.sleep(delay)
            delay *= 2
    return False


class Outbox:
    """Frames to broadcast once the writes they describe have committed."""

    def __init__(self) -> None:
        self._committed: list[tuple[int, Frame]] = []

    def post_on_commit(self, conversation_id: int, frame: Frame) -> None:
        """Queue `frame` for when the current transaction commits (database thread)."""
        transaction.on_commit(lambda: self._committed.append((conversation_id, frame)))

    async def flush(self) -> None:
        """Broadcast the committed frames, oldest first (event loop)."""
        committed, self._committed = self._committed, []
        for conversation_id, frame in committed:
            await broadcast(conversation_id, frame)


async def run_write(
    write: Callable[Concatenate[Outbox, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `write(outbox, ...)` in the database thread; then send what it committed.

    The frames of writes that committed go out even if the write raised after them.
    """
    outbox = Outbox()
    try:
        return await database_sync_to_async(write)(outbox, *args, **kwargs)
    finally:
        await outbox.flush()
