"""Tool calls: pieces joined in one place, whether they came streamed or whole."""

from __future__ import annotations

import json

import pytest

from conversations.minimax.catalog import Dialect
from conversations.minimax.client import MiniMaxClient
from conversations.minimax.dialects import new_parser
from conversations.minimax.events import ToolCallDelta
from conversations.minimax.simulator import SimulatorTransport
from conversations.minimax.tool_calls import ToolCallAssembler
from conversations.minimax.types import ChatMessage, ChatRequest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def assemble(*deltas: ToolCallDelta) -> list | None:
    calls = ToolCallAssembler()
    for delta in deltas:
        calls.add(delta)
    return calls.calls()


def test_pieces_of_one_index_make_one_call():
    assert assemble(
        ToolCallDelta(0, "call_1", "get_weather", '{"city": '),
        ToolCallDelta(0, None, None, '"Paris"}'),
    ) == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]


def test_calls_come_out_in_index_order():
    calls = assemble(
        ToolCallDelta(1, "call_b", "b", "{}"),
        ToolCallDelta(0, "call_a", "a", "{"),
        ToolCallDelta(0, "", "", "}"),  # a continuation that repeats nothing
    )
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("call_a", "a"),
        ("call_b", "b"),
    ]
    assert calls[0]["function"]["arguments"] == "{}"


def test_no_pieces_no_calls():
    assert assemble() is None


def parse_calls(dialect: Dialect, *payloads: dict) -> list | None:
    parser = new_parser(ChatRequest("abab6.5s-chat", []), dialect)
    deltas = [e for p in payloads for e in parser.feed(p)]
    return assemble(*(e for e in deltas if isinstance(e, ToolCallDelta)))


def chunk(tool_calls: list) -> dict:
    return {
        "choices": [{"index": 0, "delta": {"content": "", "tool_calls": tool_calls}}]
    }


def final(tool_calls: list) -> dict:
    message = {"content": "", "role": "assistant", "tool_calls": tool_calls}
    return {
        "object": "chat.completion",
        "choices": [{"finish_reason": "tool_calls", "index": 0, "message": message}],
    }


WHOLE = {
    "id": "call_function_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    "index": 0,
}


def test_a_final_copy_does_not_double_a_streamed_call():
    first = {**WHOLE, "function": {"name": "get_weather", "arguments": '{"city": '}}
    rest = {"index": 0, "id": "", "function": {"arguments": '"Paris"}'}}
    [call] = parse_calls(Dialect.V2, chunk([first]), chunk([rest]), final([WHOLE]))
    assert call["function"]["arguments"] == '{"city": "Paris"}'


def test_a_final_copy_completes_a_call_the_stream_cut_short():
    first = {**WHOLE, "function": {"name": "get_weather", "arguments": '{"ci'}}
    [call] = parse_calls(Dialect.V2, chunk([first]), final([WHOLE]))
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_a_plain_body_gives_whole_calls():
    second = {**WHOLE, "id": "call_function_2", "index": 1}
    calls = parse_calls(Dialect.CHAT, final([WHOLE, second]))
    assert [c["id"] for c in calls] == ["call_function_1", "call_function_2"]


def test_pro_function_call_from_the_final_event():
    function_call = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    message = {"sender_type": "BOT", "sender_name": "MM智能助理", "text": ""}
    payload = {
        "reply": "",
        "choices": [
            {
                "finish_reason": "stop",
                "messages": [{**message, "function_call": function_call}],
            }
        ],
        "usage": {"total_tokens": 474},
        "function_call": function_call,  # mirrored at the top level
    }
    [call] = parse_calls(Dialect.PRO, payload)
    assert call["function"] == function_call


@pytest.fixture
async def client():
    client = MiniMaxClient(
        api_key="sk-test-tools",
        base_url="http://simulator",
        transport=SimulatorTransport(chunk_delay=0),
        max_retries=0,
    )
    yield client
    await client.aclose()


@pytest.mark.parametrize(
    ("model", "dialect"),
    [
        ("abab6.5s-chat", Dialect.V2),
        ("MiniMax-M2.7", Dialect.CHAT),
        ("abab6.5s-chat", Dialect.PRO),
    ],
)
async def test_streamed_and_whole_replies_give_the_same_call(client, model, dialect):
    def ask(stream: bool) -> ChatRequest:
        message = ChatMessage("user", "Weather in Paris? [sim:tool]")
        return ChatRequest(
            model, [message], dialect=dialect, stream=stream, tools=[WEATHER]
        )

    streamed = await client.complete(ask(True))
    whole = await client.complete(ask(False))
    assert streamed.finish_reason == whole.finish_reason == "tool_calls"
    assert streamed.tool_calls == whole.tool_calls
    [call] = streamed.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert "city" in json.loads(call["function"]["arguments"])


def test_a_final_copy_is_matched_by_id_not_by_place():
    first = {**WHOLE, "id": "call_b", "index": 1}
    streamed = {**first, "function": {"name": "lookup", "arguments": '{"q": 1}'}}
    other = {**WHOLE, "id": "call_a", "index": 0}
    calls = parse_calls(Dialect.V2, chunk([streamed]), final([other, streamed]))
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("call_b", "lookup"),
        ("call_a", "get_weather"),
    ]
    assert calls[0]["function"]["arguments"] == '{"q": 1}'
