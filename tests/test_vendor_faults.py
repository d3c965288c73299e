"""Faults, bad input and attacks from the upstream side: odd values in any field,
hostile sizes, a key echoed in any form, text that legitimately repeats.

Mock transports where one exact wire shape is the point, the simulator over real
HTTP for the trigger phrases the site's suite relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.minimax.catalog import Dialect
from conversations.minimax.client import MiniMaxClient
from conversations.minimax.errors import MiniMaxError, ProtocolError
from conversations.minimax.events import (
    Finish,
    ReasoningDelta,
    Sensitivity,
    StreamError,
    TextDelta,
    TextToReasoning,
    ToolCallDelta,
    Usage,
)
from conversations.minimax.types import (
    ChatMessage,
    ChatRequest,
    SpeechRequest,
    VoiceWeight,
)

API_KEY = "sk-canary-Qx7pLm2Rv9Tz4Wb8"
CHATS = [
    ("abab6.5s-chat", Dialect.V2),
    ("MiniMax-M1", Dialect.V2),
    ("MiniMax-M2.7", Dialect.CHAT),
    ("abab6.5s-chat", Dialect.PRO),
]
EVENT_TYPES = (
    TextDelta,
    ReasoningDelta,
    TextToReasoning,
    ToolCallDelta,
    Usage,
    Sensitivity,
    Finish,
    StreamError,
)


def chat(prompt: str, model: str = "abab6.5s-chat", **kwargs: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[ChatMessage("user", prompt)], **kwargs)


def make(transport: httpx.AsyncBaseTransport, **kwargs: Any) -> MiniMaxClient:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("max_retries", 0)
    return MiniMaxClient(base_url="http://upstream", transport=transport, **kwargs)


async def collect(client: MiniMaxClient, request: ChatRequest) -> list:
    try:
        async with aclosing(client.stream(request)) as events:
            return [event async for event in events]
    finally:
        await client.aclose()


def sse_body(*payloads: Any) -> bytes:
    return b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)


def sse_transport(*payloads: Any) -> httpx.MockTransport:
    body = sse_body(*payloads)
    return httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=body
        )
    )


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def last_error(events: list) -> MiniMaxError:
    assert isinstance(events[-1], StreamError), events[-1]
    return events[-1].error


def v2_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": {"content": text}}
    if finish:
        choice["finish_reason"] = finish
    return {"id": "a" * 32, "object": "chat.completion.chunk", "choices": [choice]}


def v2_final(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "a" * 32,
        "object": "chat.completion",
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {"total_tokens": 9, "prompt_tokens": 4, "completion_tokens": 5},
        "base_resp": {"status_code": 0, "status_msg": ""},
        **fields,
    }


# --- 2. odd numbers from upstream ------------------------------------------------


ODD_COUNTS = [-1, 2**70, "lots", 3.5, True, None, [], {"n": 1}, float("nan")]


@pytest.mark.parametrize("odd", ODD_COUNTS, ids=repr)
async def test_odd_usage_counts_become_none_and_the_reply_finishes(odd):
    final = v2_final("Hello there.")
    final["usage"] = {
        "prompt_tokens": odd,
        "completion_tokens": 5,
        "total_tokens": odd,
        "completion_tokens_details": {"reasoning_tokens": odd},
    }
    events = await collect(
        make(sse_transport(v2_chunk("Hello there.", "stop"), final)), chat("Hi")
    )
    assert text_of(events) == "Hello there."
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage == Usage(None, 5, None, None)


@pytest.mark.parametrize(
    ("flag", "kind", "expected"),
    [
        (True, -3, 7),
        (True, 99, 7),
        (True, "3", 7),
        (True, 2.0, 7),
        (True, 3, 3),
        ("true", 4, 4),
        (1, None, 7),
        (False, -3, 0),
        ("false", 99, 0),
        (None, 5, 5),
    ],
)
async def test_sensitive_types_are_in_range_and_flags_are_booleans(
    flag, kind, expected
):
    final = v2_final("ok", output_sensitive=flag, output_sensitive_type=kind)
    events = await collect(
        make(sse_transport(v2_chunk("ok", "stop"), final)), chat("Hi")
    )
    assert isinstance(events[-1], Finish)
    verdict = next(e for e in events if isinstance(e, Sensitivity))
    assert verdict.output_type == expected
    assert isinstance(verdict.output_sensitive, bool)
    assert verdict.output_sensitive is (flag in (True, "true", 1))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 12345),
        ("id", "x" * 10_000),
        ("id", {"a": 1}),
        ("model", ["MiniMax"]),
        ("model", "m" * 10_000),
    ],
    ids=["int", "long", "dict", "list", "long-model"],
)
async def test_ids_that_are_not_short_strings_are_coerced_or_dropped(field, value):
    final = v2_final("ok")
    final[field] = value
    events = await collect(
        make(sse_transport(v2_chunk("ok", "stop"), final)), chat("Hi")
    )
    finish = events[-1]
    assert isinstance(finish, Finish)
    for got in (finish.response_id, finish.model):
        assert got is None or (isinstance(got, str) and len(got) <= 128)


@pytest.mark.parametrize(
    "reason", [7, ["stop"], "s" * 5000, True], ids=["int", "list", "long", "bool"]
)
async def test_a_finish_reason_that_is_not_a_short_string(reason):
    final = v2_final("ok")
    final["choices"][0]["finish_reason"] = reason
    events = await collect(make(sse_transport(v2_chunk("ok"), final)), chat("Hi"))
    assert text_of(events) == "ok"
    end = events[-1]
    assert isinstance(end, Finish | StreamError)
    if isinstance(end, Finish):
        assert isinstance(end.reason, str) and 0 < len(end.reason) <= 32


@pytest.mark.parametrize(
    "payload",
    [
        {"choices": "nope"},
        {"choices": {"0": {}}},
        {"choices": [7]},
        {"choices": [{"delta": "text"}]},
        {"choices": [{"delta": {"content": {"text": "x"}}}]},
        {"choices": [{"delta": {"content": 5}}]},
        {"choices": [{"message": ["x"]}]},
        {"choices": [{"delta": {"tool_calls": "call"}}]},
        {"choices": [{"delta": {"tool_calls": [{"function": "f"}]}}]},
    ],
    ids=json.dumps,
)
async def test_wrong_shapes_are_a_protocol_error_after_the_text_so_far(payload):
    events = await collect(make(sse_transport(v2_chunk("So far"), payload)), chat("Hi"))
    assert text_of(events) == "So far"
    assert isinstance(last_error(events), ProtocolError)


@pytest.mark.parametrize(
    "code", ["1002", "sk-canary-Qx7pLm2Rv9Tz4Wb8", 2**70, -5, 1.5, [1], True]
)
@pytest.mark.parametrize("status", [200, 400])
async def test_a_status_code_that_is_not_a_number_is_typed_and_hides_the_key(
    code, status, caplog
):
    body = {"base_resp": {"status_code": code, "status_msg": f"bad key {API_KEY}"}}
    transport = httpx.MockTransport(lambda r: httpx.Response(status, json=body))
    with caplog.at_level(logging.DEBUG):
        events = await collect(make(transport), chat("Hi"))
    error = last_error(events)
    assert isinstance(error.code, int | None)
    assert error.code is None or 0 < error.code < 2**31
    assert API_KEY not in str(error) + repr(error) + error.detail + caplog.text


@pytest.mark.parametrize(
    "final",
    [
        {"reply": 5, "choices": [{"finish_reason": "stop"}], "usage": {"x": 1}},
        {"reply": "whole", "choices": "x", "usage": {"total_tokens": -1}},
        {"reply": "So far!", "choices": [{"messages": 3, "finish_reason": "stop"}]},
        {"reply": None, "choices": [{"messages": [[]], "finish_reason": 9}]},
        {
            "reply": "",
            "choices": [{"finish_reason": "stop"}],
            "function_call": {"name": 5, "arguments": {"a": 1}},
            "usage": {"total_tokens": 3},
        },
    ],
    ids=json.dumps,
)
async def test_pro_odd_final_events_end_typed(final):
    partial = {"reply": "", "choices": [{"messages": [{"text": "So far"}]}]}
    request = chat("Hi", dialect=Dialect.PRO)
    events = await collect(make(sse_transport(partial, final)), request)
    assert text_of(events).startswith("So far")
    assert_typed(events)


# --- property: any JSON in any field of any dialect's chunk ------------------------


def assert_typed(events: list) -> None:
    """Only typed events with in-range fields, ending in one Finish or StreamError."""
    assert events, "a reply always ends with an event"
    ends = [e for e in events if isinstance(e, Finish | StreamError)]
    assert len(ends) == 1 and events[-1] is ends[0], events
    for event in events:
        assert isinstance(event, EVENT_TYPES), event
        match event:
            case TextDelta(text=text) | ReasoningDelta(text=text):
                assert isinstance(text, str)
            case ToolCallDelta():
                assert isinstance(event.index, int) and 0 <= event.index < 2**31
                assert event.id is None or isinstance(event.id, str)
                assert event.name is None or isinstance(event.name, str)
                assert isinstance(event.arguments, str)
            case Usage():
                for count in (
                    event.prompt_tokens,
                    event.completion_tokens,
                    event.total_tokens,
                    event.reasoning_tokens,
                ):
                    assert count is None or (
                        type(count) is int and 0 <= count < 2**31
                    ), event
            case Sensitivity():
                assert type(event.input_sensitive) is bool
                assert type(event.output_sensitive) is bool
                assert type(event.input_type) is int and 0 <= event.input_type <= 7
                assert type(event.output_type) is int and 0 <= event.output_type <= 7
            case Finish():
                assert isinstance(event.reason, str) and 0 < len(event.reason) <= 32
                for value in (event.response_id, event.model):
                    assert value is None or (
                        isinstance(value, str) and len(value) <= 128
                    )
            case StreamError(error=error):
                assert isinstance(error, MiniMaxError)
                assert error.code is None or (
                    type(error.code) is int and 0 < error.code < 2**31
                )
                assert isinstance(error.message, str)
                assert isinstance(error.detail, str)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def v2_chunks() -> list[dict[str, Any]]:
    tool = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{}"}}
    delta = {
        "content": "Hi",
        "reasoning_content": "hm",
        "role": "assistant",
        "reasoning_details": [{"text": "hm"}],
        "tool_calls": [tool],
    }
    chunk = {
        "id": "a" * 32,
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta}],
        "usage": {"total_tokens": 0},
        "input_sensitive": False,
        "input_sensitive_type": 0,
        "output_sensitive": False,
        "output_sensitive_type": 0,
    }
    final = v2_final("Hi", model="m")
    final["choices"][0]["message"]["tool_calls"] = [tool]
    final["usage"]["completion_tokens_details"] = {"reasoning_tokens": 1}
    return [chunk, final]


def pro_chunks() -> list[dict[str, Any]]:
    message = {"sender_type": "BOT", "sender_name": "B", "text": "Hi"}
    partial = {"reply": "", "choices": [{"messages": [message]}]}
    final = {
        "id": "b" * 32,
        "model": "abab6.5s-chat",
        "reply": "Hi",
        "choices": [{"finish_reason": "stop", "messages": [message]}],
        "function_call": {"name": "f", "arguments": "{}"},
        "usage": {"total_tokens": 3},
        "input_sensitive": False,
        "output_sensitive": False,
        "base_resp": {"status_code": 0, "status_msg": ""},
    }
    return [partial, final]


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Return the path of every field (dict key or list item) inside `value`."""
    paths = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        paths.append((*prefix, key))
        if isinstance(item, dict | list):
            paths += paths_of(item, (*prefix, key))
    return paths


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new  # the whole event
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


DIALECT_CHUNKS = {
    ("MiniMax-M1", Dialect.V2): v2_chunks(),
    ("MiniMax-M2.7", Dialect.CHAT): v2_chunks(),
    ("abab6.5s-chat", Dialect.PRO): pro_chunks(),
}
FIELD_CASES = [
    (chat_key, event_index, path)
    for chat_key, chunks in DIALECT_CHUNKS.items()
    for event_index, chunk in enumerate(chunks)
    for path in [(), *paths_of(chunk)]
]


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    case=st.sampled_from(FIELD_CASES),
    value=json_values,
    streamed=st.booleans(),
)
def test_any_json_in_any_field_of_any_dialect_ends_typed(case, value, streamed):
    (model, dialect), event_index, path = case
    chunks = DIALECT_CHUNKS[(model, dialect)]
    chunks = [
        replaced(chunk, path, value) if index == event_index else chunk
        for index, chunk in enumerate(chunks)
    ]
    if streamed:
        transport = sse_transport(*chunks)
    else:
        body = json.dumps(chunks[-1]).encode()
        transport = httpx.MockTransport(
            lambda request: httpx.Response(200, content=body)
        )
    request = chat("Hi", model, dialect=dialect, stream=streamed)
    events = asyncio.run(collect(make(transport), request))
    assert_typed(events)


# --- 9. hostile sizes ----------------------------------------------------------------


class CountingStream(httpx.AsyncByteStream):
    """Sends `head`, then `total` bytes of one endless line, counting what was read."""

    def __init__(self, head: bytes, total: int, piece: int = 64 * 1024) -> None:
        self.head, self.total, self.piece = head, total, piece
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        while self.sent < self.total:
            self.sent += self.piece
            yield b"x" * self.piece


def counting_transport(
    stream: CountingStream, content_type: str
) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"content-type": content_type}, stream=stream
        )
    )


async def test_a_40_mb_line_fails_the_reply_after_one_mib_with_the_text_so_far():
    head = sse_body(v2_chunk("So far")) + b'data: {"choices": [{"delta": "'
    stream = CountingStream(head, 40 * 2**20)
    events = await collect(
        make(counting_transport(stream, "text/event-stream")), chat("Hi")
    )
    assert text_of(events) == "So far"
    error = last_error(events)
    assert isinstance(error, ProtocolError) and "line longer than 1 MiB" in str(error)
    assert stream.sent < 2 * 2**20  # it stopped reading at the limit


async def test_a_huge_line_does_not_slow_another_reply():
    head = sse_body(v2_chunk("So far")) + b"data: "
    hostile = make(
        counting_transport(CountingStream(head, 40 * 2**20, 4096), "text/event-stream")
    )
    pieces = [v2_chunk(f"piece {n} ") for n in range(200)]
    honest = make(sse_transport(*pieces, v2_chunk("end", "stop")))
    started = asyncio.get_running_loop().time()
    bad, good = await asyncio.gather(
        collect(hostile, chat("Hi")), collect(honest, chat("Hi"))
    )
    assert isinstance(bad[-1], StreamError) and isinstance(good[-1], Finish)
    assert asyncio.get_running_loop().time() - started < 2.0


async def test_a_final_copy_too_long_to_read_after_the_finish_chunk_is_not_needed():
    text = "All of it. " * 200_000  # 2.2 MB: its final whole copy is one huge line
    pieces = [v2_chunk(text[i : i + 8192]) for i in range(0, len(text), 8192)]
    pieces[-1]["choices"][0]["finish_reason"] = "stop"
    events = await collect(make(sse_transport(*pieces, v2_final(text))), chat("Hi"))
    assert text_of(events) == text
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"


async def test_a_body_larger_than_the_limit_is_a_protocol_error(monkeypatch):
    monkeypatch.setattr("conversations.minimax.client.MAX_CHAT_BODY_BYTES", 2**20)
    stream = CountingStream(b'{"choices": [{"message": {"content": "', 40 * 2**20)
    request = chat("Hi", stream=False)
    events = await collect(
        make(counting_transport(stream, "application/json")), request
    )
    error = last_error(events)
    assert isinstance(error, ProtocolError) and "body larger than 1 MiB" in str(error)
    assert stream.sent < 2 * 2**20


async def test_a_declared_body_larger_than_the_limit_is_not_read(monkeypatch):
    monkeypatch.setattr("conversations.minimax.client.MAX_CHAT_BODY_BYTES", 1000)
    body = json.dumps(v2_final("x" * 2000)).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    events = await collect(make(transport), chat("Hi", stream=False))
    assert "body larger than" in str(last_error(events))


async def test_a_huge_html_error_page_is_read_only_as_far_as_needed():
    stream = CountingStream(b"<html><title>502 Bad Gateway</title>", 40 * 2**20)
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            502, headers={"content-type": "text/html"}, stream=stream
        )
    )
    events = await collect(make(transport), chat("Hi"))
    error = last_error(events)
    assert error.kind == "server" and error.http_status == 502
    assert "<html" not in str(error) + error.detail
    assert stream.sent < 2**20


# --- the trigger phrases, over real HTTP against the simulator ----------------------


REPEATED = "Again and again, the same words. "


def over_http(simulator_url: str, **kwargs: Any) -> MiniMaxClient:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("max_retries", 0)
    client = MiniMaxClient(base_url=simulator_url, **kwargs)
    client.backoff_base = 0.01
    return client


def reasoning_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def assert_no_key(events: list, caplog: pytest.LogCaptureFixture) -> None:
    seen = " ".join(repr(e) for e in events) + caplog.text
    if isinstance(events[-1], StreamError):
        error = events[-1].error
        seen += f" {error} {error!r} {error.detail} {error.trace_id}"
    assert API_KEY not in seen and API_KEY[:8] not in seen


@pytest.mark.parametrize(("model", "dialect"), CHATS)
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
async def test_sim_odd_numbers_end_complete_with_sane_values(
    simulator_url, model, dialect, streamed, caplog
):
    ask = lambda prompt: chat(prompt, model, dialect=dialect, stream=streamed)  # noqa: E731
    with caplog.at_level(logging.DEBUG):
        plain = await collect(over_http(simulator_url), ask("Hi"))
        odd = await collect(over_http(simulator_url), ask("Hi [sim:odd-numbers]"))
    assert_typed(odd)
    assert text_of(odd) == text_of(plain) and text_of(odd)
    assert isinstance(odd[-1], Finish) and odd[-1].reason == "stop"
    assert not [e for e in odd if isinstance(e, Usage)]  # every count was nonsense
    verdict = next(e for e in odd if isinstance(e, Sensitivity))
    assert (verdict.output_sensitive, verdict.output_type) == (True, 7)
    assert (verdict.input_sensitive, verdict.input_type) == (False, 0)
    assert_no_key(odd, caplog)


@pytest.mark.parametrize(("model", "dialect"), CHATS)
async def test_sim_huge_line_fails_with_the_text_so_far(
    simulator_url, model, dialect, caplog
):
    started = asyncio.get_running_loop().time()
    with caplog.at_level(logging.DEBUG):
        events = await collect(
            over_http(simulator_url), chat("Hi [sim:huge-line]", model, dialect=dialect)
        )
    error = last_error(events)
    assert isinstance(error, ProtocolError) and "line longer than 1 MiB" in str(error)
    assert text_of(events) + reasoning_of(events)  # the three events before it
    assert asyncio.get_running_loop().time() - started < 5
    assert_no_key(events, caplog)


async def test_sim_huge_body_is_refused_unread(simulator_url, caplog):
    with caplog.at_level(logging.DEBUG):
        events = await collect(
            over_http(simulator_url), chat("Hi [sim:huge-line]", stream=False)
        )
    error = last_error(events)
    assert isinstance(error, ProtocolError) and "body larger than 16 MiB" in str(error)
    assert_no_key(events, caplog)


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize(("model", "dialect"), CHATS)
async def test_sim_html_error_pages_are_typed_server_errors(
    simulator_url, model, dialect, status, caplog
):
    client = over_http(simulator_url, max_retries=1)
    with caplog.at_level(logging.DEBUG):
        events = await collect(
            client, chat(f"Hi [sim:http={status}]", model, dialect=dialect)
        )
    error = last_error(events)
    assert error.kind == "server" and error.http_status == status
    assert "<" not in str(error) + error.detail  # no HTML reaches the page
    assert text_of(events) == ""
    assert "retry 1/1" in caplog.text  # a 5xx before the first token is retried
    assert_no_key(events, caplog)


@pytest.mark.parametrize(("model", "dialect"), CHATS)
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
async def test_sim_repeat_keeps_every_repeated_piece(
    simulator_url, model, dialect, streamed
):
    request = chat("Hi [sim:repeat]", model, dialect=dialect, stream=streamed)
    events = await collect(over_http(simulator_url), request)
    assert text_of(events) == REPEATED * 16
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"
    if streamed:  # shown as it came: every piece, none saved up for the final copy
        deltas = [e.text for e in events if isinstance(e, TextDelta)]
        assert deltas == [REPEATED] * 16


# --- M2 without a <think> opener: shown as it comes, moved when </think> turns up ---


def chat_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return v2_chunk(text, finish) | {"object": "chat.completion.chunk"}


async def test_m2_text_without_an_opener_is_not_held_back_then_moves_to_reasoning():
    pieces = ["I should ", "greet.", "\n</think>\n\n", "Hello", "!"]
    chunks = [chat_chunk(p) for p in pieces]
    chunks[-1]["choices"][0]["finish_reason"] = "stop"
    events = await collect(make(sse_transport(*chunks)), chat("Hi", "MiniMax-M2.7"))
    kinds = [type(e).__name__ for e in events if not isinstance(e, Sensitivity)]
    assert kinds == [
        "TextDelta",  # the first token is the first piece, not the whole reply
        "TextDelta",
        "TextToReasoning",
        "TextDelta",
        "TextDelta",
        "Finish",
    ]
    assert text_of(events[:2]) == "I should greet."


async def test_complete_applies_the_move():
    pieces = ["I should ", "greet.", "\n</think>\n\n", "Hello!"]
    chunks = [chat_chunk(p) for p in pieces]
    chunks[-1]["choices"][0]["finish_reason"] = "stop"
    client = make(sse_transport(*chunks))
    try:
        result = await client.complete(chat("Hi", "MiniMax-M2.7"))
    finally:
        await client.aclose()
    assert (result.reasoning, result.text) == ("I should greet.", "Hello!")


async def test_v2_text_with_a_stray_closing_tag_is_left_alone():
    chunks = [chat_chunk("Plain </think>"), chat_chunk("answer.", "stop")]
    events = await collect(make(sse_transport(*chunks)), chat("Hi", "abab6.5s-chat"))
    assert not [e for e in events if isinstance(e, TextToReasoning)]
    assert text_of(events) == "Plain </think>answer."


# --- speech: only MiniMaxErrors leave the client -----------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"data": [1], "base_resp": {"status_code": 0}},
        {"data": {"audio": 7}, "trace_id": {"x": 1}},
        {"base_resp": {"status_code": API_KEY, "status_msg": API_KEY}},
        {"trace_id": ["t"], "base_resp": {"status_code": 1004, "status_msg": "no"}},
    ],
    ids=["data-list", "audio-int", "key-as-code", "trace-id-list"],
)
async def test_odd_speech_answers_are_typed_errors_without_the_key(body, caplog):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = make(transport)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(MiniMaxError) as raised:
            await client.speak(SpeechRequest("Hi", [VoiceWeight("female-shaonv")]))
    finally:
        await client.aclose()
    error = raised.value
    assert error.trace_id is None or isinstance(error.trace_id, str)
    seen = f"{error} {error!r} {error.detail} {error.trace_id} {caplog.text}"
    assert API_KEY not in seen and API_KEY[:8] not in seen
