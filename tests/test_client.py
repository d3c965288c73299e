"""The MiniMax client over real HTTP against the simulator, and over mock transports
where a test must count requests or watch a response being closed."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from django.utils import translation

from conversations.minimax.catalog import Dialect
from conversations.minimax.client import MiniMaxClient, Timeouts
from conversations.minimax.errors import (
    ERRORS_BY_CODE,
    AuthenticationFailed,
    InsufficientBalance,
    InvalidRequest,
    MiniMaxError,
    ProtocolError,
    RateLimited,
    ServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from conversations.minimax.events import (
    Finish,
    StreamError,
    TextDelta,
)
from conversations.minimax.types import (
    ChatMessage,
    ChatRequest,
    SpeechRequest,
    VoiceWeight,
)

API_KEY = "sk-test-0123456789abcdef"
# (model, dialect) pairs the site offers, one per wire format and reasoning style.
CHATS = [
    ("abab6.5s-chat", Dialect.V2),
    ("MiniMax-M1", Dialect.V2),
    ("MiniMax-M2.7", Dialect.CHAT),
    ("abab6.5s-chat", Dialect.PRO),
]


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., MiniMaxClient]]:
    """Return a factory of clients (fast retries) that are all closed after the test."""
    clients: list[MiniMaxClient] = []

    def make(**kwargs: Any) -> MiniMaxClient:
        kwargs.setdefault("api_key", API_KEY)
        client = MiniMaxClient(**kwargs)
        client.backoff_base = 0.01
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def sim_client(simulator_url, make_client) -> Callable[..., MiniMaxClient]:
    def make(**kwargs: Any) -> MiniMaxClient:
        return make_client(base_url=simulator_url, **kwargs)

    return make


def chat(prompt: str, model: str = "abab6.5s-chat", **kwargs: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[ChatMessage("user", prompt)], **kwargs)


async def collect(client: MiniMaxClient, request: ChatRequest) -> list:
    async with aclosing(client.stream(request)) as events:
        return [event async for event in events]


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def error_of(events: list) -> MiniMaxError:
    assert isinstance(events[-1], StreamError), events[-1]
    return events[-1].error


# --- every dialect, over HTTP ----------------------------------------------------


@pytest.mark.parametrize(("model", "dialect"), CHATS)
async def test_every_dialect_streamed_and_whole_give_the_same_reply(
    sim_client, model, dialect
):
    client = sim_client()
    question = "How do I read a file in Python?"
    streamed = await client.complete(chat(question, model, dialect=dialect))
    whole = await client.complete(chat(question, model, dialect=dialect, stream=False))
    assert question in streamed.text
    assert streamed.text == whole.text  # the final repeated message is not appended
    assert streamed.reasoning == whole.reasoning
    assert streamed.finish_reason == whole.finish_reason == "stop"
    assert streamed.usage is not None and streamed.usage.total_tokens > 0
    assert streamed.response_id


@pytest.mark.parametrize(("model", "dialect"), CHATS)
async def test_reasoning_models_keep_reasoning_out_of_the_answer(
    sim_client, model, dialect
):
    result = await sim_client().complete(chat("Why is the sky blue?", model))
    if model in ("MiniMax-M1", "MiniMax-M2.7"):
        assert result.reasoning
    else:
        assert not result.reasoning
    assert "<think>" not in result.text and "</think>" not in result.text


async def test_stream_yields_many_deltas_then_finish(sim_client):
    events = await collect(sim_client(), chat("Tell me about tea."))
    assert sum(isinstance(e, TextDelta) for e in events) > 3
    assert isinstance(events[-1], Finish)


async def test_pro_reply_uses_the_bot_name(sim_client):
    request = chat("Who are you?", dialect=Dialect.PRO)
    assert "MM智能助理" in (await sim_client().complete(request)).text


async def test_finish_reason_length(sim_client):
    result = await sim_client().complete(chat("Go on [sim:length]"))
    assert result.finish_reason == "length"


async def test_done_sentinel_after_the_final_event_is_harmless(sim_client):
    result = await sim_client().complete(chat("Hi [sim:done]"))
    assert result.finish_reason == "stop" and result.text


@pytest.mark.parametrize(("model", "dialect"), CHATS)
async def test_tool_call_is_assembled(sim_client, model, dialect):
    tool = {
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
    request = chat("Weather in Paris? [sim:tool]", model, dialect=dialect, tools=[tool])
    result = await sim_client().complete(request)
    assert result.finish_reason == "tool_calls"
    [call] = result.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"]), dict)


@pytest.mark.parametrize("flag", ["flag-input", "flag-output"])
async def test_sensitivity_flags_reach_the_result(sim_client, flag):
    result = await sim_client().complete(chat(f"Hello [sim:{flag}]"))
    assert result.text
    assert result.sensitivity is not None
    if flag == "flag-input":
        assert (result.sensitivity.input_sensitive, result.sensitivity.input_type) == (
            True,
            7,
        )
    else:
        assert result.sensitivity.output_sensitive
        assert result.sensitivity.output_type == 3


async def test_json_schema_reply_is_json(sim_client):
    schema = {
        "name": "city",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    }
    request = chat("A city please", "MiniMax-Text-01", json_schema=schema)
    result = await sim_client().complete(request)
    assert "name" in json.loads(result.text)


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
@pytest.mark.parametrize(("model", "dialect"), CHATS[1:])
async def test_every_error_code_maps_to_its_typed_error(
    sim_client, code, model, dialect
):
    client = sim_client(max_retries=0)
    events = await collect(client, chat(f"Hi [sim:error={code}]", model))
    error = error_of(events)
    assert type(error) is ERRORS_BY_CODE[code]
    assert error.code == code
    assert not any(isinstance(e, TextDelta) for e in events)


@pytest.mark.parametrize(("model", "dialect"), CHATS[1:])
async def test_errors_keep_minimax_own_words_untranslated(sim_client, model, dialect):
    """The package does not translate: the app heads the detail with its kind."""
    client = sim_client(max_retries=0)
    with translation.override("zh-hans"):
        events = await collect(client, chat("Hi [sim:error=1008]", model))
    error = error_of(events)
    assert (error.kind, error.code) == ("balance", 1008)
    assert error.detail == "insufficient balance"  # MiniMax's status_msg
    assert error.message == InsufficientBalance.default_message


async def test_an_echoed_key_is_masked_in_the_detail_too(make_client):
    def answer(request: httpx.Request) -> httpx.Response:
        status_msg = f"invalid params, key {API_KEY} is not allowed here"
        return httpx.Response(
            200, json={"base_resp": {"status_code": 2013, "status_msg": status_msg}}
        )

    client = make_client(
        base_url="http://x", transport=httpx.MockTransport(answer), max_retries=0
    )
    error = error_of(await collect(client, chat("Hi")))
    assert API_KEY not in error.detail and API_KEY not in error.message
    assert error.detail == "invalid params, key *** is not allowed here"


async def test_out_of_range_request_is_refused_before_sending(make_client):
    sent = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    client = make_client(base_url="https://api.minimax.io", transport=transport)
    request = chat("Hi", "MiniMax-M2.7", max_tokens=4096)
    assert isinstance(error_of(await collect(client, request)), InvalidRequest)
    assert sent == []


async def test_bad_key_is_an_auth_error_without_the_key(sim_client):
    key = "sk-this-key-is-invalid-42"
    client = sim_client(api_key=key)
    for model, dialect in CHATS:
        events = await collect(client, chat("Hi", model, dialect=dialect))
        error = error_of(events)
        assert isinstance(error, AuthenticationFailed)
        assert error.code == 2049
        assert key not in str(error) and key not in repr(error)
    assert key not in repr(client)
    with pytest.raises(AuthenticationFailed) as raised:
        await client.speak(SpeechRequest("Hi", [VoiceWeight("female-shaonv")]))
    assert key not in str(raised.value)


async def test_closed_port_is_unreachable(make_client, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends
    client = make_client(base_url=f"http://127.0.0.1:{port}", max_retries=1)
    with caplog.at_level(logging.DEBUG):
        error = error_of(await collect(client, chat("Hi")))
    assert isinstance(error, UpstreamUnreachable)
    assert "retry 1/1" in caplog.text  # retried once, as asked
    assert API_KEY not in caplog.text


async def test_connect_timeout_says_so(make_client):
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    transport = httpx.MockTransport(answer)
    client = make_client(
        base_url="http://x",
        transport=transport,
        timeouts=Timeouts(connect=2.5),
        max_retries=0,
    )
    error = error_of(await collect(client, chat("Hi")))
    assert isinstance(error, UpstreamTimeout)
    assert "connect timeout" in str(error) and "2.5 s" in str(error)


async def test_first_token_timeout(sim_client):
    client = sim_client(timeouts=Timeouts(first_token=0.3), max_retries=0)
    started = asyncio.get_running_loop().time()
    error = error_of(await collect(client, chat("Hi [sim:stall-first]")))
    assert isinstance(error, UpstreamTimeout)
    assert "first-token" in str(error)
    assert asyncio.get_running_loop().time() - started < 5


async def test_idle_timeout_keeps_the_text_so_far(sim_client):
    client = sim_client(timeouts=Timeouts(idle=0.3))
    events = await collect(client, chat("Hi [sim:stall-mid]"))
    error = error_of(events)
    assert isinstance(error, UpstreamTimeout)
    assert "idle" in str(error)
    assert text_of(events)  # what came before the stall is kept, not retried


async def test_dropped_connection_keeps_the_text_so_far(sim_client):
    events = await collect(sim_client(), chat("Hi [sim:drop]"))
    assert isinstance(error_of(events), UpstreamUnreachable | ProtocolError)
    assert text_of(events)


async def test_malformed_line_is_a_protocol_error(sim_client):
    events = await collect(sim_client(), chat("Hi [sim:malformed]"))
    assert isinstance(error_of(events), ProtocolError)
    assert text_of(events)


# --- retries, streams closing, headers (mock transports) --------------------------


def sse_response(*payloads: dict, status: int = 200) -> httpx.Response:
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    return httpx.Response(
        status, headers={"content-type": "text/event-stream"}, content=body
    )


# A v2 stream's last event: the whole reply, "Hi", as a non-streamed body.
FINAL_HI = {
    "id": "x",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi"},
        }
    ],
}


def delta(text: str, finish: str | None = None) -> dict:
    choice: dict[str, Any] = {"index": 0, "delta": {"content": text}}
    if finish:
        choice["finish_reason"] = finish
    return {"id": "x", "object": "chat.completion.chunk", "choices": [choice]}


def error_body(code: int) -> httpx.Response:
    return httpx.Response(200, json={"base_resp": {"status_code": code}})


class Counting:
    """A MockTransport handler that answers from a list and counts requests."""

    def __init__(self, *answers: Callable[[], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer()


def refuse_connection() -> httpx.Response:
    raise httpx.ConnectError("connection refused")


async def test_retryable_errors_are_retried_before_the_first_token(make_client):
    handler = Counting(
        lambda: error_body(1002),
        refuse_connection,
        lambda: httpx.Response(500, text="oops"),
        lambda: sse_response(delta("Hi", "stop")),
    )
    client = make_client(
        base_url="https://api.minimaxi.com",
        transport=httpx.MockTransport(handler),
        max_retries=3,
    )
    result = await client.complete(chat("Hi"))
    assert result.text == "Hi"
    assert len(handler.requests) == 4


async def test_retries_stop_at_max_retries(make_client):
    handler = Counting(lambda: error_body(1002))
    transport = httpx.MockTransport(handler)
    client = make_client(base_url="http://x", transport=transport, max_retries=2)
    with pytest.raises(RateLimited):
        await client.complete(chat("Hi"))
    assert len(handler.requests) == 3


async def test_non_retryable_errors_are_not_retried(make_client):
    handler = Counting(lambda: error_body(1004))
    client = make_client(base_url="http://x", transport=httpx.MockTransport(handler))
    with pytest.raises(AuthenticationFailed):
        await client.complete(chat("Hi"))
    assert len(handler.requests) == 1


async def test_no_retry_once_text_was_yielded(make_client):
    handler = Counting(
        lambda: sse_response(
            delta("partial"), {"base_resp": {"status_code": 1000, "status_msg": "x"}}
        )
    )
    client = make_client(base_url="http://x", transport=httpx.MockTransport(handler))
    events = await collect(client, chat("Hi"))
    assert text_of(events) == "partial"
    assert isinstance(error_of(events), ServerError)
    assert len(handler.requests) == 1


async def test_clean_close_without_finish_is_a_protocol_error(make_client):
    handler = Counting(lambda: sse_response(delta("half a rep")))
    client = make_client(base_url="http://x", transport=httpx.MockTransport(handler))
    events = await collect(client, chat("Hi"))
    assert text_of(events) == "half a rep"
    assert isinstance(error_of(events), ProtocolError)


async def test_held_back_text_is_kept_when_the_stream_is_cut(make_client):
    # M2.7 without a <think> opener: a possible "</think>" is held back while it
    # is cut; a cut stream must still hand over all the text.
    handler = Counting(lambda: sse_response(delta("Hello wor</thi")))
    client = make_client(base_url="http://x", transport=httpx.MockTransport(handler))
    events = await collect(client, chat("Hi", "MiniMax-M2.7"))
    assert text_of(events) == "Hello wor</thi"
    assert isinstance(error_of(events), ProtocolError)


class StallingStream(httpx.AsyncByteStream):
    """Sends `head`, then nothing for an hour."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        await asyncio.sleep(3600)


def stalling_client(make_client, head: bytes, **kwargs: Any) -> MiniMaxClient:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=StallingStream(head))

    transport = httpx.MockTransport(answer)
    return make_client(base_url="http://x", transport=transport, **kwargs)


async def test_chunks_without_a_token_do_not_stop_the_first_token_timer(make_client):
    role_only = {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    head = b"data: " + json.dumps(role_only).encode() + b"\n\n"
    timeouts = Timeouts(first_token=0.3, idle=30)
    client = stalling_client(make_client, head, timeouts=timeouts, max_retries=0)
    error = error_of(await asyncio.wait_for(collect(client, chat("Hi")), 5))
    assert "first-token" in str(error)


async def test_a_stalled_first_token_is_reported_not_resent(make_client):
    """MiniMax may still be generating (and billing) it: one wait, then the error."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(
            200, headers=headers, stream=StallingStream(b": ping\n\n")
        )

    client = make_client(
        base_url="http://x",
        transport=httpx.MockTransport(answer),
        timeouts=Timeouts(first_token=0.2),
        max_retries=2,
    )
    error = error_of(await asyncio.wait_for(collect(client, chat("Hi")), 5))
    assert isinstance(error, UpstreamTimeout)
    assert len(requests) == 1


async def test_done_ends_the_reply_even_if_the_connection_stays_open(make_client):
    head = (
        b"data: " + json.dumps(delta("Hi", "stop")).encode() + b"\n\ndata: [DONE]\n\n"
    )
    client = stalling_client(make_client, head, timeouts=Timeouts(idle=30))
    result = await asyncio.wait_for(client.complete(chat("Hi")), 5)
    assert (result.text, result.finish_reason) == ("Hi", "stop")


class SteadyStream(httpx.AsyncByteStream):
    """Sends `pieces` pieces `gap` seconds apart, then the finish."""

    def __init__(self, pieces: int, gap: float) -> None:
        self.pieces, self.gap = pieces, gap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for number in range(self.pieces):
            await asyncio.sleep(self.gap)
            yield b"data: " + json.dumps(delta(f"p{number} ")).encode() + b"\n\n"
        yield b"data: " + json.dumps(delta("", "stop")).encode() + b"\n\n"


async def test_a_steady_stream_longer_than_the_idle_timeout_is_not_cut(make_client):
    """The idle timer starts again at every read: only a silence ends the reply."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=SteadyStream(20, 0.05))

    client = make_client(
        base_url="http://x",
        transport=httpx.MockTransport(answer),
        timeouts=Timeouts(first_token=0.5, idle=0.5),
        max_retries=0,
    )
    result = await asyncio.wait_for(client.complete(chat("Hi")), 10)
    assert result.text == "".join(f"p{number} " for number in range(20))
    assert result.finish_reason == "stop"


async def test_cancelling_a_stream_mid_read_is_a_cancellation_not_a_timeout(
    make_client,
):
    """A stop cancels the reading task: it must end as cancelled, not as a stall."""
    head = b"data: " + json.dumps(delta("Hi")).encode() + b"\n\n"
    client = stalling_client(
        make_client, head, timeouts=Timeouts(first_token=0.2, idle=0.2)
    )
    first = asyncio.Event()
    events: list = []

    async def read() -> None:
        async with aclosing(client.stream(chat("Hi"))) as stream:
            async for event in stream:
                events.append(event)
                first.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(isinstance(event, StreamError) for event in events)
    # The stream's timer went with it: nothing fires into this task later.
    await asyncio.sleep(0.4)
    assert asyncio.current_task().cancelling() == 0


async def test_a_finished_stream_leaves_its_connection_for_the_next_reply(
    make_client,
):
    """Read to the end of its body, a reply's response goes back to the pool: the
    next reply does not pay for a new connection (TCP, and TLS upstream)."""
    connections = 0
    events = [delta("Hi"), FINAL_HI]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)

    async def serve(reader, writer) -> None:
        nonlocal connections
        connections += 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = make_client(base_url=f"http://127.0.0.1:{port}", max_retries=0)
        for _ in range(3):
            result = await asyncio.wait_for(client.complete(chat("Hi")), 5)
            assert (result.text, result.finish_reason) == ("Hi", "stop")
    finally:
        server.close()
    assert connections == 1


async def test_a_stream_held_open_after_its_final_event_still_ends(make_client):
    head = b"data: " + json.dumps(FINAL_HI).encode() + b"\n\n"
    client = stalling_client(make_client, head, timeouts=Timeouts(idle=30))
    result = await asyncio.wait_for(client.complete(chat("Hi")), 5)
    assert (result.text, result.finish_reason) == ("Hi", "stop")


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (
            400,
            {"error": {"message": "invalid params, invalid chat setting (2013)"}},
            InvalidRequest,
            2013,
        ),
        (429, {"error": {"message": "insufficient balance (1008)"}}, None, 1008),
        (503, None, ServerError, None),
        (401, {"error": {"message": "bad"}}, AuthenticationFailed, None),
    ],
)
async def test_http_errors_take_the_code_from_the_message_then_the_status(
    make_client, status, body, expected, code
):
    def answer(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>Service Unavailable</html>")
        return httpx.Response(status, json=body)

    client = make_client(
        base_url="http://x", transport=httpx.MockTransport(answer), max_retries=0
    )
    error = error_of(await collect(client, chat("Hi", "MiniMax-M2.7")))
    assert type(error) is (expected or ERRORS_BY_CODE[code])
    assert error.code == code
    assert error.http_status == status


async def test_group_id_bearer_and_paths(make_client):
    handler = Counting(lambda: sse_response(delta("ok", "stop")))
    client = make_client(
        base_url="https://api.minimaxi.com/",
        group_id="1234",
        transport=httpx.MockTransport(handler),
    )
    for model, dialect in CHATS:
        await collect(client, chat("Hi", model, dialect=dialect))
    urls = [str(r.url) for r in handler.requests]
    assert urls == [
        "https://api.minimaxi.com/v1/text/chatcompletion_v2?GroupId=1234",
        "https://api.minimaxi.com/v1/text/chatcompletion_v2?GroupId=1234",
        "https://api.minimaxi.com/v1/chat/completions?GroupId=1234",
        "https://api.minimaxi.com/v1/text/chatcompletion_pro?GroupId=1234",
    ]
    assert {r.headers["authorization"] for r in handler.requests} == {
        f"Bearer {API_KEY}"
    }


async def test_base_url_given_with_v1_like_openai_clients_still_works(make_client):
    handler = Counting(lambda: sse_response(delta("ok", "stop")))
    transport = httpx.MockTransport(handler)
    client = make_client(base_url="https://api.minimax.io/v1/", transport=transport)
    await collect(client, chat("Hi", "MiniMax-M2.7"))
    assert str(handler.requests[0].url) == "https://api.minimax.io/v1/chat/completions"


class EndlessStream(httpx.AsyncByteStream):
    """An SSE body that never ends, and remembers being closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b'data: {"choices":[{"delta":{"content":"la "}}]}\n\n'
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        self.closed.set()


def endless_client(make_client) -> tuple[MiniMaxClient, EndlessStream]:
    stream = EndlessStream()

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=stream)

    return make_client(base_url="http://x", transport=httpx.MockTransport(answer)), (
        stream
    )


async def test_aclose_of_the_stream_closes_the_response(make_client):
    client, body = endless_client(make_client)
    events = client.stream(chat("Hi"))
    assert isinstance(await anext(events), TextDelta)
    assert not body.closed.is_set()
    await events.aclose()
    assert body.closed.is_set()


async def test_cancelling_the_consumer_closes_the_response(make_client):
    client, body = endless_client(make_client)
    first = asyncio.Event()

    async def consume() -> None:
        async with aclosing(client.stream(chat("Hi"))) as events:
            async for _ in events:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert body.closed.is_set()


# --- speech ------------------------------------------------------------------------


def looks_like_mp3(audio: bytes) -> bool:
    return audio[:3] == b"ID3" or (audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0)


@pytest.mark.parametrize("endpoint", ["t2a_v2", "text_to_speech"])
async def test_speech_both_endpoints(sim_client, endpoint):
    voices = [VoiceWeight("female-shaonv", 70), VoiceWeight("male-qn-qingse", 30)]
    model = "speech-01" if endpoint == "text_to_speech" else "speech-02-hd"
    request = SpeechRequest("你好，世界", voices, endpoint=endpoint, model=model)
    clip = await sim_client().speak(request)
    assert looks_like_mp3(clip.audio) and len(clip.audio) > 1000
    assert clip.trace_id
    assert clip.content_type == "audio/mpeg"


@pytest.mark.parametrize("endpoint", ["t2a_v2", "text_to_speech"])
async def test_speech_errors_are_typed_not_files(sim_client, endpoint):
    request = SpeechRequest(
        "Hi [sim:error=1008]", [VoiceWeight("female-shaonv")], endpoint=endpoint
    )
    with pytest.raises(MiniMaxError) as raised:
        await sim_client(max_retries=0).speak(request)
    assert raised.value.code == 1008
    assert raised.value.trace_id


@pytest.mark.parametrize(
    "changes",
    [
        {"speed": 2.5},
        {"vol": 0},
        {"pitch": 13},
        {"voices": [VoiceWeight("a", 0)]},
        {"voices": [VoiceWeight(f"v{i}") for i in range(5)]},
        {"sample_rate": 12345},
    ],
)
async def test_speech_ranges_are_checked_before_sending(make_client, changes):
    sent = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    client = make_client(base_url="http://x", transport=transport)
    request = SpeechRequest("Hi", [VoiceWeight("female-shaonv")])
    for name, value in changes.items():
        setattr(request, name, value)
    with pytest.raises(InvalidRequest):
        await client.speak(request)
    assert sent == []


async def test_legacy_speech_json_body_with_status_ok_is_an_error(make_client):
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"trace_id": "t1", "base_resp": {"status_code": 0, "status_msg": ""}}
        return httpx.Response(200, json=body)

    client = make_client(base_url="http://x", transport=httpx.MockTransport(answer))
    request = SpeechRequest("Hi", [VoiceWeight("x")], endpoint="text_to_speech")
    with pytest.raises(ProtocolError):
        await client.speak(request)


async def test_t2a_v2_body_shape(make_client):
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        body = {
            "data": {"audio": "fffb9000", "status": 2},
            "extra_info": {"audio_length": 10, "usage_characters": 2},
            "trace_id": "abc",
            "base_resp": {"status_code": 0, "status_msg": "success"},
        }
        return httpx.Response(200, json=body)

    client = make_client(base_url="http://x", transport=httpx.MockTransport(answer))
    voices = [VoiceWeight("a", 60), VoiceWeight("b", 40)]
    clip = await client.speak(SpeechRequest("Hi", voices, speed=1.5, vol=2, pitch=-3))
    assert clip.audio == b"\xff\xfb\x90\x00"
    assert (clip.trace_id, clip.duration_ms, clip.usage_characters) == ("abc", 10, 2)
    body = seen[0]
    assert body["voice_setting"] == {
        "voice_id": "a",
        "speed": 1.5,
        "vol": 2,
        "pitch": -3,
    }
    assert body["audio_setting"] == {
        "sample_rate": 32000,
        "bitrate": 128000,
        "format": "mp3",
        "channel": 1,
    }
    assert body["timbre_weights"] == [
        {"voice_id": "a", "weight": 60},
        {"voice_id": "b", "weight": 40},
    ]


def test_repr_hides_the_key(make_client):
    client = make_client(base_url="https://api.minimax.io")
    assert API_KEY not in repr(client)


# --- the site's shared client (conversations.upstream) -----------------------------


async def test_offline_client_answers_from_the_simulator(settings):
    from conversations import upstream

    settings.MINIMAX_API_KEY = ""
    assert upstream.is_offline()
    client = upstream.get_minimax_client()
    assert client is upstream.get_minimax_client()  # one per running loop
    assert "offline" not in repr(client)  # the placeholder key is not shown either
    result = await client.complete(chat("Are you there?"))
    assert "Are you there?" in result.text


def test_each_event_loop_gets_its_own_client(settings):
    from conversations import upstream

    settings.MINIMAX_API_KEY = "sk-live-key-123456"
    settings.MINIMAX_BASE_URL = "https://api.minimax.io"

    async def client_of_this_loop() -> MiniMaxClient:
        return upstream.get_minimax_client()

    first, second = (
        asyncio.run(client_of_this_loop()),
        asyncio.run(client_of_this_loop()),
    )
    assert first is not second
    assert first.base_url == "https://api.minimax.io"
    assert not upstream.is_offline()
