"""Each chat dialect's request body, checked against the vendor's ranges first.

v2 and /v1/chat/completions take OpenAI-style role messages
(docs/minimax-protocol.md §3, §10); the legacy
chatcompletion_pro takes sender messages, bot_setting and reply_constraints
(§11, seeds 002 and 003).

The texts of InvalidRequest here are English and untranslated: the app heads them
with the translated headline of their kind.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Dialect, get_model
from ..errors import InvalidRequest
from ..prompting import DEFAULT_BOT_CONTENT
from ..schema import schema_name_is_valid
from ..types import DEFAULT_BOT_NAME, BotSetting, ChatMessage, ChatRequest

# The /v1/chat/completions page caps max_completion_tokens at 2048 (seed 004).
CHAT_MAX_COMPLETION_TOKENS = 2048


def resolve_dialect(request: ChatRequest) -> Dialect:
    """Return the dialect the request asks for, or its model's default."""
    return (
        Dialect(request.dialect)
        if request.dialect
        else get_model(request.model).default_dialect
    )


def check_request(request: ChatRequest, dialect: Dialect) -> None:
    """Raise InvalidRequest for a value the vendor pages rule out (before sending)."""
    if not request.messages:
        raise InvalidRequest("A chat request needs at least one message.")
    for name in ("temperature", "top_p"):
        value = getattr(request, name)
        if value is not None and not 0 < value <= 1:
            raise InvalidRequest(f"{name} must be in (0, 1], got {value}.")
    if request.max_tokens is not None:
        limit = get_model(request.model).max_output_tokens
        if dialect is Dialect.CHAT:
            limit = min(limit, CHAT_MAX_COMPLETION_TOKENS)
        if not 1 <= request.max_tokens <= limit:
            raise InvalidRequest(
                f"max_tokens must be between 1 and {limit}, got {request.max_tokens}."
            )
    if request.json_schema is not None:
        _check_json_schema(request.json_schema)


def _check_json_schema(json_schema: dict[str, Any]) -> None:
    if not schema_name_is_valid(json_schema.get("name")):
        raise InvalidRequest(
            "The JSON schema needs a name of 1-64 letters, digits or underscores."
        )
    schema = json_schema.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequest(
            'The JSON schema must describe an object ("type": "object").'
        )


def build_body(request: ChatRequest, dialect: Dialect) -> dict[str, Any]:
    """Return the JSON body for `dialect`'s endpoint."""
    if dialect is Dialect.PRO:
        return _pro_body(request)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_openai_message(m, dialect) for m in request.messages],
        "stream": request.stream,
    }
    if request.max_tokens is not None:
        key = "max_completion_tokens" if dialect is Dialect.CHAT else "max_tokens"
        body[key] = request.max_tokens
    _copy_sampling(request, body)
    if request.tools:
        body["tools"] = request.tools
    if request.tool_choice:
        body["tool_choice"] = request.tool_choice
    if request.json_schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                key: request.json_schema[key]
                for key in ("name", "description", "schema")
                if request.json_schema.get(key) is not None
            },
        }
    return body


def _copy_sampling(request: ChatRequest, body: dict[str, Any]) -> None:
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p


def _openai_message(message: ChatMessage, dialect: Dialect) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role}
    if message.name:
        wire["name"] = message.name
    content = message.content
    if dialect is Dialect.CHAT and message.role == "assistant" and message.reasoning:
        # M2.x wants its reasoning back inline, as it produced it
        # (docs/minimax-protocol.md §6).
        content = f"<think>\n{message.reasoning}\n</think>\n\n{content}"
    # The vendor's own examples send a system message with a name and no content.
    if content or message.role != "system":
        wire["content"] = content
    if message.tool_calls:
        wire["tool_calls"] = message.tool_calls
    if message.tool_call_id:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _pro_body(request: ChatRequest) -> dict[str, Any]:
    bots = request.bot_setting or [
        BotSetting(DEFAULT_BOT_NAME, _system_text(request) or DEFAULT_BOT_CONTENT)
    ]
    bot_name = bots[0].bot_name
    body: dict[str, Any] = {
        "model": request.model,
        "stream": request.stream,
        "bot_setting": [{"bot_name": b.bot_name, "content": b.content} for b in bots],
        "reply_constraints": {"sender_type": "BOT", "sender_name": bot_name},
        "messages": _pro_messages(request.messages, request.user_name, bot_name),
        "sample_messages": _pro_messages(
            request.sample_messages, request.user_name, bot_name
        ),
    }
    if request.max_tokens is not None:
        body["tokens_to_generate"] = request.max_tokens
    _copy_sampling(request, body)
    if request.tools:
        body["functions"] = [
            tool["function"] for tool in request.tools if tool.get("type") == "function"
        ]
    if request.tool_choice in ("auto", "none"):
        body["function_call"] = {"type": request.tool_choice}
    return body


def _system_text(request: ChatRequest) -> str:
    return "\n\n".join(
        m.content for m in request.messages if m.role == "system" and m.content
    )


def _pro_messages(
    messages: list[ChatMessage], user_name: str, bot_name: str
) -> list[dict[str, Any]]:
    """Return pro sender messages; assistant turns go back as the bot, as the
    vendor quick-start does. System text lives in bot_setting instead."""
    wire = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "user":
            item = {"sender_type": "USER", "sender_name": message.name or user_name}
        elif message.role == "assistant":
            item = {"sender_type": "BOT", "sender_name": message.name or bot_name}
        else:
            # A function's result is filed under the bot that called it
            # (docs/minimax-protocol.md §11).
            item = {"sender_type": "FUNCTION", "sender_name": bot_name}
        item["text"] = message.content
        if message.role == "assistant" and message.tool_calls:
            function = message.tool_calls[0].get("function", {})
            item["function_call"] = {
                "name": function.get("name", ""),
                "arguments": function.get("arguments", ""),
            }
        wire.append(item)
    return wire
