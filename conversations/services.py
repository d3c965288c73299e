"""The writes that start a reply or change the branch on screen: store the
user's turn, an edit of one (a new branch), prepare a regenerate (a new version of
the last reply), switch to another version (tree.py).

Each `do_*` function runs in the database thread and writes in one transaction,
before anything goes upstream; the conversation must be idle (`Busy` otherwise:
a streaming reply is stopped or finished before the branch changes). Its frames
(message.created for the user's turn, branch.changed for an edit, a regenerate or
a switch) are posted to an `Outbox` and go out only once that transaction has
committed (relay.py explains how). Then `replies.runner` takes over: it
announces the new streaming reply and runs it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from conversations import frames, limits, list_relay
from conversations.minimax.prompting import Turn
from conversations.models import Conversation, Message
from conversations.relay import Outbox, run_write
from conversations.replies import runner

if TYPE_CHECKING:
    from conversations.minimax.types import ChatRequest

MAX_CONTENT_LENGTH = 32_000
# A conversation's updated_at moves on a send only when it is older than this.
TOUCH_INTERVAL = timedelta(minutes=1)


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


class NoSuchMessage(ReplyRefused):
    # Also for another conversation's message: it is not there for this socket.
    code = "no_such_message"
    text = "That message is not in this conversation."


class NotEditable(ReplyRefused):
    code = "not_editable"
    text = "Only your own messages can be edited."


# --- Checks and writes (database thread) -----------------------------------------


def check_idle_conversation(conversation_id: int) -> Conversation:
    """Return the conversation, locked, or raise Busy if a reply is streaming.

    Also raises limits.RateLimited when its owner may not start another reply now.
    The conversation's row and its owner's are locked in one query (PostgreSQL
    locks every row of the join): two sends to one conversation, and two replies
    starting at once in two of the owner's conversations, go one after the other.
    One more lookup, of the owner's streaming replies, answers both checks.
    """
    conversation = (
        Conversation.objects.select_for_update()
        .select_related("owner")
        .get(pk=conversation_id)
    )
    busy, streaming = runner.owner_streaming_replies(
        conversation.owner_id, conversation_id
    )
    if busy:
        raise Busy
    limits.check_concurrent_replies(streaming)
    limits.check_message_rate(conversation.owner_id)
    return conversation


def new_reply_message(
    conversation: Conversation, parent: Message, context_trimmed: int = 0
) -> Message:
    """Return an empty streaming reply to `parent`, not stored yet."""
    now = timezone.now()
    return Message(
        conversation=conversation,
        parent=parent,
        context_trimmed=context_trimmed,
        role=Message.Role.ASSISTANT,
        sender_name=conversation.reply_sender_name(),
        status=Message.Status.STREAMING,
        created_at=now,
        checkpoint_at=now,
    )


def create_reply_message(
    conversation: Conversation, parent: Message, context_trimmed: int = 0
) -> Message:
    """Store an empty streaming reply to `parent`, as the conversation's leaf."""
    reply = new_reply_message(conversation, parent, context_trimmed)
    reply.save(force_insert=True)
    conversation.active_leaf = reply
    # .update(): the list's order (updated_at) is touch_conversation's business.
    Conversation.objects.filter(pk=conversation.pk).update(active_leaf=reply)
    return reply


def start_reply_to(
    outbox: Outbox, conversation: Conversation, prompt: Message
) -> tuple[Message, ChatRequest]:
    """Make `prompt` the leaf, build the request for its branch, store the reply.

    Announces the new branch (branch.changed) once the transaction commits.
    """
    conversation.active_leaf = prompt
    request, left_out = conversation.chat_request_in_window()
    reply = create_reply_message(conversation, prompt, left_out)
    tree = conversation.tree()
    branch = tree.branch()
    reply.sibling_ids = tree.siblings(reply)
    outbox.post_on_commit(
        conversation.pk, frames.branch_changed(conversation.pk, reply.pk, branch)
    )
    return reply, request


def touch_conversation(conversation: Conversation, first_content: str) -> None:
    """Give the conversation its title (first message) and move it up the list.

    `updated_at` (the list's order) is written only when it is older than
    TOUCH_INTERVAL: a conversation in use is not rewritten on every message.
    """
    fields = []
    if not conversation.title:
        conversation.title = conversation.title_from(first_content)
        fields.append("title")
    if fields or conversation.updated_at < timezone.now() - TOUCH_INTERVAL:
        conversation.save(update_fields=[*fields, "updated_at"])


def do_store_user_message(
    outbox: Outbox, conversation_id: int, content: str, client_id: str = ""
) -> tuple[Message, Message, ChatRequest, Conversation]:
    """Store the user's message after the active branch's last one, and an empty
    streaming reply to it; return the request.

    The request is built first, from the branch with the new turn after it. The
    reply, the newest message, ends the active branch: a stored active_leaf
    (after an edit or a switch) is cleared, otherwise the conversation row is
    left alone (Conversation.active_leaf: null is the newest message's branch).
    """
    with transaction.atomic():
        conversation = check_idle_conversation(conversation_id)
        touch_conversation(conversation, content)
        branch = conversation.active_branch()
        request, left_out = conversation.chat_request_in_window(
            new_turns=[Turn("user", content)], branch=branch
        )
        user_message = Message(
            conversation=conversation,
            parent=branch[-1] if branch else None,
            role=Message.Role.USER,
            sender_name=conversation.user_name,
            content=content,
        )
        user_message.is_root = not branch
        reply = new_reply_message(conversation, user_message, left_out)
        # The same moment: ordered by id, the user's message first. Two INSERTs:
        # the reply's parent is the user message's id.
        user_message.created_at = reply.created_at
        user_message.save(force_insert=True)
        reply.parent = user_message
        reply.save(force_insert=True)
        if conversation.active_leaf_id is not None:
            Conversation.objects.filter(pk=conversation_id).update(active_leaf=None)
            conversation.active_leaf = None
        # Its parent was the branch's leaf: it is the only version of its turn.
        user_message.sibling_ids = [user_message.pk]
        outbox.post_on_commit(
            conversation_id, frames.message_created(user_message, client_id)
        )
    return user_message, reply, request, conversation


def do_edit_message(
    outbox: Outbox, conversation_id: int, message_id: int, content: str
) -> tuple[Message, Message, ChatRequest, dict[str, Any] | None]:
    """Store an edited user message beside the one it replaces, and a reply to it.

    The old message and everything after it stay: a branch the pager returns to.
    """
    with transaction.atomic():
        conversation = check_idle_conversation(conversation_id)
        original = conversation.messages.filter(pk=message_id).first()
        if original is None:
            raise NoSuchMessage
        if original.role != Message.Role.USER:
            raise NotEditable
        edited = Message(
            conversation=conversation,
            parent_id=original.parent_id,
            role=Message.Role.USER,
            sender_name=conversation.user_name,
            content=content,
        )
        edited.is_root = original.parent_id is None
        edited.save()
        reply, request = start_reply_to(outbox, conversation, edited)
    return edited, reply, request, conversation.json_schema


def do_prepare_regenerate(
    outbox: Outbox, conversation_id: int
) -> tuple[Message, ChatRequest, dict[str, Any] | None]:
    """Store a new streaming reply beside the branch's last one (which stays)."""
    with transaction.atomic():
        conversation = check_idle_conversation(conversation_id)
        tree = conversation.tree()
        last = tree.leaf()
        if last is not None and last.role == Message.Role.ASSISTANT:
            last = tree.by_id.get(last.parent_id)
        if last is None or last.role != Message.Role.USER:
            raise NothingToRegenerate
        reply, request = start_reply_to(outbox, conversation, last)
    return reply, request, conversation.json_schema


def do_switch_branch(outbox: Outbox, conversation_id: int, message_id: int) -> None:
    """Show the newest branch through `message_id` (a version of some turn)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if runner.streaming_reply_ids(conversation_id):
            raise Busy
        tree = conversation.tree()
        if message_id not in tree:
            raise NoSuchMessage
        leaf = tree.newest_leaf_under(message_id)
        # .update(): paging through versions is not news for the conversation list.
        Conversation.objects.filter(pk=conversation_id).update(active_leaf=leaf)
        tree.active_leaf_id = leaf.pk
        outbox.post_on_commit(
            conversation_id,
            frames.branch_changed(conversation_id, leaf.pk, tree.branch()),
        )


# --- What the consumer calls ---------------------------------------------------------


async def send_message(
    conversation_id: int, content: str, client_id: str = ""
) -> Message:
    """Store the user's message, then start streaming the reply to it."""
    user_message, reply_message, request, conversation = await run_write(
        do_store_user_message, conversation_id, content, client_id
    )
    # Committed: the reply starts (its request goes upstream) before anything
    # else is told...
    await runner.start_reply(
        reply_message, request, conversation.json_schema, prompt_id=user_message.pk
    )
    # ...then the list moves the conversation to the top (and shows its title),
    # as the write left it: no need to read it again.
    await list_relay.announce(conversation)
    return user_message


async def edit_message(conversation_id: int, message_id: int, content: str) -> Message:
    """Store the edited message as a new branch, then stream the reply to it."""
    edited, reply_message, request, json_schema = await run_write(
        do_edit_message, conversation_id, message_id, content
    )
    await runner.start_reply(reply_message, request, json_schema, prompt_id=edited.pk)
    return edited


async def switch_branch(conversation_id: int, message_id: int) -> None:
    await run_write(do_switch_branch, conversation_id, message_id)


async def regenerate(conversation_id: int) -> Message:
    """Answer the last user message again; the old reply stays as a version."""
    reply_message, request, json_schema = await run_write(
        do_prepare_regenerate, conversation_id
    )
    await list_relay.announce_changed(conversation_id)
    await runner.start_reply(reply_message, request, json_schema)
    return reply_message
