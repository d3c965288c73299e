"""POST /v1/text/chatcompletion_pro: the legacy sender-name dialect.

See docs/minimax-protocol.md §11-§13 (seeds 002 and 003).

A stream is partial events whose `reply` is "" and whose
`choices[0].messages[0].text` is the increment (no usage), then the full object:
`reply` and `messages[0].text` both hold the whole text, with usage and base_resp.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .failures import InvalidParams
from .hostile import echoing, odd_numbers, repeating
from .models import model_for
from .replies import Answer, Prompt, compose, count_tokens
from .schema_example import example_for_schema
from .triggers import Triggers, echo_text, parse_triggers, strip_triggers
from .validate import (
    optional_bool,
    positive_int,
    require_list,
    require_str,
    unit_interval,
)
from .wire import Reply, new_id, now

SENDER_TYPES = ("USER", "BOT", "FUNCTION")
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(slots=True)
class ProReply:
    model: str
    bot_name: str
    answer: Answer
    finish_reason: str
    function_call: dict[str, str] | None
    prompt_tokens: int
    triggers: Triggers
    plugins: bool
    response_id: str
    created: int


def pro_reply(payload: dict[str, Any]) -> Reply:
    """Validate a chatcompletion_pro request and return its reply."""
    reply = decide(payload)
    stream = bool(payload.get("stream"))
    body = final_body(reply)
    if "odd-numbers" in reply.triggers:
        body = odd_numbers(body)
    return Reply.chat(
        stream=stream,
        events=partial_events(reply) if stream else [],
        body=body,
        fault=reply.triggers.fault,
        done="done" in reply.triggers,
    )


def decide(payload: dict[str, Any]) -> ProReply:
    model = require_str(payload, "model")
    messages = _check_messages(require_list(payload, "messages"))
    bot_name = _check_bots(payload)
    optional_bool(payload, "stream")
    unit_interval(payload, "temperature")
    unit_interval(payload, "top_p")
    max_tokens = positive_int(
        payload, "tokens_to_generate", maximum=model_for(model).context_tokens
    )
    functions = _check_functions(payload)

    users = [m for m in messages if m["sender_type"] == "USER"]
    raw = users[-1]["text"] if users else ""
    triggers = parse_triggers(raw)
    triggers.raise_error()
    last = messages[-1]
    prompt = Prompt(
        question=strip_triggers(raw),
        verbatim=echo_text(raw),
        model=model,
        turn=len(users),
        tool_result=last["text"] if last["sender_type"] == "FUNCTION" else None,
        speaker=bot_name,
    )
    answer = compose(prompt, reasoning=False, long="long" in triggers)
    if "repeat" in triggers:
        answer = repeating(answer)
    elif "echo" in triggers:
        answer = echoing(prompt, answer)

    function_call = None
    call_mode = (payload.get("function_call") or {}).get("type", "auto")
    last_is_user = bool(users) and last is users[-1]
    if "tool" in triggers and functions and last_is_user and call_mode != "none":
        function_call = _function_call(functions[0], prompt)
        answer = Answer((), ())

    # The pro docs list only stop, length and max_output as finish reasons.
    finish_reason = "stop"
    if "length" in triggers:
        answer, finish_reason = answer.halved(), "length"
    elif max_tokens is not None and answer.truncated(max_tokens) != answer:
        answer, finish_reason = answer.truncated(max_tokens), "length"

    prompt_tokens = sum(count_tokens(m["text"]) + 4 for m in messages) + sum(
        count_tokens(b.get("content", "")) for b in payload["bot_setting"]
    )
    return ProReply(
        model=model,
        bot_name=bot_name,
        answer=answer,
        finish_reason=finish_reason,
        function_call=function_call,
        prompt_tokens=prompt_tokens,
        triggers=triggers,
        plugins=bool(payload.get("plugins")),
        response_id=new_id(),
        created=now(),
    )


def _check_messages(messages: list) -> list[dict[str, Any]]:
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidParams(f"messages[{index}] must be an object")
        if message.get("sender_type") not in SENDER_TYPES:
            raise InvalidParams(
                f"messages[{index}].sender_type must be USER, BOT or FUNCTION"
            )
        if not isinstance(message.get("text", ""), str):
            raise InvalidParams(f"messages[{index}].text must be a string")
        message.setdefault("text", "")
        if message["sender_type"] == "USER" and not message["text"]:
            raise InvalidParams(f"messages[{index}].text is required")
    return messages


def _check_bots(payload: dict[str, Any]) -> str:
    """Check bot_setting and reply_constraints; return the replying bot's name."""
    bots = require_list(payload, "bot_setting")
    names = []
    for index, bot in enumerate(bots):
        if not isinstance(bot, dict) or not bot.get("bot_name") or "content" not in bot:
            raise InvalidParams(f"bot_setting[{index}] needs bot_name and content")
        names.append(bot["bot_name"])
    constraints = payload.get("reply_constraints")
    if not isinstance(constraints, dict) or constraints.get("sender_type") != "BOT":
        raise InvalidParams("reply_constraints.sender_type must be BOT")
    if constraints.get("sender_name") not in names:
        raise InvalidParams(
            "reply_constraints.sender_name must name a bot in bot_setting"
        )
    return constraints["sender_name"]


def _check_functions(payload: dict[str, Any]) -> list[dict[str, Any]]:
    functions = payload.get("functions") or []
    for index, function in enumerate(functions):
        name = function.get("name", "") if isinstance(function, dict) else ""
        if not FUNCTION_NAME_RE.match(name) or name.startswith("plugin_"):
            raise InvalidParams(
                f"functions[{index}].name must match [a-zA-Z0-9-_]{{1,64}}"
            )
    return functions


def _function_call(function: dict[str, Any], prompt: Prompt) -> dict[str, str]:
    parameters = function.get("parameters")
    if parameters is None and "parameters_str" in function:
        parameters = json.loads(function["parameters_str"])
    value = example_for_schema(parameters or {"type": "object"}, prompt.question)
    return {
        "name": function["name"],
        "arguments": json.dumps(value, ensure_ascii=False),
    }


def _sensitivity(triggers: Triggers) -> dict[str, Any]:
    flag_in, flag_out = "flag-input" in triggers, "flag-output" in triggers
    return {
        "input_sensitive": flag_in,
        "input_sensitive_type": 7 if flag_in else 0,
        "output_sensitive": flag_out,
        "output_sensitive_type": 3 if flag_out else 0,
    }


def _bot_message(reply: ProReply, text: str) -> dict[str, Any]:
    return {"sender_type": "BOT", "sender_name": reply.bot_name, "text": text}


def partial_events(reply: ProReply) -> list[dict[str, Any]]:
    """Return the increments: `reply` "", the piece in messages[0].text, no usage."""
    return [
        {
            "created": reply.created,
            "model": reply.model,
            "reply": "",
            "choices": [{"index": 0, "messages": [_bot_message(reply, piece)]}],
            **_sensitivity(reply.triggers),
            "id": reply.response_id,
        }
        for piece in reply.answer.content_pieces
    ]


def final_body(reply: ProReply) -> dict[str, Any]:
    """Return the whole response: the non-stream body and the stream's last event."""
    text = reply.answer.content
    message = _bot_message(reply, text)
    completion_tokens = count_tokens(text)
    if reply.function_call:
        message["function_call"] = reply.function_call
        completion_tokens += count_tokens(reply.function_call["arguments"])
    usage: dict[str, int] = {"total_tokens": reply.prompt_tokens + completion_tokens}
    if reply.plugins:
        usage["tokens_with_added_plugin"] = 0
    body: dict[str, Any] = {
        "created": reply.created,
        "model": reply.model,
        "reply": text,
        "choices": [
            {"finish_reason": reply.finish_reason, "index": 0, "messages": [message]}
        ],
        "usage": usage,
        **_sensitivity(reply.triggers),
        "id": reply.response_id,
        "base_resp": {"status_code": 0, "status_msg": ""},
    }
    if reply.function_call:
        body["function_call"] = reply.function_call
    return body
