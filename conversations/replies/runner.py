"""A reply being generated: streamed from MiniMax, relayed to pages, saved.

A `Reply` owns its life, like a response in llm: it runs in an asyncio task of its
own, held by this module's registry rather than by a websocket connection (closing
the tab does not stop it), streams the events into a `ReplyState`, relays the new
text in coalesced `reply.delta` frames, saves a checkpoint about once a second,
answers `reply.stop` and `reply.sync` from any process through the channel layer,
and at the end saves the outcome, announces it with `reply.done` and sends
`signals.reply_finished`.

Saving: a checkpoint or the final save that meets a locked or unreachable database
(OperationalError, InterfaceError) is retried after a short backoff and the reply
goes on; only a reply whose row is gone (the update matched no row: the
conversation was deleted) stops, quietly.

This module also repairs replies a dead process left streaming
(`recover_stale_replies`). `services` decides when a reply starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import aclosing, suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from conversations import frames, list_relay, titles, upstream
from conversations.minimax.errors import MiniMaxError
from conversations.models import Conversation, Message
from conversations.relay import (
    Audience,
    Outbox,
    broadcast,
    control_group_name,
    run_write,
    send_frame,
)
from conversations.replies.pacing import FramePacer
from conversations.replies.state import ReplyState
from conversations.signals import reply_finished

if TYPE_CHECKING:
    from conversations.minimax.types import ChatRequest

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A checkpoint of the text so far at most this often while text arrives (a short
# reply is saved once, at its end)...
CHECKPOINT_INTERVAL = 2.5
# ...and at least this often while none does (a slow first token), so that
# recover_replies can tell a live reply from a dead process's.
HEARTBEAT_INTERVAL = 10.0
# A write that meets a locked or unreachable database is tried this many times,
# waiting RETRY_BACKOFF, then twice that, ... in between. A checkpoint that still
# fails is skipped (the next one carries its text); the final save tries longer.
CHECKPOINT_ATTEMPTS = 3
FINAL_SAVE_ATTEMPTS = 6
RETRY_BACKOFF = 0.1
# A streaming reply not saved for this long belongs to a process that died...
STALE_AFTER = timedelta(seconds=30)
# ...or, when this process is the only one serving, not running here for this long
# (longer than the moment between storing a reply and starting its task).
SINGLE_PROCESS_STALE_AFTER = timedelta(seconds=5)

# Replies running in this process, by message id. Holding the tasks here keeps them
# from being garbage-collected once no connection refers to them.
_running: dict[int, asyncio.Task[None]] = {}


def running_reply_ids() -> set[int]:
    return set(_running)


async def wait_for_replies() -> None:
    """Wait until the replies running in this process have ended (tests, shutdown),
    and the titles they asked for."""
    tasks = list(_running.values())
    if tasks:
        await asyncio.wait(tasks)
    if _titling:
        await asyncio.wait(list(_titling))


# Title requests under way; held so they are not garbage-collected mid-flight.
_titling: set[asyncio.Task[None]] = set()


def start_title(conversation_id: int) -> None:
    """Ask the model for a title in the background (titles.py: first exchange only)."""
    task = asyncio.create_task(_title(conversation_id), name=f"title-{conversation_id}")
    _titling.add(task)
    task.add_done_callback(_titling.discard)


async def _title(conversation_id: int) -> None:
    title = await titles.suggest_title(conversation_id)
    if title:
        frame = frames.conversation_updated(conversation_id, title=title)
        await broadcast(conversation_id, frame)
        await list_relay.announce_changed(conversation_id)


# --- Starting, stopping, asking ------------------------------------------------


async def start_reply(
    message: Message,
    request: ChatRequest,
    json_schema: dict[str, Any] | None = None,
    *,
    prompt_id: int | None = None,
) -> Reply:
    """Announce the (stored, streaming) reply and run it in a task of its own."""
    reply = Reply(message, request, json_schema, prompt_id=prompt_id)
    # Subscribed before it is announced, so a reply.stop the page sends next is
    # heard.
    await reply.subscribe()
    await broadcast(message.conversation_id, frames.message_created(message))
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
    message = await database_sync_to_async(last_reply)(conversation_id)
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
        for frame in frames.message_frames("reply.snapshot", message):
            await send_frame(reply_channel, frame)


def last_reply(conversation_id: int) -> Message | None:
    """Return the last reply of the branch on screen, with its versions."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return None
    tree = conversation.tree()
    replies = [m for m in tree.branch() if m.role == Message.Role.ASSISTANT]
    return replies[-1] if replies else None


# --- Recovering replies a dead process left streaming (database thread) -------


def single_process() -> bool:
    """Return whether this is the only process serving (the in-memory layer).

    The in-memory channel layer cannot span processes, so with it no other process
    can be running a reply; with a shared layer (Redis) others may be.
    """
    backend = import_string(settings.CHANNEL_LAYERS["default"]["BACKEND"])
    return issubclass(backend, InMemoryChannelLayer)


def stale_after() -> timedelta:
    """Return how long a streaming reply may go unsaved before it counts as dead."""
    return SINGLE_PROCESS_STALE_AFTER if single_process() else STALE_AFTER


def recover_stale_replies(conversation_id: int | None = None) -> int:
    """Mark replies left streaming by a dead process interrupted; return how many.

    Looked up first (the streaming index), written only when there are some: a
    page that connects is not an UPDATE.
    """
    stale = Message.objects.stale_streaming(stale_after()).exclude(
        pk__in=running_reply_ids()
    )
    if conversation_id is not None:
        stale = stale.filter(conversation_id=conversation_id)
    ids = list(stale.values_list("pk", flat=True))
    if not ids:
        return 0
    return Message.objects.streaming().filter(pk__in=ids).mark_interrupted()


def streaming_reply_ids(conversation_id: int) -> list[int]:
    """Return the conversation's streaming replies, after marking the ones a dead
    process left interrupted (one lookup when there are none)."""
    rows = list(
        Message.objects.streaming()
        .filter(conversation_id=conversation_id)
        .values_list("pk", "checkpoint_at", "created_at")
    )
    if not rows:
        return []
    cutoff = timezone.now() - stale_after()
    running = running_reply_ids()
    stale = [
        pk
        for pk, checkpoint_at, created_at in rows
        if pk not in running and (checkpoint_at or created_at) < cutoff
    ]
    if stale:
        Message.objects.streaming().filter(pk__in=stale).mark_interrupted()
    return [pk for pk, _checkpoint_at, _created_at in rows if pk not in stale]


def streaming_conversations(owner_ids: Iterable[int]) -> dict[int, list[int]]:
    """Return, by owner, the conversation of each of their streaming replies.

    One lookup (the streaming index) answers both of the send path's questions
    for every owner at once: is this conversation busy, and may its owner start
    another reply (busy_and_streaming).
    """
    rows: dict[int, list[int]] = {}
    for conversation_id, owner_id in (
        Message.objects.streaming()
        .filter(conversation__owner_id__in=owner_ids)
        .values_list("conversation_id", "conversation__owner_id")
    ):
        rows.setdefault(owner_id, []).append(conversation_id)
    return rows


def busy_and_streaming(
    conversation_id: int, owner_rows: list[int]
) -> tuple[list[int], int]:
    """Return the conversation's live streaming replies and how many its owner has
    streaming in all, from the owner's `streaming_conversations` row.

    Only a conversation with a streaming reply (busy, or left by a dead process)
    is looked at again, for its timestamps.
    """
    if conversation_id not in owner_rows:
        return [], len(owner_rows)
    live = streaming_reply_ids(conversation_id)
    return live, len(owner_rows) - owner_rows.count(conversation_id) + len(live)


# --- The reply's writes (database thread) --------------------------------------


def write_checkpoint(message_id: int, fields: dict[str, Any]) -> int:
    """Save the text so far; return how many rows matched (0: the reply is gone)."""
    return Message.objects.filter(pk=message_id).update(**fields)


def write_outcome(
    outbox: Outbox, message: Message, fields: dict[str, Any], flag_prompt_id: int | None
) -> bool:
    """Save how the reply ended (and flag its prompt); False if the row is gone.

    reply.done and reply_finished follow the commit: a rolled-back save announces
    nothing.
    """
    with transaction.atomic():
        if not Message.objects.filter(pk=message.pk).update(**fields):
            return False
        if flag_prompt_id is not None:
            Message.objects.filter(pk=flag_prompt_id).update(
                input_sensitive=True, input_sensitive_type=message.input_sensitive_type
            )
        for frame in frames.done_frames(message):
            outbox.post_on_commit(message.conversation_id, frame)
        transaction.on_commit(lambda: announce_finished(message))
    return True


def announce_finished(message: Message) -> None:
    """Send reply_finished; a failing receiver is logged, not the reply's problem."""
    for receiver, result in reply_finished.send_robust(sender=Message, message=message):
        if isinstance(result, Exception):
            logger.error(
                "reply_finished receiver %r failed for message %s",
                receiver,
                message.pk,
                exc_info=result,
            )


async def retrying(write: Callable[[], Awaitable[T]], attempts: int) -> T:
    """Await `write()`, again after a short backoff if the database was unavailable."""
    delay = RETRY_BACKOFF
    for attempt in range(1, attempts + 1):
        try:
            return await write()
        except (OperationalError, InterfaceError):
            if attempt == attempts:
                raise
            logger.warning(
                "Database unavailable (attempt %s of %s); retrying in %.1f s",
                attempt,
                attempts,
                delay,
                exc_info=True,
            )
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


# --- The reply ---------------------------------------------------------------


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
        self.prompt_id = prompt_id
        self.state = ReplyState(json_schema, max_chars=settings.CHAT_REPLY_MAX_CHARS)
        self.max_seconds = settings.CHAT_REPLY_MAX_SECONDS
        self.layer = get_channel_layer()
        self.audience = Audience(self.conversation_id)
        self.channel = ""
        # The row was deleted under the reply: nothing to save, nobody to tell.
        self.gone = False
        # Set when the relay should look: a piece is waiting, a frame is due, the end.
        self._look = asyncio.Event()
        self._pacer = FramePacer()
        self._closing = asyncio.Event()
        self._stream_task: asyncio.Task[None] | None = None

    async def subscribe(self) -> None:
        """Listen on the control group (stop, sync); a layer that is away is logged:
        the reply runs anyway and joins once the layer is back (_listen)."""
        self.channel = await self.layer.new_channel()
        await self._join_control_group()

    async def _join_control_group(self) -> bool:
        try:
            await self.layer.group_add(
                control_group_name(self.conversation_id), self.channel
            )
        except Exception:
            logger.warning(
                "Reply %s: channel layer unavailable", self.message.pk, exc_info=True
            )
            return False
        return True

    async def run(self) -> None:
        """Stream the reply to its end, stop or error; then save and announce it."""
        if not self.channel:
            await self.subscribe()
        self.state.start_clock()
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
                self.state.interrupt()
                await self._end(helpers)
                raise
            # Otherwise it was stop (or the row is gone): fall through.
        except Exception:  # a bug in the client must not leave it streaming
            logger.exception("Reply %s failed", self.message.pk)
            self.state.fail(MiniMaxError())
        await self._end(helpers)

    async def _stream(self) -> None:
        """Apply MiniMax's events until the stream ends or a site cap is reached."""
        client = upstream.get_minimax_client()
        loop = asyncio.get_running_loop()
        deadline = asyncio.timeout(self.max_seconds)
        try:
            async with deadline, aclosing(client.stream(self.request)) as events:
                async for event in events:
                    if self.state.apply(event) and self._pacer.arrived(loop.time()):
                        self._look.set()
                    if self.state.limit is not None:
                        # Leaving the loop closes the upstream response.
                        return
        except TimeoutError:
            if not deadline.expired():
                raise
            self.state.cut_short("seconds", self.max_seconds)

    def _cancel_stream(self) -> bool:
        """Cancel the stream if it is still running; return whether it was."""
        return self._stream_task is not None and self._stream_task.cancel()

    # Relaying and checkpointing run beside the stream, each on its own clock.

    async def _relay_frames(self) -> None:
        """Send what arrived when the pacer says; stop once the reply ends (_end
        sends the rest)."""
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            await self._look.wait()
            self._look.clear()
            if await self._frame_due(loop):
                self._pacer.sent(loop.time())
                await self._send_delta()

    async def _frame_due(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Sleep until the pacer's deadline, woken early by a piece that makes the
        frame due or by the end (reply.done must not wait out the hold); return
        whether a frame goes now."""
        while (wait := self._pacer.due_in(loop.time())) and not self._closing.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._look.wait()
            self._look.clear()
        return wait is not None and not self._closing.is_set()

    async def _send_delta(self) -> None:
        if self.state.take_resync():
            await self._send_snapshot(None)
            return
        delta = self.state.take_delta()
        if delta is None:
            return
        for frame in frames.reply_deltas(
            self.message.pk,
            text=delta.text,
            text_offset=delta.text_offset,
            reasoning=delta.reasoning,
            reasoning_offset=delta.reasoning_offset,
        ):
            await self.audience.broadcast(frame)

    async def _save_checkpoints(self) -> None:
        last_saved = time.monotonic()
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            heartbeat_due = time.monotonic() - last_saved >= HEARTBEAT_INTERVAL
            if self.state.take_changed() or heartbeat_due:
                await self._checkpoint()
                last_saved = time.monotonic()

    async def _checkpoint(self) -> None:
        fields = self.state.checkpoint_fields(timezone.now())
        try:
            rows = await retrying(
                lambda: database_sync_to_async(write_checkpoint)(
                    self.message.pk, fields
                ),
                CHECKPOINT_ATTEMPTS,
            )
        except (OperationalError, InterfaceError):
            # Still unavailable: go on streaming; the next checkpoint has it all.
            logger.warning("Reply %s: checkpoint skipped", self.message.pk)
            self.state.mark_changed()
            return
        if rows == 0:
            self._row_gone()

    def _row_gone(self) -> None:
        logger.info("Reply %s was deleted while streaming", self.message.pk)
        self.gone = True
        if self._cancel_stream():
            self.state.stop()

    async def _listen(self) -> None:
        """Answer reply.stop and reply.sync sent to the control group."""
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except Exception:
                # A blip in the channel layer (Redis) must not leave the reply
                # deaf to stop for the rest of its life; a restarted Redis has
                # forgotten the group, so the reply joins it again.
                logger.warning(
                    "Reply %s: receive failed", self.message.pk, exc_info=True
                )
                if self._closing.is_set():
                    return
                await asyncio.sleep(0.5)
                await self._join_control_group()
                self.audience.changed()
                continue
            if event.get("type") == "reply.stop":
                # Only a stream still running is stopped: one that already had its
                # final event is complete.
                if self._cancel_stream():
                    self.state.stop()
            elif event.get("type") == "reply.sync":
                # Maybe a page of another process: the deltas after its snapshot
                # must reach it.
                self.audience.changed()
                await self._send_snapshot(event.get("reply_channel"))
            elif event.get("type") == "reply.end":
                return

    async def _send_snapshot(self, reply_channel: str | None) -> None:
        self.message.content = self.state.text
        self.message.reasoning = self.state.reasoning
        for frame in frames.message_frames("reply.snapshot", self.message):
            if reply_channel:
                await send_frame(reply_channel, frame)
            else:
                await broadcast(self.conversation_id, frame)

    # The end.

    async def _end(self, helpers: list[asyncio.Task[None]]) -> None:
        _relay, checkpoints, _listener = helpers
        checkpoints.cancel()
        # The relay finishes the frame it is on, or stops waiting for the next;
        # the rest goes out below, so the last delta precedes reply.done.
        self._closing.set()
        self._look.set()
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
        if not self.gone:
            await self._save_outcome()

    async def _save_outcome(self) -> None:
        fields = self.state.outcome_fields(timezone.now())
        for name, value in fields.items():
            setattr(self.message, name, value)
        if self.state.error is not None:
            logger.warning(
                "Reply %s failed: %s (MiniMax code %s)",
                self.message.pk,
                self.state.error.kind,
                self.state.error.code,
            )
        flag_prompt_id = self.prompt_id if self.state.input_flagged else None
        try:
            saved = await retrying(
                lambda: run_write(write_outcome, self.message, fields, flag_prompt_id),
                FINAL_SAVE_ATTEMPTS,
            )
        except (OperationalError, InterfaceError):
            # Left streaming: recover_replies marks it interrupted, with the text of
            # its last checkpoint.
            logger.exception("Reply %s: the final save failed", self.message.pk)
            return
        if not saved:
            self.gone = True
            return
        # The list hears nothing: its entry (title, updated_at...) is as the send
        # left it; the title task announces a model-made title.
        if self.state.status == Message.Status.COMPLETE and (
            titles.may_be_first_exchange(self.request)
        ):
            start_title(self.conversation_id)
