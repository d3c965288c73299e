"""The simulator's other chat dialects: /v1/chat/completions, tools, JSON, pro."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.fixtures.simulator import sse_data

V2 = "/v1/text/chatcompletion_v2"
CHAT = "/v1/chat/completions"
PRO = "/v1/text/chatcompletion_pro"

# The content-analysis schema of the vendor's json_schema example (seeds/001).
CONTENT_ANALYSIS = {
    "type": "object",
    "properties": {
        "analysis": {"type": "string", "description": "Content analysis"},
        "summary_words": {"type": "array", "items": {"type": "string"}},
        "content_result": {
            "type": "string",
            "enum": [
                "低俗色情违规",
                "广告引流违规",
                "违法违规",
                "涉政违规",
                "自杀自残违规",
                "未成年违规",
                "攻击辱骂违规",
                "其他违规",
                "正常",
            ],
        },
        "risk_words": {"type": "array", "items": {"type": "string"}},
        "correct_rate": {"type": "number", "description": "from 0.00 to 1.00"},
        "content_risk_level": {"type": "string", "enum": ["high", "medium", "low"]},
    },
    "required": [
        "analysis",
        "summary_words",
        "content_result",
        "risk_words",
        "correct_rate",
        "content_risk_level",
    ],
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["location", "days"],
        },
    },
}


@pytest.fixture
def client(simulator_client):
    return simulator_client


def user(text: str) -> dict:
    return {"role": "user", "content": text}


async def events_of(client, path: str, body: dict) -> list[dict]:
    response = await client.post(path, json={**body, "stream": True})
    assert response.status_code == 200
    return [json.loads(line) for line in sse_data(response.content)]


# --- /v1/chat/completions -----------------------------------------------------------


async def test_chat_puts_thinking_inline_in_think_tags(client):
    response = await client.post(
        CHAT, json={"model": "MiniMax-M2.7", "messages": [user("Hi there")]}
    )

    body = response.json()
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("<think>\n")
    thinking, answer = content.removeprefix("<think>\n").split("\n</think>\n\n")
    assert "Hi there" in thinking and "> Hi there" in answer
    assert body["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


async def test_chat_stream_cuts_think_tags_across_chunks_for_some_prompts(client):
    whole, cut = 0, 0
    for question in ("one", "two", "three", "four", "five", "six"):
        *chunks, final = await events_of(
            client, CHAT, {"model": "MiniMax-M2.5", "messages": [user(question)]}
        )
        deltas = [c["choices"][0]["delta"]["content"] for c in chunks]
        assert "".join(deltas) == final["choices"][0]["message"]["content"]
        assert final["object"] == "chat.completion"
        if any("<think>" in d for d in deltas) and any("</think>" in d for d in deltas):
            whole += 1
        else:
            cut += 1

    assert whole and cut, "both shapes occur, so a client must handle both"


async def test_reasoning_split_moves_thinking_to_reasoning_details(client):
    body = {"model": "MiniMax-M2.7", "messages": [user("Hi")], "reasoning_split": True}
    *chunks, final = await events_of(client, CHAT, body)

    deltas = [c["choices"][0]["delta"] for c in chunks]
    streamed = "".join(
        d["reasoning_details"][0]["text"] for d in deltas if "reasoning_details" in d
    )
    message = final["choices"][0]["message"]
    assert "<think>" not in message["content"]
    assert message["reasoning_details"][0]["type"] == "reasoning.text"
    assert message["reasoning_details"][0]["text"] == streamed != ""


# --- tools ---------------------------------------------------------------------------


@pytest.mark.parametrize("path, model", [(V2, "abab6.5s-chat"), (CHAT, "MiniMax-M2.7")])
async def test_tool_trigger_streams_one_call_in_two_pieces(client, path, model):
    body = {
        "model": model,
        "messages": [user("Weather? [sim:tool]")],
        "tools": [WEATHER_TOOL],
    }
    *chunks, final = await events_of(client, path, body)

    pieces = [
        call for c in chunks for call in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert len(pieces) == 2
    assert pieces[0]["id"].startswith("call_") and pieces[1]["id"] == ""
    assert pieces[0]["function"]["name"] == "get_weather"
    arguments = "".join(p["function"]["arguments"] for p in pieces)
    jsonschema.validate(json.loads(arguments), WEATHER_TOOL["function"]["parameters"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    call = final["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] == pieces[0]["id"]
    assert call["function"] == {"name": "get_weather", "arguments": arguments}


async def test_tool_result_gets_a_normal_answer(client):
    first = await client.post(
        V2,
        json={
            "model": "abab6.5s-chat",
            "messages": [user("Weather? [sim:tool]")],
            "tools": [WEATHER_TOOL],
        },
    )
    call = first.json()["choices"][0]["message"]["tool_calls"][0]
    second = await client.post(
        V2,
        json={
            "model": "abab6.5s-chat",
            "messages": [
                user("Weather? [sim:tool]"),
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "Sunny, 21C"},
            ],
            "tools": [WEATHER_TOOL],
        },
    )

    choice = second.json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "Sunny, 21C" in choice["message"]["content"]


async def test_tool_trigger_without_tools_answers_normally(client):
    response = await client.post(
        V2, json={"model": "abab6.5s-chat", "messages": [user("hi [sim:tool]")]}
    )

    assert response.json()["choices"][0]["finish_reason"] == "stop"


# --- json_schema ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_reply_validates(client, stream):
    body = {
        "model": "MiniMax-Text-01",
        "messages": [user("分析这段内容：今天天气很好")],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "user_analysis",
                "description": "User behavior analysis result",
                "schema": CONTENT_ANALYSIS,
            },
        },
    }
    if stream:
        content = (await events_of(client, V2, body))[-1]["choices"][0]["message"]
    else:
        content = (await client.post(V2, json=body)).json()["choices"][0]["message"]

    value = json.loads(content["content"])
    jsonschema.validate(value, CONTENT_ANALYSIS)
    assert value["content_result"] == "正常"


# --- chatcompletion_pro ---------------------------------------------------------------


def pro_body(messages: list[dict], **extra) -> dict:
    return {
        "model": "abab6.5s-chat",
        "tokens_to_generate": 2048,
        "bot_setting": [{"bot_name": "小助手", "content": "A helpful bot."}],
        "reply_constraints": {"sender_type": "BOT", "sender_name": "小助手"},
        "messages": messages,
        **extra,
    }


def pro_user(text: str) -> dict:
    return {"sender_type": "USER", "sender_name": "小明", "text": text}


async def test_pro_body_has_reply_and_bot_message(client):
    response = await client.post(PRO + "?GroupId=42", json=pro_body([pro_user("你好")]))

    body = response.json()
    message = body["choices"][0]["messages"][0]
    assert message["sender_type"] == "BOT" and message["sender_name"] == "小助手"
    assert body["reply"] == message["text"] and "你好" in body["reply"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] > 0
    assert body["base_resp"] == {"status_code": 0, "status_msg": ""}
    assert len(body["id"]) == 32


async def test_pro_multi_turn_takes_the_history_back(client):
    messages = [pro_user("What is Python?")]
    first = (await client.post(PRO, json=pro_body(messages))).json()
    messages += [*first["choices"][0]["messages"], pro_user("And Rust?")]
    second = (await client.post(PRO, json=pro_body(messages))).json()

    assert "> And Rust?" in second["reply"]
    assert second["reply"] != first["reply"]


async def test_pro_stream_sends_increments_then_the_whole_reply(client):
    *partials, final = await events_of(client, PRO, pro_body([pro_user("hello")]))

    assert len(partials) > 5
    for event in partials:
        assert event["reply"] == ""
        assert "usage" not in event and "base_resp" not in event
        assert "finish_reason" not in event["choices"][0]
    text = "".join(e["choices"][0]["messages"][0]["text"] for e in partials)
    assert final["reply"] == text
    assert final["choices"][0]["messages"][0]["text"] == text
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage"]["total_tokens"] > 0
    assert final["base_resp"]["status_code"] == 0


async def test_pro_function_call(client):
    function = {**WEATHER_TOOL["function"]}
    body = pro_body([pro_user("weather [sim:tool]")], functions=[function])
    response = await client.post(PRO, json=body)

    result = response.json()
    assert result["reply"] == ""
    call = result["choices"][0]["messages"][0]["function_call"]
    assert call == result["function_call"]
    assert call["name"] == "get_weather"
    jsonschema.validate(json.loads(call["arguments"]), function["parameters"])
