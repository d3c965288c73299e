"""Every frame the chat websocket sends, and the JSON of a message and a conversation.

The one definition of the wire format (docs/websocket.md): the reply runner, the
services, the consumer, the JSON API and the chat page's embedded data all build
their dictionaries here, so a field added or renamed changes in one place.
Functions here only read the objects they are given: no query, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conversations.models import Conversation, Message

Frame = dict[str, Any]


# --- JSON shapes -------------------------------------------------------------


def message_json(message: Message) -> dict[str, Any]:
    """Return the message as the "Message" JSON of docs/websocket.md.

    The one place a hidden message's text is replaced by the placeholder: the
    page, every frame and snapshot, search and export all show what this returns.
    """
    from conversations.models import HIDDEN_PLACEHOLDER

    content, reasoning = message.content, message.reasoning
    if message.hidden:
        content, reasoning = str(HIDDEN_PLACEHOLDER), ""
    return {
        "id": message.pk,
        "role": message.role,
        "sender_name": message.sender_name,
        "content": content,
        "reasoning": reasoning,
        "hidden": message.hidden,
        "status": message.status,
        "finish_reason": message.finish_reason,
        "error": _error_json(message),
        "usage": _usage_json(message),
        "input_sensitive": message.input_sensitive,
        "input_sensitive_type": message.input_sensitive_type,
        "output_sensitive": message.output_sensitive,
        "output_sensitive_type": message.output_sensitive_type,
        "first_token_ms": message.first_token_ms,
        "duration_ms": message.duration_ms,
        "json_valid": message.json_valid,
        "created_at": iso_utc(message.created_at),
    }


def _error_json(message: Message) -> dict[str, Any] | None:
    if not message.error_kind:
        return None
    return {
        "kind": message.error_kind,
        "code": message.error_code,
        "message": message.error_message,
    }


def _usage_json(message: Message) -> dict[str, int | None] | None:
    counts = {
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "total_tokens": message.total_tokens,
    }
    # MiniMax reports no usage for some failures: null, not a row of nulls.
    if all(value is None for value in counts.values()):
        return None
    return counts


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    """Return a conversation's settings as the JSON API and the chat page see them."""
    return {
        "id": conversation.pk,
        "url": conversation.get_absolute_url(),
        "title": conversation.title,
        "model": conversation.model,
        "dialect": conversation.dialect,
        "system_prompt": conversation.system_prompt,
        "bot_name": conversation.bot_name,
        "user_name": conversation.user_name,
        "temperature": conversation.temperature,
        "top_p": conversation.top_p,
        "max_tokens": conversation.max_tokens,
        "json_schema": conversation.json_schema,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
    }


def iso_utc(moment: datetime | None) -> str | None:
    """Return `moment` in UTC to the second, "Z"-suffixed (what the page parses)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- Frames the server sends ---------------------------------------------------


def message_created(message: Message, client_id: str | None = None) -> Frame:
    """A user message was stored (client_id echoed), or a reply started (None)."""
    return {
        "type": "message.created",
        "message": message_json(message),
        "client_id": client_id,
    }


def reply_delta(
    message_id: int,
    *,
    text: str,
    text_offset: int,
    reasoning: str,
    reasoning_offset: int,
) -> Frame:
    """New text and/or reasoning; offsets are UTF-16 lengths before this piece."""
    return {
        "type": "reply.delta",
        "message_id": message_id,
        "text": text,
        "text_offset": text_offset,
        "reasoning": reasoning,
        "reasoning_offset": reasoning_offset,
    }


def reply_snapshot(message: Message) -> Frame:
    """The latest reply as it is now (the page replaces its copy)."""
    return {"type": "reply.snapshot", "message": message_json(message)}


def reply_done(message: Message) -> Frame:
    """The reply ended, with its final status, usage, flags and timings."""
    return {"type": "reply.done", "message": message_json(message)}


def message_deleted(message_id: int) -> Frame:
    """Regenerate removed a reply."""
    return {"type": "message.deleted", "message_id": message_id}


def error(code: str, message: str) -> Frame:
    """A frame from the page was refused; the socket stays open."""
    return {"type": "error", "code": code, "message": message}
