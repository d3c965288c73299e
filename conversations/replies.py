"""A reply being generated: streamed from MiniMax, relayed to pages, saved.

A `Reply` owns its life, like a response in llm: it streams the events, keeps the
text in memory, relays it to the conversation's pages in coalesced `reply.delta`
frames, saves a checkpoint about once a second, answers `reply.stop` and
`reply.sync` from any process, and at the end saves the outcome and announces it
with `reply.done`. `services` decides when one starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import aclosing, suppress
from typing import TYPE_CHECKING, Any

import jsonschema
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import DatabaseError
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
from conversations.models import Message
from conversations.signals import reply_finished

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
# The channel-layer message type consumers forward to their socket as-is.
FRAME_EVENT = "conversation.frame"


def group_name(conversation_id: int) -> str:
    """Return the group every open page of the conversation listens to."""
    return f"conversation-{conversation_id}"


def control_group_name(conversation_id: int) -> str:
    """Return the group the conversation's running reply listens to."""
    # Apart from the page group so the reply does not receive its own deltas back.
    return f"conversation-{conversation_id}-reply"


async def broadcast(conversation_id: int, frame: dict[str, Any]) -> None:
    """Send a frame to every page that has the conversation open."""
    await get_channel_layer().group_send(
        group_name(conversation_id), {"type": FRAME_EVENT, "frame": frame}
    )


async def send_frame(channel: str, frame: dict[str, Any]) -> None:
    """Send a frame to one page's consumer."""
    await get_channel_layer().send(channel, {"type": FRAME_EVENT, "frame": frame})


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
        while not self._closing:
            await self._unsent.wait()
            self._unsent.clear()
            await self._send_delta()
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
            try:
                event = await self.layer.receive(self.channel)
            except Exception:
                # A blip in the channel layer (Redis) must not leave the reply
                # deaf to stop for the rest of its life.
                logger.warning(
                    "Reply %s: receive failed", self.message.pk, exc_info=True
                )
                await asyncio.sleep(0.5)
                continue
            if event.get("type") == "reply.stop":
                self._stop()
            elif event.get("type") == "reply.sync":
                await self._send_snapshot(event.get("reply_channel"))
            elif event.get("type") == "reply.end":
                return

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
        _relay, checkpoints, _listener = helpers
        checkpoints.cancel()
        # The relay finishes the frame it is on; the rest goes out below, so the
        # last delta precedes reply.done.
        self._closing = True
        self._unsent.set()
        # The listener is told to return rather than cancelled: cancelling a
        # channel-layer receive() can leave channels_redis's receive lock held.
        with suppress(Exception):
            await self.layer.group_discard(
                control_group_name(self.conversation_id), self.channel
            )
            await self.layer.send(self.channel, {"type": "reply.end"})
        _done, late = await asyncio.wait(helpers, timeout=5)
        for task in late:
            task.cancel()
        # Whatever arrived after the relay's last frame.
        await self._send_delta()
        if self.gone:
            return
        fields = self._record_outcome()
        await self._save(fields)
        if self.gone:
            return
        if self.prompt_id and self.sensitivity and self.sensitivity.input_sensitive:
            await database_sync_to_async(self._flag_prompt)()
        # [review] the hook the review app listens on (the restructured module sends
        # the same signal); before reply.done, so the item exists when a page sees it.
        await database_sync_to_async(reply_finished.send)(Message, message=self.message)
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
