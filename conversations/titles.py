"""A short title made by the conversation's own model after the first exchange.

Until it arrives, and whenever the call fails, the conversation keeps the title
services made from the user's first words. A title the user typed is never
replaced: the save is one conditional UPDATE on title_source = "auto", so a rename
that lands while the model is answering wins.
"""

from __future__ import annotations

import logging
import re

from channels.db import database_sync_to_async
from django.utils.text import Truncator

from conversations import upstream
from conversations.minimax.catalog import MODELS
from conversations.minimax.errors import MiniMaxError
from conversations.minimax.types import ChatMessage, ChatRequest
from conversations.models import TITLE_LENGTH, Conversation, Message, TitleSource
from conversations.search import CJK_RUN

logger = logging.getLogger(__name__)

# Enough for a title. A reasoning model thinks before it answers and cannot be
# told not to, so it gets room for that too; if it still runs out, the first-words
# title stays.
TITLE_MAX_TOKENS = 64
REASONING_TITLE_MAX_TOKENS = 1024
# How much of the first exchange the model is shown.
EXCERPT_CHARS = 1000
PROMPTS = {
    "zh": (
        "用不超过15个字为下面的对话起一个简短的标题。只回答标题本身，"
        "不要引号，不要标点。\n\n用户：{user}\n\n助手：{reply}"
    ),
    "en": (
        "Write a short title (at most 8 words) for the conversation below. Answer "
        "with the title only: no quotes, no final punctuation.\n\n"
        "User: {user}\n\nAssistant: {reply}"
    ),
}
DECORATION = "\"'`“”‘’「」『』《》【】*_# "
FINAL_PUNCTUATION = "。.！!？?，,;；:："
LABEL = re.compile(r"^(title|标题)\s*[:：]\s*", re.IGNORECASE)


def language_of(text: str) -> str:
    return "zh" if CJK_RUN.search(text) else "en"


def clean_title(raw: str) -> str:
    """Return the model's answer as a title: one line, no quotes, <= 60 chars."""
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if not lines:
        return ""
    title = LABEL.sub("", lines[0].strip(DECORATION).strip())
    # Quotes, Markdown emphasis and a final full stop, in whatever nesting.
    previous = None
    while title != previous:
        previous = title
        title = title.strip(DECORATION).rstrip(FINAL_PUNCTUATION)
    title = " ".join(title.split())
    return Truncator(title).chars(TITLE_LENGTH)


def _title_request_for(conversation_id: int) -> ChatRequest | None:
    """Return the title request, or None when no title should be asked for."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or conversation.title_source != TitleSource.AUTO:
        return None
    branch = conversation.active_branch()
    users = [m for m in branch if m.role == Message.Role.USER]
    # Only the first exchange is titled: later calls leave the title alone. (An
    # edit of the first message is a first exchange again, on its own branch.)
    if len(users) != 1:
        return None
    user = users[0]
    reply = next((m for m in branch if m.role == Message.Role.ASSISTANT), None)
    return title_request(conversation, user.content, reply.content if reply else "")


def may_be_first_exchange(request: ChatRequest) -> bool:
    """Whether the reply to `request` may have been the first exchange, the one
    titled: not if the request had more than one user turn (its history is the
    branch's, less what did not fit). Spares a trip to the database after every
    later reply."""
    return sum(1 for message in request.messages if message.role == "user") <= 1


def title_request(conversation: Conversation, user: str, reply: str) -> ChatRequest:
    """Return a non-streaming request for a title, in the conversation's dialect."""
    # The request of an empty branch gives the dialect's needs (a pro bot setting,
    # the user name) without reading the history again; the system prompt, schema
    # and sampling are not wanted here.
    request, _left_out = conversation.chat_request_in_window(stream=False, branch=[])
    prompt = PROMPTS[language_of(user)].format(
        user=user[:EXCERPT_CHARS], reply=reply[:EXCERPT_CHARS]
    )
    request.messages = [ChatMessage("user", prompt, name=conversation.user_name)]
    request.max_tokens = title_max_tokens(conversation.model)
    request.json_schema = None
    request.temperature = None
    request.top_p = None
    return request


def title_max_tokens(model: str) -> int:
    spec = MODELS.get(model)
    if spec is None or not spec.reasoning:
        return TITLE_MAX_TOKENS
    return min(REASONING_TITLE_MAX_TOKENS, spec.max_output_tokens)


def _save_if_auto(conversation_id: int, title: str) -> bool:
    # .update(): neither a bump of updated_at nor a race with a rename.
    updated = Conversation.objects.filter(
        pk=conversation_id, title_source=TitleSource.AUTO
    ).update(title=title)
    return bool(updated)


async def suggest_title(conversation_id: int) -> str | None:
    """Ask the model for a title and save it; return it, or None if none was saved.

    Never raises for a MiniMax failure: the first-words title simply stays.
    """
    request = await database_sync_to_async(_title_request_for)(conversation_id)
    if request is None:
        return None
    try:
        result = await upstream.get_minimax_client().complete(request)
    except MiniMaxError as error:
        logger.info("No title for conversation %s: %s", conversation_id, error.kind)
        return None
    title = clean_title(result.text)
    if not title:
        return None
    saved = await database_sync_to_async(_save_if_auto)(conversation_id, title)
    return title if saved else None
