"""Split a long text into parts one speech request takes, at sentence boundaries."""

from __future__ import annotations

import re

# A sentence ends after Chinese or English end punctuation (with any closing quotes
# or brackets after it) or at a line break. English . ! ? need a space after them,
# so "3.14" and "e.g.x" stay whole; Chinese punctuation needs nothing.
SENTENCE_END = re.compile(
    r"(?:[。！？；…]+|[.!?;]+(?=\s)|\n+)[\"'”’」』）)\]]*\s*", re.UNICODE
)
# Where a sentence longer than a part may be cut: after a clause mark, else a space.
CLAUSE_END = re.compile(r"[，、：,:]\s*|\s+")


def sentences(text: str) -> list[str]:
    """Return the sentences of text; joined, they are the text again."""
    pieces, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def split_text(text: str, limit: int) -> list[str]:
    """Return parts of at most `limit` characters, cut between sentences.

    Whole sentences are packed into a part while they fit; a sentence longer than
    a part is cut at a clause mark or a space, and only as a last resort mid-word.
    Joined, the parts are the text again; parts with nothing to say are dropped.
    """
    parts: list[str] = []
    current = ""
    for sentence in sentences(text):
        for piece in _fit(sentence, limit):
            if len(current) + len(piece) > limit:
                parts.append(current)
                current = ""
            current += piece
    parts.append(current)
    return [part for part in parts if part.strip()]


def _fit(sentence: str, limit: int) -> list[str]:
    """Return sentence as pieces of at most limit characters."""
    pieces = []
    while len(sentence) > limit:
        cut = _last_cut(sentence, limit)
        pieces.append(sentence[:cut])
        sentence = sentence[cut:]
    pieces.append(sentence)
    return pieces


def _last_cut(sentence: str, limit: int) -> int:
    cuts = [
        m.end() for m in CLAUSE_END.finditer(sentence, 0, limit) if m.end() <= limit
    ]
    return cuts[-1] if cuts and cuts[-1] > 0 else limit
