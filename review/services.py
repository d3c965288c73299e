"""Writes of the review flow: items from a finished reply, and reviewers' decisions.

`record_reply` turns a reply's flags and refusal code into review items (one per
message and direction); `do_decide` records decisions and hides or restores the
messages they are about. The AI pre-analysis is in analysis.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.frames import reply_snapshot
from conversations.models import Conversation, Message
from conversations.relay import broadcast
from review.models import (
    DECISION_STATUS,
    Direction,
    ReviewDecision,
    ReviewItem,
)
from review.sensitivity import INPUT_REFUSED, OUTPUT_REFUSED

logger = logging.getLogger(__name__)

# The message fields copied into ReviewItem.flags: MiniMax's verdict, as reported.
FLAG_FIELDS = (
    "input_sensitive",
    "input_sensitive_type",
    "output_sensitive",
    "output_sensitive_type",
    "error_kind",
    "error_code",
    "error_message",
    "status",
    "finish_reason",
    "response_id",
)


def record_reply(reply: Message) -> list[ReviewItem]:
    """Return the review items a finished reply calls for, made if new.

    Input flags and a 1026 refusal are about the user's message, so that item
    points at the prompt; output flags and a 1027 refusal point at the reply.
    """
    items: list[ReviewItem] = []
    input_refused = reply.error_code == INPUT_REFUSED
    if reply.input_sensitive or input_refused:
        prompt = prompt_of(reply) or reply
        items.append(
            _record(
                prompt,
                reply,
                Direction.INPUT,
                sensitive_type=reply.input_sensitive_type
                or prompt.input_sensitive_type,
                refusal_code=INPUT_REFUSED if input_refused else None,
            )
        )
    output_refused = reply.error_code == OUTPUT_REFUSED
    if reply.output_sensitive or output_refused:
        items.append(
            _record(
                reply,
                reply,
                Direction.OUTPUT,
                sensitive_type=reply.output_sensitive_type,
                refusal_code=OUTPUT_REFUSED if output_refused else None,
            )
        )
    return items


def prompt_of(reply: Message) -> Message | None:
    """Return the user's message the reply answers: the nearest user message
    above it on its branch (its parent, unless the tree says otherwise)."""
    if reply.parent_id is not None:
        message = reply.parent
        seen = set()
        while message is not None and message.pk not in seen:
            if message.role == Message.Role.USER:
                return message
            seen.add(message.pk)
            message = message.parent
        return None
    # A message with no parent (stored before branching): the last one before it.
    return (
        Message.objects.filter(
            conversation_id=reply.conversation_id, role=Message.Role.USER
        )
        .filter(
            Q(created_at__lt=reply.created_at)
            | Q(created_at=reply.created_at, id__lt=reply.pk)
        )
        .order_by("-created_at", "-id")
        .first()
    )


def _record(
    message: Message,
    reply: Message,
    direction: str,
    *,
    sensitive_type: int,
    refusal_code: int | None,
) -> ReviewItem:
    conversation = reply.conversation
    flags: dict[str, Any] = {field: getattr(reply, field) for field in FLAG_FIELDS}
    flags["reply_id"] = reply.pk
    flags["message_id"] = message.pk
    item, _created = ReviewItem.objects.get_or_create(
        message=message,
        direction=direction,
        defaults={
            "conversation": conversation,
            "user_id": conversation.owner_id,
            "model": conversation.model,
            "sensitive_type": sensitive_type or None,
            "refusal_code": refusal_code,
            "text": message.content,
            "reasoning": message.reasoning,
            "flags": flags,
            "message_created_at": message.created_at,
        },
    )
    return item


def do_decide(
    items: Iterable[ReviewItem], reviewer, action: str, note: str = ""
) -> list[ReviewDecision]:
    """Record `action` on each item; hide (or, on approve, restore) its message.

    Escalating leaves the message as it is: it is a question for someone else,
    not a verdict.
    """
    item_ids = [item.pk for item in items]
    now = timezone.now()
    with transaction.atomic():
        locked = list(ReviewItem.objects.select_for_update().filter(pk__in=item_ids))
        decisions = ReviewDecision.objects.bulk_create(
            ReviewDecision(item=item, reviewer=reviewer, action=action, note=note)
            for item in locked
        )
        ReviewItem.objects.filter(pk__in=item_ids).update(
            status=DECISION_STATUS[action]
        )
        messages = Message.objects.filter(
            pk__in=[item.message_id for item in locked if item.message_id]
        ).select_related("conversation")
        if action == ReviewDecision.Action.HIDE:
            messages.filter(hidden_at__isnull=True).update(hidden_at=now)
            _untitle(messages)
        elif action == ReviewDecision.Action.APPROVE:
            messages.update(hidden_at=None)
        if action != ReviewDecision.Action.ESCALATE:
            message_ids = [message.pk for message in messages]
            transaction.on_commit(lambda: announce(message_ids))
    return decisions


def announce(message_ids: list[int]) -> None:
    """Show open pages the messages as they are now (placeholder or text).

    A reply.snapshot frame: pages replace the message with the same id.
    """
    for message in Message.objects.filter(pk__in=message_ids):
        frame = reply_snapshot(message)
        try:
            async_to_sync(broadcast)(message.conversation_id, frame)
        except Exception:  # the decision stands; a page sees it on reload
            logger.warning("Could not announce message %s", message.pk, exc_info=True)


def _untitle(hidden: Iterable[Message]) -> None:
    """Clear a conversation title made from a hidden message (it quotes it)."""
    for message in hidden:
        if message.role != Message.Role.USER:
            continue
        conversation = message.conversation
        Conversation.objects.filter(
            pk=conversation.pk, title=conversation.title_from(message.content)
        ).update(title="")
