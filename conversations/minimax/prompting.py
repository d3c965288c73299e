"""Turn a stored conversation into the request for its next reply.

All dialect policy about what is sent lives here, not in the app: a pro chat
describes its bot in bot_setting (a default description when the user wrote none)
and names every sender; v2 and chat/completions send the system prompt as a system
message. The app hands over its settings and history as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .catalog import Dialect, get_model
from .types import (
    DEFAULT_BOT_NAME,
    DEFAULT_USER_NAME,
    BotSetting,
    ChatMessage,
    ChatRequest,
)

# The vendor quick-start's own bot description (seed 002), used when a pro chat has
# no system text. The one definition: the request builder uses it too.
DEFAULT_BOT_CONTENT = (
    "MM智能助理是一款由MiniMax自研的,没有调用其他产品的接口的大型语言模型。"
    "MiniMax是一家中国科技公司,一直致力于进行大模型相关的研究。"
)


@dataclass(slots=True)
class ConversationSettings:
    """What a conversation decides about its replies, as the app stores it."""

    model: str
    dialect: Dialect | str | None = None
    system_prompt: str = ""
    bot_name: str = DEFAULT_BOT_NAME
    user_name: str = DEFAULT_USER_NAME
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    json_schema: dict[str, Any] | None = None

    @property
    def resolved_dialect(self) -> Dialect:
        if self.dialect:
            return Dialect(self.dialect)
        return get_model(self.model).default_dialect


@dataclass(slots=True)
class Turn:
    """One usable turn of the stored history, oldest first."""

    role: Literal["user", "assistant"]
    content: str
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] | None = field(default=None)


def reply_sender_name(settings: ConversationSettings) -> str:
    """Return the label a new reply is stored under.

    pro replies come from a named bot; otherwise the model that answered, which
    stays true if the conversation later switches model.
    """
    if settings.resolved_dialect is Dialect.PRO:
        return settings.bot_name or DEFAULT_BOT_NAME
    return settings.model


def build_chat_request(
    settings: ConversationSettings, history: list[Turn], *, stream: bool = True
) -> ChatRequest:
    """Return the request for the next reply, in the conversation's dialect."""
    dialect = settings.resolved_dialect
    bot_name = settings.bot_name or DEFAULT_BOT_NAME
    user_name = settings.user_name or DEFAULT_USER_NAME
    messages = [
        ChatMessage(
            turn.role,
            turn.content,
            # pro: the current names; pro refuses a sender it does not know, and a
            # renamed bot keeps its past turns.
            name=user_name if turn.role == "user" else bot_name,
            reasoning=turn.reasoning,
            tool_calls=turn.tool_calls,
        )
        for turn in history
    ]
    system_prompt = settings.system_prompt.strip()
    bot_setting: list[BotSetting] = []
    if dialect is Dialect.PRO:
        bot_setting = [BotSetting(bot_name, system_prompt or DEFAULT_BOT_CONTENT)]
    elif system_prompt:
        messages.insert(0, ChatMessage("system", system_prompt))
    return ChatRequest(
        model=settings.model,
        messages=messages,
        dialect=dialect,
        stream=stream,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        json_schema=settings.json_schema or None,
        bot_setting=bot_setting,
        user_name=user_name,
    )
