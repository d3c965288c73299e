"""The reply flow: store the user's turn, stream MiniMax's answer, relay and save it.

This is the one place that crosses boundaries (database, MiniMax, channel layer):

* `send_message` / `regenerate` check the conversation is idle and write the turns
  in one transaction, before anything goes upstream, then start a `Reply`.
* A `Reply` runs in its own asyncio task, owned by this module rather than by a
  websocket connection: closing the tab does not stop it, and it is saved when it
  ends. It relays coalesced deltas to the conversation's group, saves a checkpoint
  about once a second, and answers `reply.stop` / `reply.sync` sent to the
  conversation's control group from any process.

Frames that others must see are broadcast after the write they describe has
committed: every write here runs in `database_sync_to_async` in autocommit mode (or
a transaction that ends inside it), so awaiting it means it committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import aclosing, suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jsonschema
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import DatabaseError, transaction
from django.utils import timezone

from conversations import upstream
from conversations.minimax.errors import MiniMaxError, ProtocolError
from conversations.minimax.events import (
    Finish,
    ReasoningDelta,
    Sensitivity,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from conversations.models import Conversation, Message

if TYPE_CHECKING:
    from conversations.minimax.events import ChatEvent
    from conversations.minimax.types import ChatRequest

logger = logging.getLogger(__name__)

# At most one reply.delta frame per reply this often (the spec asks for 30-50 ms).
FRAME_INTERVAL = 0.04
# A checkpoint of the text so far at most this often while text arrives...
CHECKPOINT_INTERVAL = 1.0
# ...and at least this often while none does (a slow first token), so that
# recover_replies can tell a live reply from a dead process's.
HEARTBEAT_INTERVAL = 10.0
# A streaming reply not saved for this long belongs to a process that died.
STALE_AFTER = timedelta(seconds=30)
# The channel-layer message type consumers forward to their socket as-is.
FRAME_EVENT = "conversation.frame"
MAX_CONTENT_LENGTH = 32_000

# Replies running in this process, by message id. Holding the tasks here keeps them
# from being garbage-collected once no connection refers to them.
_running: dict[int, asyncio.Task[None]] = {}


class ReplyRefused(Exception):
    """The frame cannot be acted on now; `code` is the websocket error code."""

    code = "bad_frame"


class Busy(ReplyRefused):
    code = "busy"


class NothingToRegenerate(ReplyRefused):
    code = "nothing_to_regenerate"


def group_name(conversation_id: int) -> str:
    """Return the group every open page of the conversation listens to."""
    return f"conversation-{conversation_id}"


def control_group_name(conversation_id: int) -> str:
    """Return the group the conversation's running reply listens to."""
    # Apart from the page group so the reply does not receive its own deltas back.
    return f"conversation-{conversation_id}-reply"


def running_reply_ids() -> set[int]:
    return set(_running)


async def wait_for_replies() -> None:
    """Wait until the replies running in this process have ended (tests, shutdown)."""
    tasks = list(_running.values())
    if tasks:
        await asyncio.wait(tasks)


# --- Checks and writes (run in the database thread) ---------------------------


def recover_stale_replies(conversation_id: int | None = None) -> int:
    """Mark replies left streaming by a dead process interrupted; return how many."""
    stale = Message.objects.stale_streaming(STALE_AFTER).exclude(
        pk__in=running_reply_ids()
    )
    if conversation_id is not None:
        stale = stale.filter(conversation_id=conversation_id)
    return stale.mark_interrupted()


def _lock_idle_conversation(conversation_id: int) -> Conversation:
    """Return the conversation, locked, or raise Busy if a reply is streaming."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    recover_stale_replies(conversation_id)
    if conversation.messages.streaming().exists():
        raise Busy
    return conversation


def _create_reply_message(conversation: Conversation) -> Message:
    now = timezone.now()
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        sender_name=conversation.bot_name,
        status=Message.Status.STREAMING,
        created_at=now,
        checkpoint_at=now,
    )


def do_store_user_message(
    conversation_id: int, content: str
) -> tuple[Message, Message, ChatRequest, dict[str, Any] | None]:
    """Store the user's message and an empty streaming reply; return the request."""
    with transaction.atomic():
        conversation = _lock_idle_conversation(conversation_id)
        user_message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.USER,
            sender_name=conversation.user_name,
            content=content,
        )
        if not conversation.title:
            conversation.title = conversation.title_from(content)
        conversation.save(update_fields=["title", "updated_at"])
        request = conversation.chat_request()
        reply = _create_reply_message(conversation)
    return user_message, reply, request, conversation.json_schema


def do_prepare_regenerate(
    conversation_id: int,
) -> tuple[int | None, Message, ChatRequest, dict[str, Any] | None]:
    """Delete the last reply and store a new streaming one for the same user turn."""
    with transaction.atomic():
        conversation = _lock_idle_conversation(conversation_id)
        last = conversation.messages.order_by("-created_at", "-id").first()
        deleted_id = None
        if last is not None and last.role == Message.Role.ASSISTANT:
            deleted_id = last.pk
            last.delete()
            last = conversation.messages.order_by("-created_at", "-id").first()
        if last is None or last.role != Message.Role.USER:
            raise NothingToRegenerate
        conversation.save(update_fields=["updated_at"])
        request = conversation.chat_request()
        reply = _create_reply_message(conversation)
    return deleted_id, reply, request, conversation.json_schema


def _last_reply(conversation_id: int) -> Message | None:
    return (
        Message.objects.filter(
            conversation_id=conversation_id, role=Message.Role.ASSISTANT
        )
        .order_by("-created_at", "-id")
        .first()
    )


# --- What the consumer calls --------------------------------------------------


async def broadcast(conversation_id: int, frame: dict[str, Any]) -> None:
    """Send a frame to every page that has the conversation open."""
    await get_channel_layer().group_send(
        group_name(conversation_id), {"type": FRAME_EVENT, "frame": frame}
    )


async def send_frame(channel: str, frame: dict[str, Any]) -> None:
    """Send a frame to one page's consumer."""
    await get_channel_layer().send(channel, {"type": FRAME_EVENT, "frame": frame})


async def send_message(
    conversation_id: int, content: str, client_id: str = ""
) -> Message:
    """Store the user's message, then start streaming the reply to it."""
    user_message, reply_message, request, json_schema = await database_sync_to_async(
        do_store_user_message
    )(conversation_id, content)
    await broadcast(
        conversation_id,
        {
            "type": "message.created",
            "message": user_message.as_dict(),
            "client_id": client_id,
        },
    )
    await start_reply(reply_message, request, json_schema, prompt_id=user_message.pk)
    return user_message


async def regenerate(conversation_id: int) -> Message:
    """Replace the last reply with a new one for the same user message."""
    deleted_id, reply_message, request, json_schema = await database_sync_to_async(
        do_prepare_regenerate
    )(conversation_id)
    if deleted_id is not None:
        await broadcast(
            conversation_id, {"type": "message.deleted", "message_id": deleted_id}
        )
    await start_reply(reply_message, request, json_schema)
    return reply_message


async def start_reply(
    message: Message,
    request: ChatRequest,
    json_schema: dict[str, Any] | None = None,
    *,
    prompt_id: int | None = None,
) -> Reply:
    """Announce the streaming reply and run it in a task of its own."""
    reply = Reply(message, request, json_schema, prompt_id=prompt_id)
    # Subscribed before this returns, so a reply.stop the page sends next is heard.
    await reply.subscribe()
    await broadcast(
        message.conversation_id,
        {"type": "message.created", "message": message.as_dict(), "client_id": None},
    )
    task = asyncio.create_task(reply.run(), name=f"reply-{message.pk}")
    _running[message.pk] = task
    task.add_done_callback(lambda _task: _running.pop(message.pk, None))
    return reply


async def request_stop(conversation_id: int) -> None:
    """Ask the conversation's running reply, in whichever process, to stop."""
    await get_channel_layer().group_send(
        control_group_name(conversation_id), {"type": "reply.stop"}
    )


async def request_snapshot(
    conversation_id: int, reply_channel: str, *, ended_within: timedelta | None = None
) -> None:
    """Send `reply_channel` a reply.snapshot of the conversation's latest reply.

    A streaming reply answers itself, from memory (it is ahead of the database). An
    ended one is read from the database, if it ended within `ended_within` (None:
    whenever): a page rendered while the reply streamed, and connected after it
    ended, would otherwise never learn that it did.
    """
    message = await database_sync_to_async(_last_reply)(conversation_id)
    if message is None:
        return
    if message.status == Message.Status.STREAMING:
        await get_channel_layer().group_send(
            control_group_name(conversation_id),
            {"type": "reply.sync", "reply_channel": reply_channel},
        )
        return
    ended_at = message.finished_at or message.created_at
    if ended_within is None or ended_at >= timezone.now() - ended_within:
        await send_frame(
            reply_channel, {"type": "reply.snapshot", "message": message.as_dict()}
        )


# --- The reply ----------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Return len() as JavaScript counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class Reply:
    """One assistant reply being generated: streams, relays, checkpoints, saves."""

    def __init__(
        self,
        message: Message,
        request: ChatRequest,
        json_schema: dict[str, Any] | None = None,
        *,
        prompt_id: int | None = None,
    ) -> None:
        self.message = message
        self.conversation_id = message.conversation_id
        self.request = request
        self.json_schema = json_schema
        self.prompt_id = prompt_id
        self.layer = get_channel_layer()
        self.channel = ""
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.usage: Usage | None = None
        self.sensitivity: Sensitivity | None = None
        self.finish: Finish | None = None
        self.error: MiniMaxError | None = None
        self.stopped = False
        self.interrupted = False
        self.gone = False
        self._started = time.monotonic()
        self._first_token_ms: int | None = None
        # Text received but not yet relayed, and how much (UTF-16) was relayed.
        self._unsent_text: list[str] = []
        self._unsent_reasoning: list[str] = []
        self._sent_text_units = 0
        self._sent_reasoning_units = 0
        self._unsent = asyncio.Event()
        self._changed = False
        self._closing = False
        self._stream_task: asyncio.Task[None] | None = None

    async def subscribe(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(
            control_group_name(self.conversation_id), self.channel
        )

    async def run(self) -> None:
        """Stream the reply to its end, stop or error; then save and announce it."""
        if not self.channel:
            await self.subscribe()
        self._started = time.monotonic()
        helpers = [
            asyncio.create_task(self._relay_frames()),
            asyncio.create_task(self._save_checkpoints()),
            asyncio.create_task(self._listen()),
        ]
        self._stream_task = asyncio.create_task(self._stream())
        try:
            await self._stream_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # The process is shutting down: keep what we have, then go.
                self.interrupted = True
                await self._end(helpers)
                raise
            # Otherwise it was _stop() (or the message was deleted): fall through.
        except Exception:  # a bug in the client must not leave it streaming
            logger.exception("Reply %s failed", self.message.pk)
            self.error = self.error or MiniMaxError()
        await self._end(helpers)

    async def _stream(self) -> None:
        client = upstream.get_minimax_client()
        async with aclosing(client.stream(self.request)) as events:
            async for event in events:
                self._apply(event)

    def _apply(self, event: ChatEvent) -> None:
        match event:
            case TextDelta(text=text) if text:
                self._mark_first_token()
                self.text.append(text)
                self._unsent_text.append(text)
                self._changed = True
                self._unsent.set()
            case ReasoningDelta(text=text) if text:
                self._mark_first_token()
                self.reasoning.append(text)
                self._unsent_reasoning.append(text)
                self._changed = True
                self._unsent.set()
            case ToolCallDelta():
                self._add_tool_call(event)
            case Usage():
                self.usage = event
            case Sensitivity():
                self.sensitivity = event
            case Finish():
                self.finish = event
            case StreamError(error=error):
                self.error = error

    def _mark_first_token(self) -> None:
        if self._first_token_ms is None:
            self._first_token_ms = self._elapsed_ms()

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    def _add_tool_call(self, delta: ToolCallDelta) -> None:
        call = self.tool_calls.setdefault(
            delta.index,
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            call["function"]["name"] = delta.name
        call["function"]["arguments"] += delta.arguments

    # Relaying and checkpointing run beside the stream, each on its own clock.

    async def _relay_frames(self) -> None:
        """Send what arrived since the last frame, then wait FRAME_INTERVAL."""
        while True:
            await self._unsent.wait()
            self._unsent.clear()
            await self._send_delta()
            if self._closing:
                return
            await asyncio.sleep(FRAME_INTERVAL)

    async def _send_delta(self) -> None:
        text = "".join(self._unsent_text)
        reasoning = "".join(self._unsent_reasoning)
        self._unsent_text.clear()
        self._unsent_reasoning.clear()
        if not text and not reasoning:
            return
        frame = {
            "type": "reply.delta",
            "message_id": self.message.pk,
            "text": text,
            "text_offset": self._sent_text_units,
            "reasoning": reasoning,
            "reasoning_offset": self._sent_reasoning_units,
        }
        self._sent_text_units += utf16_length(text)
        self._sent_reasoning_units += utf16_length(reasoning)
        await broadcast(self.conversation_id, frame)

    async def _save_checkpoints(self) -> None:
        last_saved = time.monotonic()
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            if self._changed or time.monotonic() - last_saved >= HEARTBEAT_INTERVAL:
                self._changed = False
                self._fill_text()
                self.message.checkpoint_at = timezone.now()
                await self._save(["content", "reasoning", "checkpoint_at"])
                last_saved = time.monotonic()

    async def _listen(self) -> None:
        """Answer reply.stop and reply.sync sent to the control group."""
        while True:
            event = await self.layer.receive(self.channel)
            if event.get("type") == "reply.stop":
                self._stop()
            elif event.get("type") == "reply.sync":
                await self._send_snapshot(event.get("reply_channel"))

    def _stop(self) -> None:
        if self._stream_task is not None and self._stream_task.cancel():
            self.stopped = True

    async def _send_snapshot(self, reply_channel: str | None) -> None:
        self._fill_text()
        frame = {"type": "reply.snapshot", "message": self.message.as_dict()}
        if reply_channel:
            await send_frame(reply_channel, frame)
        else:
            await broadcast(self.conversation_id, frame)

    def _fill_text(self) -> None:
        self.message.content = "".join(self.text)
        self.message.reasoning = "".join(self.reasoning)

    async def _save(self, fields: list[str]) -> None:
        try:
            await database_sync_to_async(self.message.save)(update_fields=fields)
        except DatabaseError:
            # The row is gone (the conversation was deleted): nobody to answer.
            logger.info("Reply %s was deleted while streaming", self.message.pk)
            self.gone = True
            self._stop()

    # The end.

    async def _end(self, helpers: list[asyncio.Task[None]]) -> None:
        relay, *others = helpers
        for task in others:
            task.cancel()
        # The relay sends what is left, so the last delta precedes reply.done.
        self._closing = True
        self._unsent.set()
        with suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(relay, timeout=5)
        await asyncio.gather(*others, return_exceptions=True)
        with suppress(Exception):
            await self.layer.group_discard(
                control_group_name(self.conversation_id), self.channel
            )
        if self.gone:
            return
        fields = self._record_outcome()
        await self._save(fields)
        if self.gone:
            return
        if self.prompt_id and self.sensitivity and self.sensitivity.input_sensitive:
            await database_sync_to_async(self._flag_prompt)()
        await broadcast(
            self.conversation_id,
            {"type": "reply.done", "message": self.message.as_dict()},
        )

    def _record_outcome(self) -> list[str]:
        """Put the reply's end state on the message; return the fields to save."""
        message = self.message
        self._fill_text()
        if self.error is None and not (self.stopped or self.interrupted or self.finish):
            self.error = ProtocolError("The reply ended without a final event.")
        if self.error is not None:
            logger.warning(
                "Reply %s failed: %s (MiniMax code %s)",
                message.pk,
                self.error.kind,
                self.error.code,
            )
            message.status = Message.Status.ERROR
            message.error_kind = self.error.kind
            message.error_code = self.error.code
            message.error_message = self.error.message
        elif self.stopped:
            message.status = Message.Status.STOPPED
        elif self.interrupted:
            message.status = Message.Status.INTERRUPTED
        else:
            message.status = Message.Status.COMPLETE
        if self.finish is not None:
            message.finish_reason = self.finish.reason
            message.response_id = self.finish.response_id or ""
        if self.usage is not None:
            message.prompt_tokens = self.usage.prompt_tokens
            message.completion_tokens = self.usage.completion_tokens
            message.total_tokens = self.usage.total_tokens
        if self.sensitivity is not None:
            message.input_sensitive = self.sensitivity.input_sensitive
            message.input_sensitive_type = self.sensitivity.input_type
            message.output_sensitive = self.sensitivity.output_sensitive
            message.output_sensitive_type = self.sensitivity.output_type
        message.tool_calls = [
            self.tool_calls[i] for i in sorted(self.tool_calls)
        ] or None
        message.first_token_ms = self._first_token_ms
        message.duration_ms = self._elapsed_ms()
        message.json_valid = self._json_valid()
        message.checkpoint_at = message.finished_at = timezone.now()
        return [
            "content",
            "reasoning",
            "status",
            "finish_reason",
            "response_id",
            "error_kind",
            "error_code",
            "error_message",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "input_sensitive",
            "input_sensitive_type",
            "output_sensitive",
            "output_sensitive_type",
            "tool_calls",
            "first_token_ms",
            "duration_ms",
            "json_valid",
            "checkpoint_at",
            "finished_at",
        ]

    def _json_valid(self) -> bool | None:
        """Return whether a complete reply matches the conversation's JSON schema."""
        if not self.json_schema or self.message.status != Message.Status.COMPLETE:
            return None
        try:
            instance = json.loads(self.message.content)
            jsonschema.validate(instance, self.json_schema.get("schema") or {})
        except (ValueError, jsonschema.ValidationError, jsonschema.SchemaError):
            return False
        return True

    def _flag_prompt(self) -> None:
        assert self.sensitivity is not None
        Message.objects.filter(pk=self.prompt_id).update(
            input_sensitive=True, input_sensitive_type=self.sensitivity.input_type
        )
