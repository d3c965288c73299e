"""What a broken or hostile upstream sends: the `[sim:odd-numbers]`,
`[sim:huge-line]`, `[sim:repeat]`, `[sim:echo]` and `[sim:echo-key]` triggers
(docs/simulator.md).

The client must survive each with the text received so far and a typed end:
odd values in the final event, a line too long to hold, and a reply whose
pieces legitimately repeat the whole text so far. The page must show hostile
model output as text: `[sim:echo]` makes the model say whatever the user wrote.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from .replies import Answer, Prompt, seed_for, split_pieces

# Over the client's limits (1 MiB per SSE line, 16 MiB per body read whole), and
# small enough to send over localhost in a fraction of a second.
HUGE_LINE_BYTES = 3 * 2**20
HUGE_BODY_BYTES = 17 * 2**20
HUGE_PART_BYTES = 256 * 2**10
REPEATED_PIECE = "Again and again, the same words. "
REPEATED_PIECES = 16
# Anywhere in a request body: the answer is an error that echoes the caller's key.
ECHO_KEY_TRIGGER = b"[sim:echo-key]"


def odd_numbers(body: dict[str, Any]) -> dict[str, Any]:
    """Return the final event with usage and sensitivity no client should trust:
    negative, huge and textual counts, types outside the vendor's 0..7."""
    return {
        **body,
        "usage": {
            "total_tokens": "lots",
            "prompt_tokens": -1,
            "completion_tokens": 2**70,
            "completion_tokens_details": {"reasoning_tokens": -7},
        },
        "input_sensitive": False,
        "input_sensitive_type": 99,
        "output_sensitive": True,
        "output_sensitive_type": -3,
    }


def huge_line(streamed: bool) -> Iterator[bytes]:
    """Yield one line that never ends: a `data:` line, or a whole body too big."""
    size = HUGE_LINE_BYTES if streamed else HUGE_BODY_BYTES
    yield b'data: {"id": "' if streamed else b""
    part = b"x" * HUGE_PART_BYTES
    for _ in range(size // HUGE_PART_BYTES):
        yield part


def repeating(answer: Answer) -> Answer:
    """Return the answer as one sentence sent sixteen times, piece by piece.

    The second piece equals the whole text so far (a client that takes such a
    piece for a cumulative snapshot drops it, and every piece after it).
    """
    return Answer(answer.reasoning_pieces, (REPEATED_PIECE,) * REPEATED_PIECES)


def echoing(prompt: Prompt, answer: Answer) -> Answer:
    """Return the user's message back verbatim, as the content and, when the model
    thinks first, as the reasoning too (a stored-XSS corpus in model output)."""
    pieces = tuple(split_pieces(prompt.verbatim, seed_for(prompt.verbatim)))
    return Answer(pieces if answer.reasoning_pieces else (), pieces)


def key_echo(key: str) -> str:
    """Return a status_msg that echoes `key` the ways upstreams have: as sent,
    lower- and upper-cased, shortened, and base64-encoded in a header dump. An
    "invalid params" text: clients show those words, since they name the field."""
    header = base64.b64encode(f"Bearer {key}".encode()).decode()
    return (
        f"invalid params, api key {key} (normalised {key.lower()}, "
        f"{key.upper()}), key id {key[:10]}...{key[-4:]}, "
        f"authorization header (base64) {header}"
    )
