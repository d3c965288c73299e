"""How a decided chat reply looks on the wire: chunks, the final body, usage.

v2 and /v1/chat/completions share one envelope (docs/minimax-protocol.md §4-§7
and §10, seeds 000, 001, 004). They differ in where reasoning goes (v2:
`reasoning_content`; chat: `<think>` inline in content, or `reasoning_details`
with `reasoning_split`), in `status_msg` ("" vs "success") and in
`prompt_tokens_details`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .replies import Answer, count_tokens
from .triggers import Triggers

V2 = "v2"
CHAT = "chat"


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
    seed: int  # from the prompt: picks how <think> tags are cut in a stream
    response_id: str
    created: int


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
    if deltas[-1].get("reasoning_content") == "":
        # The vendor's finish chunk has no reasoning_content key (seed 000).
        del deltas[-1]["reasoning_content"]
    return deltas


def _has_payload(delta: dict[str, Any]) -> bool:
    return bool(
        delta.get("content")
        or delta.get("reasoning_content")
        or delta.get("reasoning_details")
        or delta.get("tool_calls")
    )


def _tool_deltas(call: ToolCall, base: dict[str, Any]) -> list[dict[str, Any]]:
    # One call split in two pieces; the continuation has "id": "" (protocol §7).
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
