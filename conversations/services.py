"""The reply flow: store the user's turn, stream MiniMax's answer, relay and save it.

This is the one place that crosses boundaries (database, MiniMax, channel layer):

* `send_message` / `regenerate` check the conversation is idle and write the turns
  in one transaction, before anything goes upstream, then start a `Reply`.
* A `Reply` (replies.py) runs in its own asyncio task, held by this module rather
  than by a websocket connection: closing the tab does not stop it, and it is
  saved when it ends. `request_stop` / `request_snapshot` reach it through the
  channel layer, from any process.

Frames that others must see are broadcast after the write they describe has
committed: every write here runs in `database_sync_to_async` in autocommit mode (or
a transaction that ends inside it), so awaiting it means it committed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations.minimax.catalog import Dialect
from conversations.models import Conversation, Message
from conversations.replies import (
    Reply,
    broadcast,
    control_group_name,
    send_frame,
)

if TYPE_CHECKING:
    from conversations.minimax.types import ChatRequest

# A streaming reply not saved for this long belongs to a process that died...
STALE_AFTER = timedelta(seconds=30)
# ...or, when this process is the only one serving, not running here for this long
# (longer than the moment between storing a reply and starting its task).
SINGLE_PROCESS_STALE_AFTER = timedelta(seconds=5)
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


def running_reply_ids() -> set[int]:
    return set(_running)


async def wait_for_replies() -> None:
    """Wait until the replies running in this process have ended (tests, shutdown)."""
    tasks = list(_running.values())
    if tasks:
        await asyncio.wait(tasks)


# --- Checks and writes (run in the database thread) ---------------------------


def single_process() -> bool:
    """Return whether this is the only process serving (the in-memory layer).

    The in-memory channel layer cannot span processes, so with it no other process
    can be running a reply; with a shared layer (Redis) others may be.
    """
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    return backend == "channels.layers.InMemoryChannelLayer"


def stale_after() -> timedelta:
    """Return how long a streaming reply may go unsaved before it counts as dead."""
    return SINGLE_PROCESS_STALE_AFTER if single_process() else STALE_AFTER


def recover_stale_replies(conversation_id: int | None = None) -> int:
    """Mark replies left streaming by a dead process interrupted; return how many."""
    stale = Message.objects.stale_streaming(stale_after()).exclude(
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
    # pro replies come from a named bot; otherwise the label is the model that
    # answered, which stays true if the conversation later switches model.
    if conversation.dialect == Dialect.PRO:
        sender_name = conversation.bot_name
    else:
        sender_name = conversation.model
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        sender_name=sender_name,
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
