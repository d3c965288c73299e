"""Bytes on the wire: JSON the way MiniMax writes it, SSE events, ids, and a Reply.

MiniMax writes compact JSON with raw (unescaped) non-ASCII text, and frames each
stream event as `data: {json}` plus a blank line (seeds 000 and 001).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
SSE_TYPE = "text/event-stream"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sse(value: Any) -> bytes:
    """Return one SSE event: `data: {json}` and the blank line that ends it."""
    return b"data: " + dumps(value) + b"\n\n"


def new_id() -> str:
    """Return a 32-hex response id, like the vendor's."""
    return uuid.uuid4().hex


def now() -> int:
    """Return `created`: unix seconds."""
    return int(time.time())


@dataclass(slots=True)
class Reply:
    """What an endpoint decided to send, before pacing and fault injection.

    `parts` are the units the body is delivered in: one JSON document, raw audio, or
    one SSE event each. `fault` names a trigger fault to apply while delivering.
    """

    parts: list[bytes]
    status: int = 200
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    streamed: bool = False
    fault: str | None = None

    @classmethod
    def json(cls, value: Any, status: int = 200, **kwargs: Any) -> Reply:
        return cls([dumps(value)], status=status, **kwargs)

    @classmethod
    def events(cls, values: list[Any], **kwargs: Any) -> Reply:
        return cls(
            [sse(v) for v in values], content_type=SSE_TYPE, streamed=True, **kwargs
        )

    @classmethod
    def chat(
        cls,
        *,
        stream: bool,
        events: list[Any],
        body: Any,
        fault: str | None,
        done: bool,
    ) -> Reply:
        """Return a chat reply: the events then `[DONE]` if asked, or the body."""
        if not stream:
            return cls.json(body, fault=fault)
        reply = cls.events([*events, body], fault=fault)
        if done:
            # MiniMax just closes the stream; the trigger adds the sentinel that
            # gateways in front of it append.
            reply.parts.append(b"data: [DONE]\n\n")
        return reply
