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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from conversations import frames, limits, list_relay
from conversations.group_commit import GroupCommit
from conversations.minimax.prompting import Turn
from conversations.models import Conversation, Message
from conversations.relay import Outbox, run_write
from conversations.replies import runner
from conversations.tree import MessageTree

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


def lock_conversations(conversation_ids: Iterable[int]) -> dict[int, Conversation]:
    """Return the conversations, each locked with its owner's row, by id.

    One query; PostgreSQL locks every row of the join, in the order they come:
    sorted by owner, then id, the same in every transaction that starts a reply,
    so that two of them wanting some of the same rows wait for each other rather
    than deadlock. Two sends to one conversation, and two replies starting at once
    in two of the owner's conversations, go one after the other.
    """
    conversations = (
        Conversation.objects.select_for_update()
        .select_related("owner")
        .filter(pk__in=conversation_ids)
        .order_by("owner_id", "pk")
    )
    return {conversation.pk: conversation for conversation in conversations}


def check_idle(conversation: Conversation, owner_streaming: list[int]) -> None:
    """Raise Busy if a reply of the conversation is streaming.

    Also raises limits.RateLimited when its owner may not start another reply now.
    `owner_streaming` is the owner's row of runner.streaming_conversations.
    """
    busy, streaming = runner.busy_and_streaming(conversation.pk, owner_streaming)
    if busy:
        raise Busy
    limits.check_concurrent_replies(streaming)
    limits.check_message_rate(conversation.owner_id)


def check_idle_conversation(conversation_id: int) -> Conversation:
    """Return the conversation, locked, or raise Busy if a reply is streaming
    (or limits.RateLimited: check_idle)."""
    conversation = lock_conversations([conversation_id]).get(conversation_id)
    if conversation is None:
        raise Conversation.DoesNotExist
    streaming = runner.streaming_conversations([conversation.owner_id])
    check_idle(conversation, streaming.get(conversation.owner_id, []))
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


def touch_conversation(conversation: Conversation, first_content: str) -> bool:
    """Give the conversation its title (first message) and move it up the list,
    in memory; return whether it needs saving (save_user_turns saves it).

    `updated_at` (the list's order) is written only when it is older than
    TOUCH_INTERVAL: a conversation in use is not rewritten on every message.
    """
    now = timezone.now()
    titled = False
    if not conversation.title:
        conversation.title = conversation.title_from(first_content)
        titled = True
    if titled or conversation.updated_at < now - TOUCH_INTERVAL:
        conversation.updated_at = now
        return True
    return False


@dataclass(frozen=True)
class Send:
    """A message.send: the user's text for a conversation."""

    conversation_id: int
    content: str
    client_id: str = ""


@dataclass
class StoredSend:
    """A send stored: the user's message, its streaming reply, the request."""

    send: Send
    user_message: Message
    reply: Message
    request: ChatRequest
    conversation: Conversation
    # The conversation's title or place in the list changed (touch_conversation).
    touched: bool = False


def do_store_user_message(
    outbox: Outbox, conversation_id: int, content: str, client_id: str = ""
) -> tuple[Message, Message, ChatRequest, Conversation]:
    """Store one send (do_store_sends); raise what it is refused with."""
    (stored,) = do_store_sends(outbox, [Send(conversation_id, content, client_id)])
    if isinstance(stored, Exception):
        raise stored
    return stored.user_message, stored.reply, stored.request, stored.conversation


def do_store_sends(outbox: Outbox, sends: list[Send]) -> list[StoredSend | Exception]:
    """Store each send's message after its active branch's last one, and an empty
    streaming reply to it; return one StoredSend per send, or what refused it.

    One transaction for all (group_commit.py), in a handful of queries whatever
    their number: the conversations locked, their owners' streaming replies, their
    messages, then the new rows in two INSERTs. A send to a busy conversation, or
    past its owner's limits, is refused alone (Busy, limits.RateLimited; a second
    send to one conversation in the same batch finds it busy).
    """
    with transaction.atomic():
        conversations = lock_conversations({send.conversation_id for send in sends})
        streaming = runner.streaming_conversations(
            {conversation.owner_id for conversation in conversations.values()}
        )
        results: list[StoredSend | Exception] = []
        accepted: dict[int, Send] = {}
        for send in sends:
            conversation = conversations.get(send.conversation_id)
            try:
                if conversation is None:
                    raise Conversation.DoesNotExist
                if send.conversation_id in accepted:
                    raise Busy
                owner_streaming = streaming.setdefault(conversation.owner_id, [])
                check_idle(conversation, owner_streaming)
            except (
                ReplyRefused,
                limits.RateLimited,
                Conversation.DoesNotExist,
            ) as refused:
                results.append(refused)
                continue
            # Counted for the owner's next send in this batch.
            owner_streaming.append(send.conversation_id)
            accepted[send.conversation_id] = send
            results.append(send)
        trees = message_trees([conversations[pk] for pk in accepted])
        stored = {
            pk: new_user_turn(conversations[pk], send, trees[pk])
            for pk, send in accepted.items()
        }
        save_user_turns(outbox, list(stored.values()))
    return [
        stored[result.conversation_id] if isinstance(result, Send) else result
        for result in results
    ]


def message_trees(conversations: list[Conversation]) -> dict[int, MessageTree]:
    """Return each conversation's messages as a tree, by conversation id (one query)."""
    by_conversation = {conversation.pk: [] for conversation in conversations}
    for message in Message.objects.filter(conversation_id__in=by_conversation):
        by_conversation[message.conversation_id].append(message)
    trees = {}
    for conversation in conversations:
        messages = by_conversation[conversation.pk]
        for message in messages:
            message.conversation = conversation
        trees[conversation.pk] = MessageTree(messages, conversation.active_leaf_id)
    return trees


def new_user_turn(
    conversation: Conversation, send: Send, tree: MessageTree
) -> StoredSend:
    """Return the send's message and its streaming reply, not stored yet.

    The request is built first, from the branch with the new turn after it. The
    reply, the newest message, ends the active branch (save_user_turns).
    """
    branch = tree.branch()
    request, left_out = conversation.chat_request_in_window(
        new_turns=[Turn("user", send.content)], branch=branch
    )
    touched = touch_conversation(conversation, send.content)
    user_message = Message(
        conversation=conversation,
        owner_id=conversation.owner_id,
        parent=branch[-1] if branch else None,
        role=Message.Role.USER,
        sender_name=conversation.user_name,
        content=send.content,
    )
    reply = new_reply_message(conversation, user_message, left_out)
    reply.owner_id = conversation.owner_id
    # The same moment: ordered by id, the user's message first.
    user_message.created_at = reply.created_at
    return StoredSend(send, user_message, reply, request, conversation, touched)


def save_user_turns(outbox: Outbox, turns: list[StoredSend]) -> None:
    """INSERT the user messages, then their replies (whose parents they are), and
    UPDATE the conversations touched, all in one statement each.

    A statement per conversation cost more than the INSERTs together (12 of 28 ms
    for fifty first messages). A stored active_leaf (after an edit or a switch) is
    cleared: null is the newest message's branch, the reply's. Each
    message.created goes out once the transaction commits.
    """
    if not turns:
        return
    Message.objects.bulk_create([turn.user_message for turn in turns])
    for turn in turns:
        turn.reply.parent = turn.user_message
        # Its parent was the branch's leaf: it is the only version of its turn.
        turn.user_message.sibling_ids = [turn.user_message.pk]
    Message.objects.bulk_create([turn.reply for turn in turns])
    save_touched([turn.conversation for turn in turns if turn.touched])
    moved = [turn.conversation for turn in turns if turn.conversation.active_leaf_id]
    if moved:
        Conversation.objects.filter(pk__in=[c.pk for c in moved]).update(
            active_leaf=None
        )
        for conversation in moved:
            conversation.active_leaf = None
    for turn in turns:
        outbox.post_on_commit(
            turn.conversation.pk,
            frames.message_created(turn.user_message, turn.send.client_id),
        )


def save_touched(conversations: list[Conversation]) -> None:
    """UPDATE the title and updated_at of each conversation, in one statement.

    executemany rather than bulk_update: Django builds bulk_update's CASE WHEN
    in Python, and for fifty rows that took as long as fifty UPDATEs.
    """
    if not conversations:
        return
    quote = connection.ops.quote_name
    meta = Conversation._meta
    title, updated_at, pk = (
        meta.get_field(name) for name in ("title", "updated_at", "id")
    )
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {quote(title.column)} = %s,"
        f" {quote(updated_at.column)} = %s WHERE {quote(pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    conversation.title,
                    updated_at.get_db_prep_save(conversation.updated_at, connection),
                    conversation.pk,
                )
                for conversation in conversations
            ],
        )


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


# Sends that arrive while others are being stored wait and go together.
_sends: GroupCommit[Send, StoredSend] = GroupCommit(do_store_sends)


async def send_message(
    conversation_id: int, content: str, client_id: str = ""
) -> Message:
    """Store the user's message, then start streaming the reply to it."""
    stored = await _sends.write(Send(conversation_id, content, client_id))
    # Committed: the reply starts (its request goes upstream) before anything
    # else is told...
    await runner.start_reply(
        stored.reply,
        stored.request,
        stored.conversation.json_schema,
        prompt_id=stored.user_message.pk,
    )
    # ...then the list moves the conversation to the top (and shows its title),
    # as the write left it: no need to read it again.
    await list_relay.announce(stored.conversation)
    return stored.user_message


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
