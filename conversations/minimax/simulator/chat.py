"""POST /v1/text/chatcompletion_v2 and POST /v1/chat/completions: check and decide.

The request is checked field by field (2013 naming the field), then the whole reply
is decided up front; chat_wire renders it as a body or as chunks. Errors for the two
endpoints are rendered differently by the core (see failures).
"""

from __future__ import annotations

import json
from typing import Any

from .chat_wire import CHAT, Completion, ToolCall, final_body, stream_chunks
from .failures import InvalidParams
from .hostile import echoing, odd_numbers, repeating
from .models import CHAT_MAX_COMPLETION_TOKENS, JSON_SCHEMA_MODELS, model_for
from .replies import Answer, Prompt, compose, compose_json, count_tokens, seed_for
from .schema_example import example_for_schema
from .triggers import Triggers, echo_text, parse_triggers, strip_triggers
from .validate import (
    SCHEMA_NAME_RE,
    optional_bool,
    positive_int,
    require_list,
    require_str,
    unit_interval,
)
from .wire import Reply, new_id, now

ROLES = ("system", "user", "assistant", "tool")
DEFAULT_NAME = "MiniMax AI"


def chat_reply(payload: dict[str, Any], dialect: str) -> Reply:
    """Validate a chat request and return its reply (body or event stream)."""
    completion = decide(payload, dialect)
    stream = bool(payload.get("stream"))
    body = final_body(completion)
    if "odd-numbers" in completion.triggers:
        body = odd_numbers(body)
    return Reply.chat(
        stream=stream,
        events=stream_chunks(completion) if stream else [],
        body=body,
        fault=completion.triggers.fault,
        done="done" in completion.triggers,
    )


def decide(payload: dict[str, Any], dialect: str) -> Completion:
    """Check the request and decide the whole reply (before any byte is sent)."""
    model = require_str(payload, "model")
    messages = _check_messages(require_list(payload, "messages"))
    optional_bool(payload, "stream")
    unit_interval(payload, "temperature")
    unit_interval(payload, "top_p")
    max_tokens = _max_tokens(payload, dialect, model)
    tools = _check_tools(payload)
    schema = _json_schema(payload, model)
    reasoning_split = dialect == CHAT and optional_bool(payload, "reasoning_split")

    prompt, triggers = _prompt_of(messages, model)
    reasoning_model = model_for(model).reasoning and schema is None
    if schema is not None:
        answer = compose_json(prompt, schema)
    else:
        answer = compose(prompt, reasoning=reasoning_model, long="long" in triggers)
    if "repeat" in triggers:
        answer = repeating(answer)
    elif "echo" in triggers:
        answer = echoing(prompt, answer)
    tool_call = None
    wants_tool = "tool" in triggers and messages[-1]["role"] == "user"
    if wants_tool and tools and payload.get("tool_choice") != "none":
        tool_call = _tool_call(tools[0], prompt)
        answer = Answer(answer.reasoning_pieces, ())
    answer, finish_reason = _ending(answer, triggers, max_tokens, tool_call)

    return Completion(
        dialect=dialect,
        model=model,
        name=_assistant_name(messages),
        reasoning_model=reasoning_model,
        reasoning_split=reasoning_split,
        answer=answer,
        finish_reason=finish_reason,
        tool_call=tool_call,
        prompt_tokens=_prompt_tokens(messages, tools),
        triggers=triggers,
        seed=seed_for(model, prompt.question),
        response_id=new_id(),
        created=now(),
    )


def _prompt_of(messages: list[dict[str, Any]], model: str) -> tuple[Prompt, Triggers]:
    """Return what the reply depends on, and the triggers in the last user message."""
    last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    raw = _text(last_user) if last_user else ""
    triggers = parse_triggers(raw)
    triggers.raise_error()
    last = messages[-1]
    prompt = Prompt(
        question=strip_triggers(raw),
        verbatim=echo_text(raw),
        model=model,
        turn=sum(m["role"] == "user" for m in messages),
        tool_result=_text(last) if last["role"] == "tool" else None,
    )
    return prompt, triggers


def _ending(
    answer: Answer,
    triggers: Triggers,
    max_tokens: int | None,
    tool_call: ToolCall | None,
) -> tuple[Answer, str]:
    """Return the answer as sent and its finish_reason (a cut one ends in length)."""
    if "length" in triggers:
        return answer.halved(), "length"
    if max_tokens is not None and answer.truncated(max_tokens) != answer:
        return answer.truncated(max_tokens), "length"
    return answer, "tool_calls" if tool_call else "stop"


# --- request checks -------------------------------------------------------------


def _check_messages(messages: list) -> list[dict[str, Any]]:
    call_ids: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidParams(
                f"messages[{index}].role must be one of {', '.join(ROLES)}"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidParams(
                f"messages[{index}].content must be a string or an array"
            )
        if message["role"] == "user" and not content:
            raise InvalidParams(f"messages[{index}].content is required for role user")
        for call in message.get("tool_calls") or []:
            call_ids.add(str(call.get("id", "")))
        if message["role"] == "tool" and message.get("tool_call_id") not in call_ids:
            tool_id = message.get("tool_call_id")
            raise InvalidParams(f"tool result's tool id({tool_id}) not found")
    return messages


def _max_tokens(payload: dict[str, Any], dialect: str, model: str) -> int | None:
    cap = model_for(model).context_tokens
    if dialect == CHAT:
        cap = min(cap, CHAT_MAX_COMPLETION_TOKENS)
    return positive_int(payload, "max_completion_tokens", maximum=cap) or positive_int(
        payload, "max_tokens", maximum=cap
    )


def _check_tools(payload: dict[str, Any]) -> list[dict[str, Any]]:
    tools = payload.get("tools") or []
    if not isinstance(tools, list):
        raise InvalidParams("tools must be an array")
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise InvalidParams(f"tools[{index}].function.name is required")
    choice = payload.get("tool_choice")
    if (
        choice is not None
        and choice not in ("none", "auto")
        and not isinstance(choice, dict)
    ):
        raise InvalidParams("tool_choice must be none or auto")
    return tools


def _json_schema(payload: dict[str, Any], model: str) -> dict[str, Any] | None:
    response_format = payload.get("response_format")
    if response_format is None:
        return None
    if not model_for(model).json_schema:
        supported = ", ".join(JSON_SCHEMA_MODELS)
        raise InvalidParams(f"response_format is only supported by {supported}")
    if (
        not isinstance(response_format, dict)
        or response_format.get("type") != "json_schema"
    ):
        raise InvalidParams("response_format.type must be json_schema")
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise InvalidParams("response_format.json_schema is required")
    if not SCHEMA_NAME_RE.match(str(spec.get("name", ""))):
        raise InvalidParams(r"response_format.json_schema.name must match ^\w{1,64}$")
    schema = spec.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidParams("response_format.json_schema.schema.type must be object")
    return schema


# --- reply parts ------------------------------------------------------------------


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict)
        )
    return content


def _assistant_name(messages: list[dict[str, Any]]) -> str:
    system = next((m for m in messages if m["role"] == "system"), None)
    return (system or {}).get("name") or DEFAULT_NAME


def _prompt_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    tokens = sum(count_tokens(_text(m)) + 4 for m in messages)
    return tokens + (count_tokens(json.dumps(tools)) if tools else 0)


def _tool_call(tool: dict[str, Any], prompt: Prompt) -> ToolCall:
    function = tool["function"]
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    arguments = json.dumps(
        example_for_schema(parameters, prompt.question), ensure_ascii=False
    )
    number = seed_for("tool", prompt.question) % 10**10
    return ToolCall(f"call_function_{number:010d}_1", function["name"], arguments)
