"""Keep the API key out of everything the package raises, returns or logs.

An upstream may echo the key back in any form: as sent, lower- or upper-cased,
URL-encoded, base64-encoded (alone or inside an encoded header), cut short
("sk-abc...xyz"), or in a quoted `Authorization: Bearer` header.
`redact(text, key)` masks all of them; the errors use it, and `RedactKeyFilter`
applies it to log records (message, arguments, traceback) on the handler it is
installed on.
"""

from __future__ import annotations

import base64
import logging
import re
from urllib.parse import quote, quote_plus

MASK = "***"
# Any run of this many characters of the key is taken for the key: short enough
# to catch "sk-abcd1234..." style shortenings, long enough not to hit words.
MIN_FRAGMENT = 8
# A bearer credential is masked whatever it is: it may be a key we do not know.
BEARER_RE = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[^\s\"'`,;<>)\]}]+")


def redact(text: str, key: str | None) -> str:
    """Return `text` with the key (in any form above) and bearer tokens masked."""
    if not text:
        return text
    text = BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    if not key:
        return text
    return _mask_spans(text, _spans(text, key))


def _forms(key: str) -> set[str]:
    """Return the key as it may be echoed, lower-cased for comparison."""
    forms = {key, quote(key, safe=""), quote_plus(key), *_base64_forms(key)}
    return {form.lower() for form in forms}


def _base64_forms(key: str) -> list[str]:
    """Return the characters of the key's base64 encoding that depend on the key
    alone, at each of the three byte alignments it can have inside a longer
    encoded string ("Bearer <key>", "user:<key>" in a Basic header), standard and
    URL-safe."""
    raw = key.encode()
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        # Characters 0..start-1 carry bits of the bytes before the key; from end on
        # they carry the padding (or, in a longer string, the bytes after it).
        start = -(-offset * 8 // 6)
        end = (offset + len(raw)) * 8 // 6
        stable = encoded[start:end]
        forms += [stable, stable.replace("+", "-").replace("/", "_")]
    return forms


def _lowered(text: str) -> str:
    """Return `text` lower-cased character by character (same length, always)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _spans(text: str, key: str) -> list[bool]:
    """Return, per character of `text`, whether it belongs to an echo of the key."""
    lowered = _lowered(text)
    masked = [False] * len(text)
    # A key of a byte or two has no base64 characters of its own: an empty form.
    for form in filter(None, _forms(key)):
        size = min(MIN_FRAGMENT, len(form))
        windows = {form[i : i + size] for i in range(len(form) - size + 1)}
        first_chars = {window[0] for window in windows}
        for start in range(len(lowered) - size + 1):
            if (
                lowered[start] in first_chars
                and lowered[start : start + size] in windows
            ):
                masked[start : start + size] = [True] * size
    return masked


def _mask_spans(text: str, masked: list[bool]) -> str:
    if not any(masked):
        return text
    out: list[str] = []
    previous = False
    for char, hidden in zip(text, masked, strict=True):
        if not hidden:
            out.append(char)
        elif not previous:
            out.append(MASK)  # one mask per run of hidden characters
        previous = hidden
    return "".join(out)


class RedactKeyFilter(logging.Filter):
    """A logging filter that masks the API key in every record it sees.

    Install it on the root handler(s) (LOGGING "filters", with `"key":
    MINIMAX_API_KEY`). It formats the message with its arguments and the
    traceback once, masks them, and leaves a record with no arguments and no
    exc_info, so no later formatter or handler can print the raw values again.
    """

    def __init__(self, key: str | None = None, name: str = "") -> None:
        super().__init__(name)
        self.key = key or None

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message, self.key), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.key)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.key)
        return True
