"""The simulator's chat wire bytes, over real HTTP and through the in-process transport.

Each test reads the raw body, as a strict client would, and checks what the
vendor pages (shared/seeds) and the protocol notes say MiniMax sends.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.fixtures.simulator import sse_data

V2 = "/v1/text/chatcompletion_v2"
CHAT = "/v1/chat/completions"
SENSITIVITY_KEYS = [
    "input_sensitive",
    "output_sensitive",
    "input_sensitive_type",
    "output_sensitive_type",
    "output_sensitive_int",
]


@pytest.fixture
def client(simulator_client):
    """The simulator over HTTP and in-process (see tests/fixtures/simulator.py)."""
    return simulator_client


def chat_body(model: str, text: str, **extra) -> dict:
    return {
        "model": model,
        "messages": [
            {"role": "system", "name": "MiniMax AI", "content": "Be brief."},
            {"role": "user", "name": "用户", "content": text},
        ],
        **extra,
    }


async def stream_events(client, path: str, body: dict) -> tuple[httpx.Response, list]:
    response = await client.post(path, json={**body, "stream": True})
    return response, [json.loads(line) for line in sse_data(response.content)]


async def test_v2_stream_has_the_documented_shape(client):
    response, events = await stream_events(
        client, V2, chat_body("abab6.5s-chat", "What is a list?")
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    *chunks, final = events
    assert len(chunks) >= 10
    response_id = final["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", response_id)
    for chunk in chunks:
        assert list(chunk) == [
            "id",
            "choices",
            "created",
            "model",
            "object",
            "usage",
            *SENSITIVITY_KEYS,
        ]
        assert chunk["id"] == response_id
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "abab6.5s-chat"
        assert chunk["usage"] == {"total_tokens": 0, "total_characters": 0}
        assert chunk["input_sensitive"] is False
        assert abs(chunk["created"] - final["created"]) <= 1
        delta = chunk["choices"][0]["delta"]
        assert delta["role"] == "assistant" and delta["name"] == "MiniMax AI"
        assert delta["audio_content"] == ""
    assert [("finish_reason" in c["choices"][0]) for c in chunks] == [False] * (
        len(chunks) - 1
    ) + [True]
    finish = chunks[-1]["choices"][0]
    assert finish["finish_reason"] == "stop"
    assert finish["delta"]["content"], "the finish chunk still carries text"

    assert final["object"] == "chat.completion"
    assert "delta" not in final["choices"][0]
    message = final["choices"][0]["message"]
    streamed = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    assert message["content"] == streamed
    assert final["base_resp"] == {"status_code": 0, "status_msg": ""}
    usage = final["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert b"[DONE]" not in response.content


async def test_default_reply_is_markdown_quoting_the_question(client):
    response = await client.post(V2, json=chat_body("abab6.5s-chat", "How do I sort?"))

    content = response.json()["choices"][0]["message"]["content"]
    assert "> How do I sort?" in content
    assert "**" in content and "\n- " in content and "```python\n" in content
    assert 60 <= response.json()["usage"]["completion_tokens"] <= 160


async def test_reply_is_chinese_for_a_chinese_question(client):
    response = await client.post(V2, json=chat_body("abab6.5s-chat", "列表是什么？"))

    content = response.json()["choices"][0]["message"]["content"]
    assert "你问" in content and "> 列表是什么？" in content


async def test_same_request_gives_the_same_text(client):
    body = chat_body("MiniMax-M1", "Tell me about queues")
    first = (await client.post(V2, json=body)).json()
    second = (await client.post(V2, json=body)).json()

    assert first["choices"][0]["message"] == second["choices"][0]["message"]
    assert first["id"] != second["id"]


async def test_non_stream_v2_body_matches_the_vendor_example(client):
    response = await client.post(
        V2 + "?GroupId=123", json=chat_body("abab6.5s-chat", "hello")
    )

    body = response.json()
    assert list(body) == [
        "id",
        "choices",
        "created",
        "model",
        "object",
        "usage",
        *SENSITIVITY_KEYS,
        "base_resp",
    ]
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["name"] == "MiniMax AI"
    assert "completion_tokens_details" not in body["usage"]


async def test_m1_on_v2_streams_reasoning_before_the_answer(client):
    _, events = await stream_events(
        client, V2, chat_body("MiniMax-M1", "Why is the sky blue?")
    )

    *chunks, final = events
    deltas = [c["choices"][0]["delta"] for c in chunks]
    thinking = [d for d in deltas if d.get("reasoning_content")]
    assert thinking and all(d["content"] == "" for d in thinking)
    first_text = next(i for i, d in enumerate(deltas) if d["content"])
    assert all(not d.get("reasoning_content") for d in deltas[first_text:])
    assert first_text >= len(thinking)
    message = final["choices"][0]["message"]
    assert message["reasoning_content"] == "".join(
        d.get("reasoning_content", "") for d in deltas
    )
    usage = final["usage"]
    assert (
        0
        < usage["completion_tokens_details"]["reasoning_tokens"]
        < (usage["completion_tokens"])
    )


async def test_done_trigger_appends_a_done_line(client):
    response = await client.post(
        V2, json={**chat_body("abab6.5s-chat", "hi [sim:done]"), "stream": True}
    )

    lines = sse_data(response.content)
    assert lines[-1] == "[DONE]"
    assert json.loads(lines[-2])["object"] == "chat.completion"


async def test_reply_cut_inside_the_reasoning_still_adds_up(client):
    body = chat_body("MiniMax-M1", "hello there", max_tokens=20)
    _, events = await stream_events(client, V2, body)

    *chunks, final = events
    deltas = [c["choices"][0]["delta"] for c in chunks]
    message = final["choices"][0]["message"]
    assert final["choices"][0]["finish_reason"] == "length"
    assert message["content"] == ""
    assert message["reasoning_content"] == "".join(
        d.get("reasoning_content", "") for d in deltas
    )
    assert final["usage"]["completion_tokens"] <= 20
