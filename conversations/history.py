"""The conversation history: the list page (grouped by day), search results, export.

Everything here is about many rows at once and reads the database in a fixed number
of queries per page, however many conversations a user has.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q

from conversations import search
from conversations.frames import iso_utc
from conversations.models import Conversation, Message

SNIPPET_BEFORE = 40
SNIPPET_LENGTH = 160


# --- the list -----------------------------------------------------------------


def group_of(conversation: Conversation, today: date, zone: ZoneInfo) -> str:
    """Return the list group a conversation falls in, in the user's time zone."""
    if conversation.pinned:
        return "pinned"
    day = conversation.updated_at.astimezone(zone).date()
    age = (today - day).days
    if age <= 0:
        return "today"
    if age == 1:
        return "yesterday"
    if age <= 7:
        return "previous_7_days"
    if age <= 30:
        return "previous_30_days"
    return f"{day.year:04d}-{day.month:02d}"


class CursorError(ValueError):
    """The cursor was not one this API gave out."""


@dataclass(frozen=True)
class ListCursor:
    """Where a list page ends: the last row's place in the order."""

    pinned: bool
    updated_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([int(self.pinned), self.updated_at.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> ListCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            pinned, updated_at, pk = json.loads(raw)
            moment = datetime.fromisoformat(updated_at)
            if moment.tzinfo is None or not isinstance(pk, int):
                raise ValueError
            return cls(bool(pinned), moment, pk)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
            raise CursorError from error


def conversation_page(
    owner, *, archived: bool, after: ListCursor | None, limit: int
) -> tuple[list[Conversation], ListCursor | None]:
    """Return one page of the list (pinned first, newest activity first).

    Keyset pagination on (pinned, updated_at, id), which the conversation_owner_list
    index holds in this order: one query per page, however deep.
    """
    # archived__in, not archived=: Django writes `NOT archived` for the latter,
    # which SQLite cannot match to the index (it sorted all the user's rows).
    rows = Conversation.objects.for_user(owner).filter(archived__in=[archived])
    if after is not None:
        rows = rows.filter(
            Q(pinned__lt=after.pinned)
            | Q(pinned=after.pinned, updated_at__lt=after.updated_at)
            | Q(pinned=after.pinned, updated_at=after.updated_at, id__lt=after.id)
        )
    page = list(rows.order_by("-pinned", "-updated_at", "-id")[: limit + 1])
    if len(page) <= limit:
        return page, None
    page = page[:limit]
    last = page[-1]
    return page, ListCursor(last.pinned, last.updated_at, last.pk)


def list_item(conversation: Conversation, today: date, zone: ZoneInfo) -> dict:
    """Return one conversation as an entry of the list (docs/api.md)."""
    return {
        "id": conversation.pk,
        "url": conversation.get_absolute_url(),
        "title": conversation.title,
        "title_source": conversation.title_source,
        "model": conversation.model,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": iso_utc(conversation.created_at),
        "updated_at": iso_utc(conversation.updated_at),
        "group": group_of(conversation, today, zone),
    }


# --- search results -----------------------------------------------------------


def utf16_length(text: str) -> int:
    """Return the length of `text` as a JavaScript string counts it."""
    return len(text.encode("utf-16-le")) // 2


# Markdown's markup, which a snippet leaves out: the reply reads as text in the list.
MARKDOWN_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*$", re.MULTILINE)
MARKDOWN_LINE_START = re.compile(
    r"^\s*(?:#{1,6}\s+|(?:>\s*)+|[-*+]\s+(?:\[[ xX]\]\s+)?)", re.MULTILINE
)
MARKDOWN_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
MARKDOWN_EMPHASIS = re.compile(r"\*\*|__|~~|`+|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")


def markdown_text(text: str) -> str:
    """Return Markdown without its markup: no fences, heading or list marks, bold."""
    text = MARKDOWN_FENCE.sub("", text)
    text = MARKDOWN_LINE_START.sub("", text)
    text = MARKDOWN_LINK.sub(r"\1", text)
    return MARKDOWN_EMPHASIS.sub("", text)


def snippet(text: str, pattern: re.Pattern[str]) -> tuple[str, list[list[int]]]:
    """Return plain text around the first match, and where the matches are in it.

    The ranges are [start, end) in UTF-16 code units (JavaScript string indices),
    so the page can wrap them in <mark> with textContent, never innerHTML.
    """
    flat = " ".join(text.split())
    first = pattern.search(flat)
    start = max((first.start() if first else 0) - SNIPPET_BEFORE, 0)
    if start:
        # Start at a word boundary when there is one close by (Latin text).
        space = flat.find(" ", start, start + 15)
        start = space + 1 if space != -1 else start
    end = min(start + SNIPPET_LENGTH, len(flat))
    prefix = "…" if start else ""
    suffix = "…" if end < len(flat) else ""
    body = flat[start:end]
    offset = utf16_length(prefix)
    ranges = [
        [
            offset + utf16_length(body[: match.start()]),
            offset + utf16_length(body[: match.end()]),
        ]
        for match in pattern.finditer(body)
    ]
    return prefix + body + suffix, ranges


def search_result(message: Message, pattern: re.Pattern[str], reasoning: bool) -> dict:
    """Return one search hit: where it is, and a snippet with the words marked."""
    field = "content"
    if reasoning and not pattern.search(message.content) and message.reasoning:
        field = "reasoning"
    text, highlights = snippet(markdown_text(getattr(message, field)), pattern)
    conversation = message.conversation
    return {
        "conversation_id": conversation.pk,
        "conversation_title": conversation.title,
        "message_id": message.pk,
        "role": message.role,
        "field": field,
        "snippet": text,
        "highlights": highlights,
        "created_at": iso_utc(message.created_at),
        "url": f"{conversation.get_absolute_url()}#message-{message.pk}",
    }


def title_result(conversation: Conversation, pattern: re.Pattern[str]) -> dict:
    text, highlights = snippet(conversation.title, pattern)
    return {
        "conversation_id": conversation.pk,
        "title": text,
        "highlights": highlights,
        "updated_at": iso_utc(conversation.updated_at),
        "url": conversation.get_absolute_url(),
    }


def run_search(
    terms: list[search.Term],
    filters: search.Filters,
    *,
    before: int | None,
    limit: int,
) -> dict[str, Any]:
    """Return a page of search results, and title matches on the first page."""
    hits = search.search_messages(terms, filters, before=before, limit=limit)
    by_id = Message.objects.select_related("conversation").in_bulk(hits.message_ids)
    pattern = search.highlight_pattern(terms)
    results = [
        search_result(by_id[pk], pattern, filters.reasoning)
        for pk in hits.message_ids
        if pk in by_id
    ]
    titles = []
    if before is None:
        title_ids = search.search_titles(terms, filters, limit=limit)
        conversations = Conversation.objects.in_bulk(title_ids)
        titles = [
            title_result(conversations[pk], pattern)
            for pk in title_ids
            if pk in conversations
        ]
    return {
        "results": results,
        "conversations": titles,
        "next": str(hits.message_ids[-1]) if hits.has_more else None,
    }


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def day_after(day: date, zone: ZoneInfo) -> datetime:
    return day_start(day + timedelta(days=1), zone)
