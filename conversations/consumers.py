"""The websocket of one open conversation (frames: docs/websocket.md).

Browser -> server: message.send, message.edit, branch.switch, reply.stop,
reply.regenerate, reply.resync.
Server -> browser: message.created, branch.changed, reply.delta, reply.snapshot,
reply.done, conversation.updated, error.

The consumer is thin: it checks who is asking and what they sent, and hands the
work to `services` (the writes that start a reply) and `replies.runner` (stop,
snapshots); the reply runs in a task of its own. Streaming inside receive_json
would block the next frame (stop) until the reply ended; and closing the socket
must not end the reply.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

from conversations import closing, frames, limits, services
from conversations.models import Conversation
from conversations.relay import FRAME_EVENT, group_name
from conversations.replies import runner

# On connecting, a page also hears about a reply that ended this recently: it may
# have been rendered while the reply still streamed.
RECENTLY_ENDED = timedelta(minutes=1)
MAX_CLIENT_ID_LENGTH = 64
# A frame longer than this is refused unread: the longest message is 32000
# characters, and escaping can make its JSON up to six times longer.
MAX_FRAME_LENGTH = 6 * services.MAX_CONTENT_LENGTH + 4096

# While the channel layer is away, try it again after this long, doubling up to max.
LAYER_RETRY_FIRST = 0.5
LAYER_RETRY_MAX = 5.0

logger = logging.getLogger(__name__)


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    conversation_id: int
    group_name = ""

    async def __call__(self, scope, receive, send) -> None:
        # AsyncConsumer.__call__, with dispatch_in_order for Channels'
        # await_many_dispatch.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(
                self.channel_layer.receive, self.channel_name
            )
            sources.append(self.channel_receive)
        self.base_send = closing.unless_closed(send)
        with suppress(StopConsumer):
            await dispatch_in_order(sources, self.dispatch)

    async def connect(self) -> None:
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        user = self.scope.get("user")
        signed_in = getattr(user, "is_authenticated", False)
        if not signed_in or not await self.open_conversation(user):
            # Refused before accept: the handshake fails (HTTP 403), and a missing
            # conversation looks the same as someone else's.
            await self.close()
            return
        self.group_name = group_name(self.conversation_id)
        if not await self.join(ended_within=RECENTLY_ENDED):
            # The channel layer is away: the page retries, with backoff.
            await self.close()
            return
        await self.accept()

    async def join(self, ended_within: timedelta | None) -> bool:
        """Join the conversation's group and ask for a snapshot; False if the
        channel layer is unavailable."""
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
            # Joined first, then asked: text from before the snapshot arrives in
            # it, text after it in deltas; the page skips the overlap by offset.
            await runner.request_snapshot(
                self.conversation_id, self.channel_name, ended_within=ended_within
            )
        except Exception:
            logger.warning(
                "Conversation %s: channel layer unavailable",
                self.conversation_id,
                exc_info=True,
            )
            return False
        return True

    async def disconnect(self, code: int) -> None:
        # Leaves the reply running: it is saved whether or not anyone watches.
        if self.group_name:
            with suppress(Exception):
                await self.channel_layer.group_discard(
                    self.group_name, self.channel_name
                )

    # The channel layer's side of the socket. Channels' own loop ends the consumer
    # (close 1011) when a receive raises, as it does while Redis restarts; this one
    # waits for the layer to come back, joins the group again (a restarted Redis
    # has forgotten it) and sends the page a snapshot of what it missed.

    @property
    def channel_receive(self):
        return self.receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive) -> None:
        self._layer_receive = receive

    async def receive_from_layer(self) -> dict[str, Any]:
        while True:
            try:
                return await self._layer_receive()
            except Exception:
                logger.warning(
                    "Conversation %s: channel layer receive failed",
                    self.conversation_id,
                    exc_info=True,
                )
                await self.rejoin()

    async def rejoin(self) -> None:
        delay = LAYER_RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            # Whatever ended while the layer was away: the page's last reply.
            if await self.join(ended_within=None):
                return
            delay = min(delay * 2, LAYER_RETRY_MAX)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        content = parse_frame(text_data)
        if content is None:
            await self.send_error("bad_frame", "Frames are JSON objects with a type.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs) -> None:
        handlers = {
            "message.send": self.send_message,
            "message.edit": self.edit_message,
            "branch.switch": self.switch_branch,
            "reply.stop": self.stop_reply,
            "reply.regenerate": self.regenerate,
            "reply.resync": self.resync,
        }
        frame_type = content.get("type")
        handler = handlers.get(frame_type) if isinstance(frame_type, str) else None
        if handler is None:
            await self.send_error("bad_frame", "Unknown frame type.")
            return
        try:
            await handler(content)
        except services.ReplyRefused as refused:
            await self.send_error(refused.code, refused.message())
        except limits.RateLimited as refused:
            await self.send_json(
                frames.error(
                    refused.code, refused.message(), retry_after=refused.retry_after
                )
            )
        except Exception:
            # Whatever went wrong (a bug, the channel layer or the database away), the
            # page gets an answer and keeps its socket; the traceback goes to the log.
            logger.exception(
                "Frame %r failed in conversation %s", frame_type, self.conversation_id
            )
            await self.send_error(
                "unavailable", "That did not work just now. Try again in a moment."
            )

    async def send_message(self, frame: dict[str, Any]) -> None:
        content = frame.get("content")
        client_id = frame.get("client_id") or ""
        if not isinstance(content, str) or not isinstance(client_id, str):
            await self.send_error("bad_frame", "content and client_id are strings.")
            return
        content = await self.checked_content(content)
        if content is not None:
            await services.send_message(
                self.conversation_id, content, client_id[:MAX_CLIENT_ID_LENGTH]
            )

    async def edit_message(self, frame: dict[str, Any]) -> None:
        message_id, content = frame.get("message_id"), frame.get("content")
        if not is_id(message_id) or not isinstance(content, str):
            await self.send_error(
                "bad_frame", "message_id is a message id and content a string."
            )
            return
        content = await self.checked_content(content)
        if content is not None:
            await services.edit_message(self.conversation_id, message_id, content)

    async def switch_branch(self, frame: dict[str, Any]) -> None:
        message_id = frame.get("message_id")
        if not is_id(message_id):
            await self.send_error("bad_frame", "message_id is a message id.")
            return
        await services.switch_branch(self.conversation_id, message_id)

    async def checked_content(self, content: str) -> str | None:
        """Return the message text stripped, or None after saying what is wrong."""
        content = content.strip()
        if not content:
            await self.send_error("empty", "Type a message first.")
            return None
        if len(content) > services.MAX_CONTENT_LENGTH:
            await self.send_error(
                "too_long",
                f"A message can be at most {services.MAX_CONTENT_LENGTH} characters.",
            )
            return None
        return content

    async def stop_reply(self, frame: dict[str, Any]) -> None:
        await runner.request_stop(self.conversation_id)

    async def regenerate(self, frame: dict[str, Any]) -> None:
        await services.regenerate(self.conversation_id)

    async def resync(self, frame: dict[str, Any]) -> None:
        await runner.request_snapshot(self.conversation_id, self.channel_name)

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json(frames.error(code, message))

    # Channel-layer events (type "conversation.frame", relay.FRAME_EVENT).

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes old database connections before every handler, with a
        # hop into the database thread: each delta, and each message.send before
        # its own write, queued behind every write of the process. Every query
        # here goes through database_sync_to_async, which closes old connections
        # before and after it in that thread anyway: no handler needs the hop.
        if message.get("type") == FRAME_EVENT:
            await self.conversation_frame(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def conversation_frame(self, event: dict[str, Any]) -> None:
        # The frame's JSON, encoded once by whoever sent it (relay.frame_event).
        await self.send(text_data=event["text"])

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return frames.encode_frame(content)

    @database_sync_to_async
    def open_conversation(self, user) -> bool:
        """Return whether `user` owns the conversation; repair a crashed reply."""
        if (
            not Conversation.objects.for_user(user)
            .filter(pk=self.conversation_id)
            .exists()
        ):
            return False
        runner.recover_stale_replies(self.conversation_id)
        return True


async def dispatch_in_order(
    sources: list[Callable[[], Awaitable[dict[str, Any]]]],
    dispatch: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Hand the messages of `sources` to `dispatch` one at a time, as they come.

    What Channels' await_many_dispatch does, without a new task and an
    asyncio.wait for every message (14 -> 7 us per message in a micro-benchmark): a
    pump per source feeds an inbox of one place, so a source is read at most one
    message ahead of the handler (the rest wait in the channel layer, under its
    capacity). A source that raises ends the consumer with its error.
    """
    inbox: asyncio.Queue[tuple[dict[str, Any] | None, Exception | None]] = (
        asyncio.Queue(maxsize=1)
    )

    async def pump(source: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        while True:
            try:
                message = await source()
            except Exception as error:
                await inbox.put((None, error))
                return
            await inbox.put((message, None))

    pumps = [asyncio.create_task(pump(source)) for source in sources]
    try:
        while True:
            message, error = await inbox.get()
            if error is not None:
                raise error
            await dispatch(message)
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


def is_id(value: Any) -> bool:
    """Whether a frame's value can be a row id (an int, not a bool, in range)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def parse_frame(text: str | None) -> dict[str, Any] | None:
    """Return the frame as a dict, or None if it is not a JSON object we can store.

    Refused: not JSON, not an object, nested past Python's recursion limit, or
    holding a lone surrogate ("\\ud800" is valid JSON but no valid UTF-8, so no
    database and no page could take it back).
    """
    if not text or len(text) > MAX_FRAME_LENGTH:
        return None
    try:
        content = json.loads(text)
        # Re-encoding finds lone surrogates anywhere in the frame.
        json.dumps(content, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError):
        return None
    return content if isinstance(content, dict) else None
