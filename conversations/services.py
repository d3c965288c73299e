"""The writes that start a reply: store the user's turn, or prepare a regenerate.

Each `do_*` function runs in the database thread and writes in one transaction,
before anything goes upstream; the conversation must be idle (`Busy` otherwise).
Its frames (message.created for the user's turn, message.deleted for a replaced
reply) are posted to an `Outbox` and go out only once that transaction has
committed (relay.py explains how). Then `replies.runner` takes over: it
announces the new streaming reply and runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from conversations import frames, limits, list_relay
from conversations.models import Conversation, Message
from conversations.relay import Outbox, run_write
from conversations.replies import runner

if TYPE_CHECKING:
    from conversations.minimax.types import ChatRequest

MAX_CONTENT_LENGTH = 32_000


class ReplyRefused(Exception):
    """The frame cannot be acted on now; `code` is the websocket error code."""

    code = "bad_frame"
    text = "That frame was not understood."

    def message(self) -> str:
        """Return what the page shows (the error frame's message)."""
        return self.text


class Busy(ReplyRefused):
    code = "busy"
    text = "A reply is still being written. Stop it or wait for it to finish."


class NothingToRegenerate(ReplyRefused):
    code = "nothing_to_regenerate"
    text = "There is no message to answer again."


# --- Checks and writes (database thread) -----------------------------------------


def check_idle_conversation(conversation_id: int) -> Conversation:
    """Return the conversation, locked, or raise Busy if a reply is streaming.

    Also raises limits.RateLimited when its owner may not start another reply now.
    """
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    runner.recover_stale_replies(conversation_id)
    if conversation.messages.streaming().exists():
        raise Busy
    limits.check_concurrent_replies(conversation.owner_id)
    limits.check_message_rate(conversation.owner_id)
    return conversation


def create_reply_message(
    conversation: Conversation, context_trimmed: int = 0
) -> Message:
    now = timezone.now()
    return Message.objects.create(
        conversation=conversation,
        context_trimmed=context_trimmed,
        role=Message.Role.ASSISTANT,
        sender_name=conversation.reply_sender_name(),
        status=Message.Status.STREAMING,
        created_at=now,
        checkpoint_at=now,
    )


def do_store_user_message(
    outbox: Outbox, conversation_id: int, content: str, client_id: str = ""
) -> tuple[Message, Message, ChatRequest, dict[str, Any] | None]:
    """Store the user's message and an empty streaming reply; return the request."""
    with transaction.atomic():
        conversation = check_idle_conversation(conversation_id)
        user_message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.USER,
            sender_name=conversation.user_name,
            content=content,
        )
        outbox.post_on_commit(
            conversation_id, frames.message_created(user_message, client_id)
        )
        if not conversation.title:
            conversation.title = conversation.title_from(content)
        conversation.save(update_fields=["title", "updated_at"])
        request, left_out = conversation.chat_request_in_window()
        reply = create_reply_message(conversation, left_out)
    return user_message, reply, request, conversation.json_schema


def do_prepare_regenerate(
    outbox: Outbox, conversation_id: int
) -> tuple[Message, ChatRequest, dict[str, Any] | None]:
    """Delete the last reply and store a new streaming one for the same user turn."""
    with transaction.atomic():
        conversation = check_idle_conversation(conversation_id)
        last = conversation.messages.order_by("-created_at", "-id").first()
        if last is not None and last.role == Message.Role.ASSISTANT:
            outbox.post_on_commit(conversation_id, frames.message_deleted(last.pk))
            last.delete()
            last = conversation.messages.order_by("-created_at", "-id").first()
        if last is None or last.role != Message.Role.USER:
            raise NothingToRegenerate
        conversation.save(update_fields=["updated_at"])
        request, left_out = conversation.chat_request_in_window()
        reply = create_reply_message(conversation, left_out)
    return reply, request, conversation.json_schema


# --- What the consumer calls ---------------------------------------------------------


async def send_message(
    conversation_id: int, content: str, client_id: str = ""
) -> Message:
    """Store the user's message, then start streaming the reply to it."""
    user_message, reply_message, request, json_schema = await run_write(
        do_store_user_message, conversation_id, content, client_id
    )
    # Committed: the list moves the conversation to the top (and shows its title).
    await list_relay.announce_changed(conversation_id)
    await runner.start_reply(
        reply_message, request, json_schema, prompt_id=user_message.pk
    )
    return user_message


async def regenerate(conversation_id: int) -> Message:
    """Replace the last reply with a new one for the same user message."""
    reply_message, request, json_schema = await run_write(
        do_prepare_regenerate, conversation_id
    )
    await list_relay.announce_changed(conversation_id)
    await runner.start_reply(reply_message, request, json_schema)
    return reply_message
