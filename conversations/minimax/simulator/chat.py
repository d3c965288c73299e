"""POST /v1/text/chatcompletion_v2 and POST /v1/chat/completions bodies and chunks.

Both answer with the same envelope (minimax-protocol §1.3-§1.6, seeds 000, 001, 004).
They differ in where reasoning goes (v2: `reasoning_content`; chat: `<think>` inline
in content, or `reasoning_details` with `reasoning_split`), in `status_msg` ("" vs
"success"), in `prompt_tokens_details`, and in how errors are sent (see failures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..catalog import get_model
from .failures import InvalidParams
from .replies import Answer, Prompt, compose, compose_json, count_tokens, seed_for
from .schema_example import example_for_schema
from .triggers import Triggers, parse_triggers, strip_triggers
from .validate import (
    SCHEMA_NAME_RE,
    optional_bool,
    positive_int,
    require_list,
    require_str,
    unit_interval,
)
from .wire import Reply, new_id, now

V2 = "v2"
CHAT = "chat"
ROLES = ("system", "user", "assistant", "tool")
DEFAULT_NAME = "MiniMax AI"
CHAT_MAX_COMPLETION_TOKENS = 2048
JSON_SCHEMA_MODEL = "MiniMax-Text-01"


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Completion:
    """One decided reply: the answer, how it ended, and what to report about it."""

    dialect: str
    model: str
    name: str
    reasoning_model: bool
    reasoning_split: bool
    answer: Answer
    finish_reason: str
    tool_call: ToolCall | None
    prompt_tokens: int
    triggers: Triggers
    seed: int
    response_id: str
    created: int


def chat_reply(payload: dict[str, Any], dialect: str) -> Reply:
    """Validate a chat request and return its reply (body or event stream)."""
    completion = decide(payload, dialect)
    if payload.get("stream"):
        events = [*stream_chunks(completion), final_body(completion)]
        reply = Reply.events(events, fault=completion.triggers.fault)
        if "done" in completion.triggers:
            reply.parts.append(b"data: [DONE]\n\n")
        return reply
    return Reply.json(final_body(completion), fault=completion.triggers.fault)


def decide(payload: dict[str, Any], dialect: str) -> Completion:
    model = require_str(payload, "model")
    messages = _check_messages(require_list(payload, "messages"))
    optional_bool(payload, "stream")
    unit_interval(payload, "temperature")
    unit_interval(payload, "top_p")
    max_tokens = _max_tokens(payload, dialect)
    tools = _check_tools(payload)
    schema = _json_schema(payload, model)
    reasoning_split = dialect == CHAT and optional_bool(payload, "reasoning_split")

    last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    question_raw = _text(last_user) if last_user else ""
    triggers = parse_triggers(question_raw)
    triggers.raise_error()
    last = messages[-1]
    prompt = Prompt(
        question=strip_triggers(question_raw),
        model=model,
        turn=sum(m["role"] == "user" for m in messages),
        tool_result=_text(last) if last["role"] == "tool" else None,
    )
    reasoning_model = _is_reasoning(model) and schema is None
    if schema is not None:
        answer = compose_json(prompt, schema)
    else:
        answer = compose(prompt, reasoning=reasoning_model, long="long" in triggers)

    tool_call = None
    wants_tool = "tool" in triggers and last["role"] == "user"
    if wants_tool and tools and payload.get("tool_choice") != "none":
        tool_call = _tool_call(tools[0], prompt)
        answer = Answer(answer.reasoning_pieces, ())

    finish_reason = "tool_calls" if tool_call else "stop"
    if "length" in triggers:
        answer, finish_reason = answer.halved(), "length"
    elif max_tokens is not None:
        cut = answer.truncated(max_tokens)
        if cut != answer:
            answer, finish_reason = cut, "length"

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


def _max_tokens(payload: dict[str, Any], dialect: str) -> int | None:
    if dialect == CHAT:
        cap = CHAT_MAX_COMPLETION_TOKENS
        return positive_int(
            payload, "max_completion_tokens", maximum=cap
        ) or positive_int(payload, "max_tokens", maximum=cap)
    return positive_int(payload, "max_completion_tokens") or positive_int(
        payload, "max_tokens"
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
    if model != JSON_SCHEMA_MODEL:
        raise InvalidParams(f"response_format is only supported by {JSON_SCHEMA_MODEL}")
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


def _is_reasoning(model: str) -> bool:
    return get_model(model).reasoning or model.startswith(("MiniMax-M1", "MiniMax-M2"))


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
    number = int.from_bytes(prompt.question.encode()[:4].ljust(4, b"\0"), "big")
    return ToolCall(
        f"call_function_{number % 10**10:010d}_1", function["name"], arguments
    )


def think_prefix(reasoning: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n\n"


def _inline_think_pieces(completion: Completion) -> list[str]:
    """Return content pieces with <think> tags, sometimes cut across two pieces.

    The cut exercises the client's tag splitter; which cut is used follows the
    prompt, so a given request always streams the same way.
    """
    reasoning = list(completion.answer.reasoning_pieces) or [""]
    content = list(completion.answer.content_pieces)
    mode = completion.seed % 3
    if mode == 0:
        return ["<think>\n", *reasoning, "\n</think>\n\n", *content]
    if mode == 1:
        head = ["<th", "ink>\n" + reasoning[0], *reasoning[1:-1]]
        tail_piece = reasoning[-1] if len(reasoning) > 1 else ""
        first = content[0] if content else ""
        return [*head, tail_piece + "\n</", "think>\n\n" + first, *content[1:]]
    first = content[0] if content else ""
    return [
        "<think>\n" + reasoning[0],
        *reasoning[1:],
        "\n</thi",
        "nk>\n\n" + first,
        *content[1:],
    ]


def _deltas(completion: Completion) -> list[dict[str, Any]]:
    """Return the stream's deltas in order (the last one gets finish_reason)."""
    base = {"role": "assistant", "name": completion.name, "audio_content": ""}
    answer = completion.answer
    deltas: list[dict[str, Any]] = []
    if completion.dialect == V2:
        deltas += [
            {"content": "", **base, "reasoning_content": piece}
            for piece in answer.reasoning_pieces
        ]
        deltas += [
            {"content": piece, **base, "reasoning_content": ""}
            for piece in answer.content_pieces
        ]
    elif completion.reasoning_model and not completion.reasoning_split:
        deltas += [
            {"content": piece, **base} for piece in _inline_think_pieces(completion)
        ]
    else:
        deltas += [
            {"content": "", **base, "reasoning_details": [_reasoning_detail(piece)]}
            for piece in answer.reasoning_pieces
        ]
        deltas += [{"content": piece, **base} for piece in answer.content_pieces]
    if completion.tool_call:
        deltas += _tool_deltas(completion.tool_call, base)
    if not deltas:
        deltas.append({"content": "", **base})
    deltas = [d for d in deltas if _has_payload(d)] or deltas[-1:]
    deltas[-1].pop("reasoning_content", None)
    return deltas


def _has_payload(delta: dict[str, Any]) -> bool:
    return bool(
        delta.get("content")
        or delta.get("reasoning_content")
        or delta.get("reasoning_details")
        or delta.get("tool_calls")
    )


def _tool_deltas(call: ToolCall, base: dict[str, Any]) -> list[dict[str, Any]]:
    # One call split in two pieces; the continuation has "id": "" (§1.6).
    half = len(call.arguments) // 2
    first = {
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments[:half]},
    }
    rest = {
        "index": 0,
        "id": "",
        "type": "function",
        "function": {"arguments": call.arguments[half:]},
    }
    return [{"content": "", **base, "tool_calls": [piece]} for piece in (first, rest)]


def _reasoning_detail(text: str) -> dict[str, Any]:
    return {
        "type": "reasoning.text",
        "id": "reasoning-text-1",
        "format": "MiniMax-response-v1",
        "index": 0,
        "text": text,
    }


def sensitivity(triggers: Triggers) -> dict[str, Any]:
    flag_in, flag_out = "flag-input" in triggers, "flag-output" in triggers
    return {
        "input_sensitive": flag_in,
        "output_sensitive": flag_out,
        "input_sensitive_type": 7 if flag_in else 0,
        "output_sensitive_type": 3 if flag_out else 0,
        "output_sensitive_int": 0,
    }


def stream_chunks(completion: Completion) -> list[dict[str, Any]]:
    """Return the `chat.completion.chunk` events, the last one with finish_reason."""
    deltas = _deltas(completion)
    chunks = []
    for position, delta in enumerate(deltas):
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if position == len(deltas) - 1:
            choice = {"finish_reason": completion.finish_reason, **choice}
        chunks.append(
            {
                "id": completion.response_id,
                "choices": [choice],
                "created": completion.created,
                "model": completion.model,
                "object": "chat.completion.chunk",
                "usage": {"total_tokens": 0, "total_characters": 0},
                **sensitivity(completion.triggers),
            }
        )
    return chunks


def final_body(completion: Completion) -> dict[str, Any]:
    """Return the `chat.completion` object: the non-stream body and the last event."""
    return {
        "id": completion.response_id,
        "choices": [
            {
                "finish_reason": completion.finish_reason,
                "index": 0,
                "message": _message(completion),
            }
        ],
        "created": completion.created,
        "model": completion.model,
        "object": "chat.completion",
        "usage": _usage(completion),
        **sensitivity(completion.triggers),
        "base_resp": {
            "status_code": 0,
            "status_msg": "" if completion.dialect == V2 else "success",
        },
    }


def _message(completion: Completion) -> dict[str, Any]:
    answer = completion.answer
    if completion.dialect == V2:
        message: dict[str, Any] = {
            "content": answer.content,
            "role": "assistant",
            "name": completion.name,
            "audio_content": "",
        }
        if completion.reasoning_model:
            message["reasoning_content"] = answer.reasoning
    elif completion.reasoning_model and not completion.reasoning_split:
        message = {
            "content": "".join(_inline_think_pieces(completion)),
            "role": "assistant",
        }
    else:
        message = {"content": answer.content, "role": "assistant"}
        if completion.reasoning_model:
            message["reasoning_details"] = [_reasoning_detail(answer.reasoning)]
    if completion.tool_call:
        call = completion.tool_call
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
                "index": 0,
            }
        ]
    return message


def _usage(completion: Completion) -> dict[str, Any]:
    answer = completion.answer
    reasoning_tokens = count_tokens(answer.reasoning)
    completion_tokens = reasoning_tokens + count_tokens(answer.content)
    if completion.tool_call:
        completion_tokens += count_tokens(completion.tool_call.arguments)
    usage: dict[str, Any] = {
        "total_tokens": completion.prompt_tokens + completion_tokens,
        "total_characters": 0,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion_tokens,
    }
    if completion.dialect == CHAT:
        usage["prompt_tokens_details"] = {"cached_tokens": 0}
    if completion.reasoning_model:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return usage
