"""Read one field of an upstream reply defensively: typed, in range, bounded.

Everything MiniMax (or whatever answers at MINIMAX_BASE_URL) sends is untrusted.
A number where a count belongs, a list where a dict belongs, a 10,000-character
id: the parsers read each field through these helpers, so the events they yield
carry only typed, in-range values. Two rules:

- A value that only *describes* the reply (usage, flags, ids, finish_reason) is
  coerced or dropped: a reply must not be lost over a token count.
- A value the text is made of, or that says where the text is (`choices`,
  `delta`, `content`), must have its documented shape: anything else is a
  ProtocolError, which ends the reply with the text received so far.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ProtocolError

# Counts above this are not tokens of one reply; Postgres integer columns end here.
MAX_COUNT = 2**31 - 1
# Sensitivity types of the vendor's enum (docs/minimax-protocol.md §9); 7 is "other".
MAX_SENSITIVE_TYPE = 7
OTHER_SENSITIVE_TYPE = 7
# Ids, model names and finish reasons longer than this are not what MiniMax sends
# (and would not fit the columns the app stores them in: 128 and 32).
MAX_ID_CHARS = 128
MAX_REASON_CHARS = 32
# An upstream status_msg is quoted to the user; a page of it is not a message.
MAX_STATUS_MSG_CHARS = 500
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})


def count(value: Any) -> int | None:
    """Return a token count: a non-negative int below 2**31, else None."""
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    return None


def flag(value: Any) -> bool:
    """Return a boolean flag read sensibly: true, a non-zero number, "true"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return math.isfinite(value) and value != 0
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return False


def sensitive_type(value: Any, flagged: bool) -> int:
    """Return a type of the vendor's enum: 0..7 as sent; anything else is 7
    ("other") when the flag is set and 0 when it is not."""
    if type(value) is int and 0 <= value <= MAX_SENSITIVE_TYPE:
        return value
    return OTHER_SENSITIVE_TYPE if flagged else 0


def short_text(value: Any, limit: int = MAX_ID_CHARS) -> str | None:
    """Return an id-like string: a string or a plain number as text, cut to
    `limit` characters; None for anything else or an empty one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not value:
        return None
    return value[:limit]


def finish_reason(value: Any) -> str | None:
    """Return a finish_reason (stop, length, tool_calls, ...), bounded, or None."""
    return short_text(value, MAX_REASON_CHARS)


def status_msg(value: Any) -> str:
    """Return `base_resp.status_msg` as bounded text ("" when it is not text)."""
    return value[:MAX_STATUS_MSG_CHARS] if isinstance(value, str) else ""


def status_code(value: Any) -> int:
    """Return `base_resp.status_code`: 0 for success, the code otherwise.

    A code that is not a positive int below 2**31 (or its decimal text) is not
    MiniMax's: a ProtocolError that does not quote it (it may hold anything).
    """
    if value is None or value is False or value == "":
        return 0
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip()) if len(value) < 12 else -1
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1002.0: a JSON writer's idea of an integer
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    raise ProtocolError(
        "MiniMax sent a status code that is not a number.",
        detail="a status code that is not a number",
    )


def text(value: Any, where: str) -> str:
    """Return a piece of text: a string, or "" for null or a missing field."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _shape(f"{where} that is not text")


def mapping(value: Any, where: str, *, required: bool = False) -> dict[str, Any]:
    """Return a JSON object, {} for null or missing; anything else is an error."""
    if isinstance(value, dict):
        return value
    if value is None and not required:
        return {}
    raise _shape(f"{where} that is not an object")


def items(value: Any, where: str) -> list[Any]:
    """Return a JSON array, [] for null or missing; anything else is an error."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    raise _shape(f"{where} that is not a list")


def index(value: Any) -> int | None:
    """Return a list index as the wire gives it (a tool call's), or None."""
    return count(value)


def _shape(what: str) -> ProtocolError:
    return ProtocolError(f"MiniMax sent {what}. Retry in a moment.", detail=what)
