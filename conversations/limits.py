"""Per-user rate limits: concurrent replies, messages, conversations, speech.

Counted in Django's cache with atomic add/incr over fixed windows, so every process
sees the same counts when the cache is shared (RedisCache with REDIS_URL; without
it the site is one process and LocMemCache is enough). Concurrent replies are
counted in the database (the streaming replies), which every process shares anyway.
Failed sign-ins are django-axes' job (settings.AXES_*).

Each limit is a CHAT_LIMIT_* setting; 0 turns it off. A refusal raises RateLimited,
whose message says when to try again: the websocket answers an `error` frame with
code `rate_limited`, the HTTP API a 429 with a Retry-After header.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse

MINUTE = 60
HOUR = 3600
DAY = 86_400


@dataclass
class RateLimited(Exception):
    """A limit was reached; `retry_after` is the seconds until it allows again."""

    what: str
    retry_after: int

    code = "rate_limited"

    def message(self) -> str:
        return f"{self.what} Try again in {wait_text(self.retry_after)}."


def wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * HOUR:
        return f"{math.ceil(seconds / MINUTE)} min"
    return f"{math.ceil(seconds / HOUR)} h"


def count(key: str, limit: int, window: int, what: str, amount: int = 1) -> None:
    """Add `amount` to `key`'s count in this window; raise RateLimited past `limit`.

    A refused amount is taken back out: asking again later is not penalised.
    """
    if limit <= 0:
        return
    now = time.time()
    window_start = int(now // window * window)
    cache_key = f"limit:{key}:{window_start}"
    cache.add(cache_key, 0, timeout=window + 60)
    try:
        total = cache.incr(cache_key, amount)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, amount, timeout=window + 60)
        total = amount
    if total > limit:
        cache.decr(cache_key, amount)
        raise RateLimited(what, max(1, math.ceil(window_start + window - now)))


def check_message_rate(user_id: int) -> None:
    """Count one message sent (or reply regenerated) by the user this minute."""
    limit = settings.CHAT_LIMIT_MESSAGES_PER_MINUTE
    count(
        f"messages:{user_id}",
        limit,
        MINUTE,
        f"You can send at most {limit} messages a minute.",
    )


def check_conversation_rate(user_id: int) -> None:
    """Count one conversation created by the user this hour."""
    limit = settings.CHAT_LIMIT_CONVERSATIONS_PER_HOUR
    count(
        f"conversations:{user_id}",
        limit,
        HOUR,
        f"You can start at most {limit} conversations an hour.",
    )


def check_speech_quota(user, characters: int) -> None:
    """Count `characters` of text to speech for `user` today; raise RateLimited past
    CHAT_LIMIT_SPEECH_CHARS_PER_DAY (the refused characters are not counted)."""
    limit = settings.CHAT_LIMIT_SPEECH_CHARS_PER_DAY
    count(
        f"speech:{user.pk}",
        limit,
        DAY,
        f"You can turn at most {limit} characters into speech a day.",
        amount=max(0, int(characters)),
    )


def check_concurrent_replies(streaming: int) -> None:
    """Raise RateLimited if the user already has the most replies streaming at once.

    Database thread: `streaming` is the user's streaming replies, counted in the
    transaction that would start another, with the user's row locked (two
    replies starting at once in two of their conversations are counted one after
    the other: services.lock_conversations).
    """
    limit = settings.CHAT_LIMIT_CONCURRENT_REPLIES
    if limit > 0 and streaming >= limit:
        raise RateLimited(
            f"You can have at most {limit} replies being written at once.", 5
        )


def too_many_requests(refused: RateLimited) -> JsonResponse:
    """Return the HTTP answer to a refused request: 429, JSON, Retry-After."""
    response = JsonResponse(
        {
            "error": refused.message(),
            "code": refused.code,
            "retry_after": refused.retry_after,
        },
        status=429,
    )
    response["Retry-After"] = str(refused.retry_after)
    return response
