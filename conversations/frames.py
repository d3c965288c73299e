"""Every frame the chat websocket sends, and the JSON of a message and a conversation.

The one definition of the wire format (docs/websocket.md): the reply runner, the
services, the consumer, the JSON API and the chat page's embedded data all build
their dictionaries here, so a field added or renamed changes in one place.
Functions here only read the objects they are given: no query, no I/O.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conversations.models import Conversation, Message

Frame = dict[str, Any]

# Bounds on one frame (docs/websocket.md, "Frame size"): a websocket server closes
# the socket on a frame past its limit (1 MiB), and the page would reconnect into
# the same frame again. A reply.delta carries at most FRAME_TEXT_CHARS characters of
# text and as many of reasoning (at most 12 bytes each once JSON-escaped: 768 KiB);
# a Message frame whose JSON is over MESSAGE_FRAME_BYTES is split (message_frames).
FRAME_TEXT_CHARS = 32_768
MESSAGE_FRAME_BYTES = 256 * 1024
# A reply.done of a reply at least this long (characters of text and reasoning)
# carries a `check` of its text instead of the text, which the page already has
# from the deltas (done_frames).
DONE_CHECK_MIN_CHARS = 512


def utf16_length(text: str) -> int:
    """Return len() as JavaScript counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def text_check(text: str) -> dict[str, int]:
    """Return what a page checks its copy of `text` against: its UTF-16 length
    and the CRC-32 of its UTF-16LE code units (a lone surrogate included, so a
    page computes the same from any JS string)."""
    units = text.encode("utf-16-le", "surrogatepass")
    return {"length": len(units) // 2, "crc32": zlib.crc32(units)}


def encode_frame(frame: Frame) -> str:
    """Return the frame's JSON as it goes on the socket: compact, and UTF-8 rather
    than \\u escapes (a Chinese character is 3 bytes, not 6).

    A lone surrogate (which a model's JSON can carry as "\\ud800") has no UTF-8:
    such a frame keeps its escapes.
    """
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(frame, separators=(",", ":"))
    return text


def wire_size(frame: Frame) -> int:
    """Return the bytes the frame takes on the socket (channels' json.dumps)."""
    return len(json.dumps(frame))


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
    # The versions of this turn (tree.py), when whoever loaded it knows them.
    siblings = message.sibling_ids or ([message.pk] if message.pk else [])
    version = siblings.index(message.pk) + 1 if message.pk in siblings else 1
    return {
        "id": message.pk,
        "parent_id": message.parent_id,
        "sibling_ids": siblings,
        "version": version,
        "versions": max(len(siblings), 1),
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
        "context_trimmed": message.context_trimmed,
        # True only in a frame that carries the start of a long text (message_frames).
        "partial": False,
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
    """New text and/or reasoning; offsets are UTF-16 lengths before this piece.

    Reasoning and its offset are left out when there is none (most frames): a
    missing field is an empty piece.
    """
    frame: Frame = {
        "type": "reply.delta",
        "message_id": message_id,
        "text": text,
        "text_offset": text_offset,
    }
    if reasoning:
        frame["reasoning"] = reasoning
        frame["reasoning_offset"] = reasoning_offset
    return frame


def reply_deltas(
    message_id: int,
    *,
    text: str,
    text_offset: int,
    reasoning: str,
    reasoning_offset: int,
) -> list[Frame]:
    """Return the piece as reply.delta frames of at most FRAME_TEXT_CHARS per field."""
    deltas = []
    while True:
        text_piece, text = text[:FRAME_TEXT_CHARS], text[FRAME_TEXT_CHARS:]
        reasoning_piece = reasoning[:FRAME_TEXT_CHARS]
        reasoning = reasoning[FRAME_TEXT_CHARS:]
        deltas.append(
            reply_delta(
                message_id,
                text=text_piece,
                text_offset=text_offset,
                reasoning=reasoning_piece,
                reasoning_offset=reasoning_offset,
            )
        )
        text_offset += utf16_length(text_piece)
        reasoning_offset += utf16_length(reasoning_piece)
        if not text and not reasoning:
            return deltas


def message_frames(frame_type: str, message: Message) -> list[Frame]:
    """Return reply.snapshot or reply.done for `message`, in bounded frames.

    A message small enough goes whole. A longer one goes as a reply.snapshot of
    its start (status "streaming", "partial": true), the rest as reply.delta frames
    by offset; an ended one then gets its final frame (`frame_type`) with the
    start of its text again and "partial": true, which tells the page to keep the
    text it has put together.
    """
    data = message_json(message)
    whole = {"type": frame_type, "message": data}
    if wire_size(whole) <= MESSAGE_FRAME_BYTES:
        return [whole]
    content, reasoning = data["content"], data["reasoning"]
    head = {
        **data,
        "content": content[:FRAME_TEXT_CHARS],
        "reasoning": reasoning[:FRAME_TEXT_CHARS],
        "partial": True,
    }
    rest = reply_deltas(
        message.pk,
        text=content[FRAME_TEXT_CHARS:],
        text_offset=utf16_length(head["content"]),
        reasoning=reasoning[FRAME_TEXT_CHARS:],
        reasoning_offset=utf16_length(head["reasoning"]),
    )
    opening = {"type": "reply.snapshot", "message": {**head, "status": "streaming"}}
    if data["status"] == "streaming":
        return [opening, *rest]
    return [opening, *rest, {"type": frame_type, "message": head}]


def done_frames(message: Message) -> list[Frame]:
    """Return the reply.done frames of an ended reply.

    A short reply goes as message_frames does. From DONE_CHECK_MIN_CHARS on, the
    Message JSON leaves out `content` and `reasoning` and carries `check` (the
    text_check of each) instead: the page compares it with what it rebuilt from
    the deltas and sends reply.resync when they differ (docs/websocket.md).
    """
    data = message_json(message)
    content, reasoning = data.pop("content"), data.pop("reasoning")
    if len(content) + len(reasoning) < DONE_CHECK_MIN_CHARS:
        return message_frames("reply.done", message)
    data["check"] = {"content": text_check(content), "reasoning": text_check(reasoning)}
    return [{"type": "reply.done", "message": data}]


def reply_snapshot(message: Message) -> Frame:
    """The latest reply as it is now (the page replaces its copy)."""
    return {"type": "reply.snapshot", "message": message_json(message)}


def reply_done(message: Message) -> Frame:
    """The reply ended, with its final status, usage, flags and timings."""
    return {"type": "reply.done", "message": message_json(message)}


def message_deleted(message_id: int) -> Frame:
    """A message was removed (no longer sent: regenerate keeps the old reply)."""
    return {"type": "message.deleted", "message_id": message_id}


def branch_changed(
    conversation_id: int, active_leaf_id: int | None, branch: list[Message]
) -> Frame:
    """The branch on screen changed (an edit, a regenerate, the version pager).

    `message_ids` is the new branch, oldest first; `messages` its Message JSON, or
    null when that would make the frame too large: the page then reads the
    conversation from the JSON API.
    """
    frame: Frame = {
        "type": "branch.changed",
        "conversation_id": conversation_id,
        "active_leaf_id": active_leaf_id,
        "message_ids": [message.pk for message in branch],
        "messages": [message_json(message) for message in branch],
    }
    if wire_size(frame) > MESSAGE_FRAME_BYTES:
        frame["messages"] = None
    return frame


def conversation_updated(conversation_id: int, *, title: str) -> Frame:
    """The conversation was renamed (by its automatic, model-made title)."""
    return {
        "type": "conversation.updated",
        "conversation_id": conversation_id,
        "title": title,
    }


def error(code: str, message: str, *, retry_after: int | None = None) -> Frame:
    """A frame from the page was refused; the socket stays open.

    `retry_after` (seconds) comes with code rate_limited.
    """
    frame: Frame = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return frame
