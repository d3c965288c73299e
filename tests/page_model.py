"""What a chat page makes of the server's frames (static/conversations/store.js),
for tests that read a reply off a socket."""

from __future__ import annotations

from typing import Any

from conversations.frames import text_check


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def apply_piece(have: str, piece: str, offset: int) -> str | None:
    """Append a reply.delta piece by its offset; None on a gap (the page resyncs).

    Offsets are UTF-16 units; the tests' texts have no astral characters past
    what `have` holds, so units and characters line up."""
    if offset > utf16(have):
        return None
    return have + piece[utf16(have) - offset :]


def checked_done(mine: dict[str, Any] | None, done: dict[str, Any]) -> dict | None:
    """Return the message a reply.done leaves on the page, or None when its check
    fails against what the page has (the page then sends reply.resync)."""
    check = done.get("check")
    if check is None:
        return done
    if mine is None or mine.get("id") != done["id"]:
        return None
    content, reasoning = mine.get("content", ""), mine.get("reasoning") or ""
    if text_check(content) != check["content"]:
        return None
    if text_check(reasoning) != check["reasoning"]:
        return None
    final = {key: value for key, value in done.items() if key != "check"}
    return {**final, "content": content, "reasoning": reasoning}


def reply_shown(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the reply as the page shows it after `frames` (a socket's, with no
    frame lost); AssertionError if a delta leaves a gap or reply.done's check
    fails."""
    reply: dict[str, Any] | None = None
    for frame in frames:
        kind = frame["type"]
        message = frame.get("message") or {}
        if kind in ("message.created", "reply.snapshot"):
            if message.get("role") == "assistant":
                reply = dict(message)
        elif kind == "reply.delta" and reply is not None:
            for field, piece, offset in (
                ("content", "text", "text_offset"),
                ("reasoning", "reasoning", "reasoning_offset"),
            ):
                text = apply_piece(
                    reply.get(field) or "", frame.get(piece, ""), frame.get(offset, 0)
                )
                assert text is not None, f"a gap in {field}"
                reply[field] = text
        elif kind == "reply.done":
            final = checked_done(reply, message)
            assert final is not None, "reply.done's check fails on the rebuilt text"
            reply = final
    assert reply is not None, "no reply in the frames"
    return reply
