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

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.frames import Frame

# The channel-layer message type consumers forward to their socket as-is.
FRAME_EVENT = "conversation.frame"

P = ParamSpec("P")
T = TypeVar("T")


def group_name(conversation_id: int) -> str:
    """Return the group every open page of the conversation listens to."""
    return f"conversation-{conversation_id}"


def control_group_name(conversation_id: int) -> str:
    """Return the group the conversation's running reply listens to."""
    # Apart from the page group so the reply does not receive its own deltas back.
    return f"conversation-{conversation_id}-reply"


async def broadcast(conversation_id: int, frame: Frame) -> None:
    """Send a frame to every page that has the conversation open."""
    await get_channel_layer().group_send(
        group_name(conversation_id), {"type": FRAME_EVENT, "frame": frame}
    )


async def send_frame(channel: str, frame: Frame) -> None:
    """Send a frame to one page's consumer."""
    await get_channel_layer().send(channel, {"type": FRAME_EVENT, "frame": frame})


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
