"""Request bodies and reply parsing per dialect, against the vendor's own examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conversations.minimax.catalog import Dialect
from conversations.minimax.dialects import build_body, check_request, new_parser
from conversations.minimax.errors import (
    InsufficientBalance,
    InvalidRequest,
    ProtocolError,
    SensitiveOutput,
)
from conversations.minimax.events import (
    Finish,
    ReasoningDelta,
    Sensitivity,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from conversations.minimax.sse import SSEDecoder
from conversations.minimax.types import BotSetting, ChatMessage, ChatRequest

SEEDS = Path(__file__).parent / "fixtures" / "seeds"


def seed_json(name: str) -> dict[str, Any]:
    return json.loads((SEEDS / name).read_text())


def seed_stream(name: str) -> list[dict[str, Any]]:
    """Return the JSON payloads of a stream fixture, decoded as SSE."""
    raw = (SEEDS / name).read_bytes()
    if not raw.startswith(b"data:"):
        # Seed 001 prints bare JSON lines; put them back on the wire as `data:`.
        raw = b"".join(b"data: " + line + b"\n\n" for line in raw.split() if line)
    return [json.loads(e.data) for e in SSEDecoder().decode([raw])]


def parse(request: ChatRequest, dialect: Dialect, payloads: list[dict]) -> list:
    parser = new_parser(request, dialect)
    events = [event for payload in payloads for event in parser.feed(payload)]
    return events + parser.drain() + parser.end()


def text_of(events: list, kind: type = TextDelta) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def request(model: str = "MiniMax-M1", **kwargs: Any) -> ChatRequest:
    messages = kwargs.pop("messages", [ChatMessage("user", "你好")])
    return ChatRequest(model=model, messages=messages, **kwargs)


# --- replies: the vendor examples ----------------------------------------------


def test_seed_001_stream_text_once_and_usage_from_the_final_event():
    events = parse(request(), Dialect.V2, seed_stream("seed_001_m1_stream.txt"))
    assert text_of(events) == "你好！有什么可以帮助你的吗？"
    assert [e for e in events if isinstance(e, Usage)] == [Usage(total_tokens=73)]
    assert events[-1] == Finish(
        "stop", "02ff7eb7fe6fb505b9d5cb6945a1a98b", "MiniMax-M1"
    )


def test_seed_001_stream_stops_at_the_aggregate():
    parser = new_parser(request(), Dialect.V2)
    payloads = seed_stream("seed_001_m1_stream.txt")
    for payload in payloads[:2]:
        parser.feed(payload)
    assert not parser.terminal  # the finish_reason chunk is not the end
    parser.feed(payloads[2])
    assert parser.terminal


def test_seed_001_plain_body():
    events = parse(
        request(stream=False), Dialect.V2, [seed_json("seed_001_m1_plain.json")]
    )
    assert text_of(events) == "你好！有什么我可以帮助你的吗？"
    assert Usage(prompt_tokens=62, completion_tokens=8, total_tokens=70) in events
    assert isinstance(events[-1], Finish)


def test_seed_000_reasoning_content_and_finish_chunk_with_content():
    events = parse(
        request("abab6.5s-chat"), Dialect.V2, seed_stream("seed_000_v2_stream.txt")
    )
    assert text_of(events, ReasoningDelta) == "好的"
    assert text_of(events) == "你好！有什么我可以帮你的吗？"
    assert Sensitivity() in events
    assert events[-1].reason == "stop"


def test_seed_004_m27_think_is_split_out():
    events = parse(
        request("MiniMax-M2.7", stream=False),
        Dialect.CHAT,
        [seed_json("seed_004_m27_plain.json")],
    )
    assert text_of(events, ReasoningDelta) == "用户用中文打招呼,我应该用中文回应。"
    assert text_of(events) == "你好!有什么我可以帮助你的吗?"
    assert Usage(prompt_tokens=22, completion_tokens=21, total_tokens=43) in events


# --- replies: quirks (protocol §5-§9, §13) ------------------------------------


def chunk(delta: dict | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}}
    if "finish_reason" in extra:
        choice["finish_reason"] = extra.pop("finish_reason")
    return {
        "id": "r1",
        "object": "chat.completion.chunk",
        "choices": [choice],
        "usage": {"total_tokens": 0, "total_characters": 0},
        **extra,
    }


def aggregate(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "object": "chat.completion",
        "choices": [{"finish_reason": "stop", "index": 0, "message": message}],
        "usage": {"total_tokens": 9, "prompt_tokens": 4, "completion_tokens": 5},
        "base_resp": {"status_code": 0, "status_msg": ""},
        **extra,
    }


def test_m2_think_tags_cut_across_stream_deltas():
    pieces = ["<thi", "nk>\nPlan.", "\n</thi", "nk>\n\n", "Hi", "!"]
    payloads = [chunk({"content": p}) for p in pieces]
    payloads[-1]["choices"][0]["finish_reason"] = "stop"
    payloads.append(aggregate({"content": "".join(pieces)}))
    events = parse(request("MiniMax-M2.7"), Dialect.CHAT, payloads)
    assert text_of(events, ReasoningDelta) == "Plan."
    assert text_of(events) == "Hi!"


def test_reasoning_details_and_usage_only_chunk():
    payloads = [
        chunk({"reasoning_details": [{"type": "reasoning.text", "text": "Think."}]}),
        chunk({"content": "Done."}, finish_reason="stop"),
        {"id": "r1", "choices": [], "usage": {"total_tokens": 12}},
    ]
    events = parse(request("MiniMax-M2.7"), Dialect.CHAT, payloads)
    assert text_of(events, ReasoningDelta) == "Think."
    assert text_of(events) == "Done."
    assert Usage(total_tokens=12) in events


def test_reasoning_sent_both_as_field_and_inline_is_shown_once():
    payloads = [
        chunk({"reasoning_content": "Think.", "content": "<think>Think.</think>"}),
        chunk({"content": "\n\nAnswer."}, finish_reason="stop"),
    ]
    events = parse(request("MiniMax-M2.7"), Dialect.CHAT, payloads)
    assert text_of(events, ReasoningDelta) == "Think."
    assert text_of(events) == "Answer."


PIECE = "A piece of eight kilobytes, said again. " * 200  # 8,000 characters


def repeating_stream(
    dialect: Dialect, copies: int, final_copy: bool = True
) -> list[dict[str, Any]]:
    """Return a stream whose every piece equals a whole earlier text (legitimately),
    and the final whole copy the protocol sends in that dialect (v2 and chat may
    end at the finish chunk: the stream closes or a gateway sends [DONE])."""
    whole = PIECE * copies
    if dialect is Dialect.PRO:
        partial = [{"reply": "", "choices": [{"messages": [{"text": PIECE}]}]}] * copies
        final = {
            "reply": whole,
            "choices": [{"finish_reason": "stop", "messages": [{"text": whole}]}],
            "usage": {"total_tokens": 9},
        }
        return [*partial, final]
    payloads = [chunk({"content": PIECE}) for _ in range(copies)]
    payloads[-1]["choices"][0]["finish_reason"] = "stop"
    return [*payloads, aggregate({"content": whole})] if final_copy else payloads


@pytest.mark.parametrize(
    ("dialect", "final_copy"),
    [
        (Dialect.V2, False),
        (Dialect.CHAT, False),
        (Dialect.V2, True),
        (Dialect.CHAT, True),
        (Dialect.PRO, True),
    ],
)
def test_pieces_that_repeat_the_text_so_far_are_kept(dialect, final_copy):
    # Finding 12: each piece equals the whole text so far after the first; the
    # protocol's pieces are increments, so every one of them is text.
    model = "abab6.5s-chat" if dialect is not Dialect.CHAT else "MiniMax-Text-01"
    stream = repeating_stream(dialect, 40, final_copy)
    events = parse(request(model, dialect=dialect), dialect, stream)
    assert text_of(events) == PIECE * 40  # 320,000 characters, not 8,000
    assert isinstance(events[-1], Finish)


def test_a_piece_that_doubles_the_text_so_far_is_kept():
    pieces = ["Say it twice. ", "Say it twice. ", "Say it twice. Say it twice. "]
    payloads = [chunk({"content": p}) for p in pieces]
    payloads[-1]["choices"][0]["finish_reason"] = "stop"
    assert text_of(parse(request(), Dialect.V2, payloads)) == "".join(pieces)


def test_the_final_whole_copy_adds_only_what_the_stream_lacked():
    payloads = [chunk({"content": "The answer is"}, finish_reason="stop")]
    payloads.append(aggregate({"content": "The answer is forty-two."}))
    assert text_of(parse(request(), Dialect.V2, payloads)) == "The answer is forty-two."


def test_short_incremental_deltas_that_repeat_themselves_are_kept():
    payloads = [chunk({"content": "ha"}), chunk({"content": "ha"})]
    payloads[-1]["choices"][0]["finish_reason"] = "stop"
    assert text_of(parse(request(), Dialect.V2, payloads)) == "haha"


def test_tool_call_pieces_with_empty_id_continue_the_last_call():
    # Spring AI #1276: one call split into entries, the continuation with "id": "".
    payloads = [
        chunk({"tool_calls": [{"id": "call_1", "function": {"name": "add"}}]}),
        chunk({"tool_calls": [{"id": "", "function": {"arguments": '{"a":'}}]}),
        chunk(
            {"tool_calls": [{"id": "", "function": {"arguments": " 1}"}}]},
            finish_reason="tool_calls",
        ),
        aggregate(
            {
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 1}'},
                    }
                ],
            }
        ),
    ]
    events = parse(request("abab6.5s-chat"), Dialect.V2, payloads)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert {c.index for c in calls} == {0}
    assert "".join(c.arguments for c in calls) == '{"a": 1}'
    assert calls[0].name == "add"


def test_openai_style_tool_calls_by_index():
    payloads = [
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}},
                    {"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}},
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "[]"}}]}),
    ]
    payloads[-1]["choices"][0]["finish_reason"] = "tool_calls"
    events = parse(request(), Dialect.V2, payloads)
    by_index: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            by_index[e.index] = by_index.get(e.index, "") + e.arguments
    assert by_index == {0: "[]", 1: "{}"}


def test_sensitivity_is_reported_once_when_flagged():
    flagged = {"output_sensitive": True, "output_sensitive_type": 3}
    payloads = [
        chunk({"content": "a"}, **flagged),
        chunk({"content": "b"}, finish_reason="stop", **flagged),
        aggregate({"content": "ab"}, **flagged),
    ]
    events = parse(request(), Dialect.V2, payloads)
    flags = [e for e in events if isinstance(e, Sensitivity)]
    assert flags == [Sensitivity(output_sensitive=True, output_type=3)]
    assert events.index(flags[0]) < events.index(TextDelta("b"))


def test_non_zero_base_resp_in_any_event_is_a_typed_error():
    parser = new_parser(request(), Dialect.V2)
    parser.feed(chunk({"content": "partial"}))
    with pytest.raises(SensitiveOutput):
        parser.feed({"base_resp": {"status_code": 1027, "status_msg": "output"}})


def test_native_error_body_is_a_typed_error():
    parser = new_parser(request(), Dialect.PRO)
    with pytest.raises(InsufficientBalance):
        parser.feed({"base_resp": {"status_code": 1008, "status_msg": "no money"}})


def test_stream_that_ends_without_a_finish_is_a_protocol_error():
    parser = new_parser(request(), Dialect.V2)
    assert parser.feed(chunk({"content": "cut"})) == [TextDelta("cut")]
    with pytest.raises(ProtocolError):
        parser.end()


def test_pro_partials_then_final_full_object():
    def bot(text: str) -> dict[str, Any]:
        return {"sender_type": "BOT", "sender_name": "MM智能助理", "text": text}

    payloads = [
        {"reply": "", "choices": [{"messages": [bot("I am")]}]},
        {"reply": "", "choices": [{"messages": [bot(" who.")]}]},
        {
            "id": "p1",
            "reply": "I am who.",
            "choices": [{"finish_reason": "stop", "messages": [bot("I am who.")]}],
            "usage": {"total_tokens": 350},
            "input_sensitive": False,
            "output_sensitive": False,
            "base_resp": {"status_code": 0, "status_msg": ""},
        },
    ]
    events = parse(request("abab6.5s-chat"), Dialect.PRO, payloads)
    assert text_of(events) == "I am who."
    assert Usage(total_tokens=350) in events
    assert events[-1] == Finish("stop", "p1", None)


def test_pro_function_call_from_the_final_object():
    message = {
        "sender_type": "BOT",
        "sender_name": "MM助手",
        "text": "",
        "function_call": {"name": "mention_something", "arguments": '{"id":"1"}'},
    }
    body = {
        "reply": "",
        "choices": [{"finish_reason": "stop", "messages": [message]}],
        "usage": {"total_tokens": 474},
        "base_resp": {"status_code": 0, "status_msg": ""},
    }
    events = parse(request("abab6.5s-chat", stream=False), Dialect.PRO, [body])
    assert ToolCallDelta(0, None, "mention_something", '{"id":"1"}') in events
    assert events[-1].reason == "tool_calls"  # as the other dialects say it


# --- requests --------------------------------------------------------------------


def test_v2_body_matches_the_vendor_example():
    seed = seed_json("seed_002_v2_request.json")
    system, user = seed["messages"]
    body = build_body(
        ChatRequest(
            model=seed["model"],
            messages=[
                ChatMessage("system", system["content"], name=system["name"]),
                ChatMessage("user", user["content"], name=user["name"]),
            ],
            stream=False,
            max_tokens=2048,
            temperature=0.1,
            top_p=0.9,
            tool_choice="none",
        ),
        Dialect.V2,
    )
    assert body == seed


def test_chat_body_matches_the_vendor_example():
    seed = seed_json("seed_004_m27_request.json")
    messages = [ChatMessage("system", "", name="MiniMax AI")]
    messages.append(ChatMessage("user", "你好", name="用户"))
    body = build_body(ChatRequest(seed["model"], messages), Dialect.CHAT)
    assert body == {**seed, "stream": True}


def test_chat_history_sends_reasoning_back_inline():
    messages = [
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello!", reasoning="Greet back."),
        ChatMessage("user", "Bye"),
    ]
    body = build_body(ChatRequest("MiniMax-M2.7", messages), Dialect.CHAT)
    assert body["messages"][1]["content"] == "<think>\nGreet back.\n</think>\n\nHello!"


def test_json_schema_becomes_response_format():
    json_schema = seed_json("seed_001_json_schema.json")["json_schema"]
    body = build_body(request("MiniMax-Text-01", json_schema=json_schema), Dialect.V2)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": json_schema,
    }


def test_pro_body_matches_the_vendor_example():
    seed = seed_json("seed_002_pro_request.json")
    bot = seed["bot_setting"][0]
    body = build_body(
        ChatRequest(
            model=seed["model"],
            messages=[
                ChatMessage("system", bot["content"]),
                ChatMessage("user", seed["messages"][0]["text"]),
            ],
            stream=False,
            max_tokens=2048,
            temperature=0.1,
            top_p=0.9,
            user_name="小明",
        ),
        Dialect.PRO,
    )
    seed.pop("plugins")  # we offer no plugins
    assert body == seed


def test_pro_multi_turn_sends_the_reply_back_as_the_bot():
    seed = seed_json("seed_003_pro_quickstart.json")
    bot = BotSetting(**seed["bot_setting"][0])
    messages = [
        ChatMessage("user", "你好"),
        ChatMessage("assistant", "你好！"),
        ChatMessage("user", "再见"),
    ]
    body = build_body(
        request(seed["model"], messages=messages, bot_setting=[bot], user_name="小明"),
        Dialect.PRO,
    )
    assert body["reply_constraints"] == seed["reply_constraints"]
    assert body["bot_setting"] == seed["bot_setting"]
    assert body["messages"] == [
        {"sender_type": "USER", "sender_name": "小明", "text": "你好"},
        {"sender_type": "BOT", "sender_name": "MM智能助理", "text": "你好！"},
        {"sender_type": "USER", "sender_name": "小明", "text": "再见"},
    ]


def test_pro_sample_messages_and_custom_bot_name():
    req = request(
        "abab6.5s-chat",
        bot_setting=[BotSetting("Tutor", "A patient tutor.")],
        sample_messages=[ChatMessage("user", "2+2?"), ChatMessage("assistant", "4")],
    )
    body = build_body(req, Dialect.PRO)
    assert body["reply_constraints"]["sender_name"] == "Tutor"
    assert body["sample_messages"][1] == {
        "sender_type": "BOT",
        "sender_name": "Tutor",
        "text": "4",
    }


@pytest.mark.parametrize(
    ("dialect", "field", "value"),
    [
        (Dialect.CHAT, "max_tokens", 2049),
        (Dialect.CHAT, "max_tokens", 0),
        (Dialect.CHAT, "temperature", 0.0),
        (Dialect.CHAT, "top_p", 1.01),
        (Dialect.V2, "temperature", 1.5),
        (Dialect.PRO, "top_p", 0),
    ],
)
def test_out_of_range_values_are_refused_before_sending(dialect, field, value):
    with pytest.raises(InvalidRequest):
        check_request(request("MiniMax-M2.7", **{field: value}), dialect)


def test_in_range_boundaries_are_accepted():
    req = request("MiniMax-M2.7", max_tokens=2048, temperature=1.0, top_p=1.0)
    check_request(req, Dialect.CHAT)
    check_request(request("MiniMax-M2.7", max_tokens=1, temperature=0.01), Dialect.CHAT)


def test_json_schema_name_and_type_are_checked():
    bad_name = {"name": "has space", "schema": {"type": "object"}}
    with pytest.raises(InvalidRequest):
        check_request(request(json_schema=bad_name), Dialect.V2)
    with pytest.raises(InvalidRequest):
        check_request(
            request(json_schema={"name": "x", "schema": {"type": "array"}}), Dialect.V2
        )
