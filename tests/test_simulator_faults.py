"""Simulated failures: error triggers, auth, parameter checks and broken streams."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time

import httpx
import pytest

from conversations.minimax.errors import ERRORS_BY_CODE
from conversations.minimax.simulator import make_asgi_app
from tests.fixtures.simulator import sse_data

V2 = "/v1/text/chatcompletion_v2"
CHAT = "/v1/chat/completions"
PRO = "/v1/text/chatcompletion_pro"

# The brief's table: HTTP status and error type of /v1/chat/completions per code.
CHAT_STATUS = {
    1004: (401, "authentication_error"),
    2049: (401, "authentication_error"),
    1002: (429, "rate_limit_error"),
    1039: (429, "rate_limit_error"),
    1041: (429, "rate_limit_error"),
    2045: (429, "rate_limit_error"),
    2056: (429, "rate_limit_error"),
    1008: (429, "insufficient_balance_error"),
    2013: (400, "bad_request_error"),
    1026: (400, "bad_request_error"),
    1027: (400, "bad_request_error"),
    1042: (400, "bad_request_error"),
    1001: (408, "timeout_error"),
    1000: (500, "api_error"),
    1013: (500, "api_error"),
    1024: (500, "api_error"),
    1033: (500, "api_error"),
}


@pytest.fixture
def client(simulator_client):
    return simulator_client


def v2_body(text: str, model: str = "abab6.5s-chat", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def pro_body(text: str, **extra) -> dict:
    return {
        "model": "abab6.5s-chat",
        "bot_setting": [{"bot_name": "MM智能助理", "content": "A helpful bot."}],
        "reply_constraints": {"sender_type": "BOT", "sender_name": "MM智能助理"},
        "messages": [{"sender_type": "USER", "sender_name": "小明", "text": text}],
        **extra,
    }


# --- error triggers ---------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path, body", [(V2, v2_body), (PRO, pro_body)])
async def test_native_error_is_http_200_with_base_resp(client, path, body, stream):
    response = await client.post(
        path, json=body("hello [sim:error=1008]", stream=stream)
    )

    assert response.status_code == 200
    assert "json" in response.headers["content-type"]
    assert response.json() == {
        "base_resp": {"status_code": 1008, "status_msg": "insufficient balance"}
    }


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
async def test_every_known_code_can_be_triggered_on_v2(simulator_transport, code):
    async with httpx.AsyncClient(
        transport=simulator_transport, base_url="http://sim", headers=_auth()
    ) as client:
        response = await client.post(V2, json=v2_body(f"x [sim:error={code}]"))

    assert response.json()["base_resp"]["status_code"] == code
    assert response.json()["base_resp"]["status_msg"]


@pytest.mark.parametrize("code", sorted(CHAT_STATUS))
async def test_chat_endpoint_errors_use_http_status(simulator_transport, code):
    async with httpx.AsyncClient(
        transport=simulator_transport, base_url="http://sim", headers=_auth()
    ) as client:
        response = await client.post(
            CHAT, json=v2_body(f"x [sim:error={code}]", model="MiniMax-M2.7")
        )

    status, error_type = CHAT_STATUS[code]
    body = response.json()
    assert response.status_code == status
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["http_code"] == str(status)
    assert body["error"]["message"].endswith(f"({code})")
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert body["base_resp"]["status_code"] == code


async def test_vendor_messages_for_common_codes(client):
    messages = {}
    for code in (1002, 1004, 1008):
        response = await client.post(V2, json=v2_body(f"x [sim:error={code}]"))
        messages[code] = response.json()["base_resp"]["status_msg"]

    assert messages == {
        1002: "rate limit exceeded(RPM)",
        1004: "token not match group",
        1008: "insufficient balance",
    }


# --- auth ---------------------------------------------------------------------------


async def test_missing_bearer_is_1004_login_fail(client):
    response = await client.post(V2, json=v2_body("hi"), headers={"Authorization": ""})

    base_resp = response.json()["base_resp"]
    assert response.status_code == 200
    assert base_resp["status_code"] == 1004
    assert base_resp["status_msg"].startswith("login fail")


async def test_invalid_key_is_2049(client):
    response = await client.post(
        CHAT,
        json=v2_body("hi", model="MiniMax-M2.7"),
        headers={"Authorization": "Bearer sk-invalid-key"},
    )

    assert response.status_code == 401
    assert response.json()["base_resp"] == {
        "status_code": 2049,
        "status_msg": "invalid api key",
    }


# --- parameter checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"temperature": 0}, "temperature"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object"}},
                }
            },
            "response_format",
        ),
    ],
)
async def test_out_of_range_parameters_are_2013_naming_the_field(client, extra, field):
    response = await client.post(V2, json=v2_body("hi", **extra))

    base_resp = response.json()["base_resp"]
    assert base_resp["status_code"] == 2013
    assert base_resp["status_msg"].startswith("invalid params, ")
    assert field in base_resp["status_msg"]


async def test_json_schema_name_must_be_a_word(client):
    body = v2_body(
        "hi",
        model="MiniMax-Text-01",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "bad name!", "schema": {"type": "object"}},
        },
    )
    response = await client.post(V2, json=body)

    assert "json_schema.name" in response.json()["base_resp"]["status_msg"]


async def test_chat_caps_max_completion_tokens_at_2048(client):
    response = await client.post(
        CHAT, json=v2_body("hi", model="MiniMax-M2.7", max_completion_tokens=4096)
    )

    assert response.status_code == 400
    assert "max_completion_tokens" in response.json()["error"]["message"]
    assert response.json()["base_resp"]["status_code"] == 2013


async def test_bad_json_and_missing_fields_are_2013(client):
    bad = await client.post(V2, content=b"{not json", headers=_json_type())
    missing = await client.post(V2, json={"model": "abab6.5s-chat"})

    assert bad.json()["base_resp"]["status_code"] == 2013
    assert "messages" in missing.json()["base_resp"]["status_msg"]


async def test_unknown_tool_result_id_is_2013(client):
    body = {
        "model": "abab6.5s-chat",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_nope", "content": "42"},
        ],
    }
    response = await client.post(V2, json=body)

    assert "tool id(call_nope) not found" in response.json()["base_resp"]["status_msg"]


async def test_pro_reply_constraints_must_name_a_bot(client):
    body = pro_body("hi")
    body["reply_constraints"]["sender_name"] = "Nobody"
    response = await client.post(PRO, json=body)

    assert "reply_constraints.sender_name" in response.json()["base_resp"]["status_msg"]


async def test_unknown_path_is_404_json(client):
    response = await client.post("/v1/nope", json={})

    assert response.status_code == 404
    assert "/v1/nope" in response.json()["error"]["message"]


# --- broken streams -----------------------------------------------------------------


async def test_drop_cuts_the_body_after_three_chunks(client):
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with client.stream(
            "POST", V2, json=v2_body("hi [sim:drop]", stream=True)
        ) as response:
            async for chunk in response.aiter_bytes():
                received += chunk

    assert response.status_code == 200
    events = [json.loads(line) for line in sse_data(received)]
    assert len(events) == 3
    assert all(e["object"] == "chat.completion.chunk" for e in events)


async def test_drop_without_stream_gives_half_a_body(client):
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(V2, json=v2_body("hi [sim:drop]"))


async def test_stall_first_sends_headers_then_nothing(client):
    async with client.stream(
        "POST", V2, json=v2_body("hi [sim:stall-first]", stream=True)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(response.aiter_bytes()), timeout=0.3)
        started = time.monotonic()
    # The stall lasts an hour: closing must not wait for it (10 s: a loaded machine).
    assert time.monotonic() - started < 10, "closing a stalled stream is prompt"


async def test_stall_mid_sends_three_chunks_then_nothing(client):
    async with client.stream(
        "POST", V2, json=v2_body("hi [sim:stall-mid]", stream=True)
    ) as response:
        lines = response.aiter_lines()
        received = []
        with pytest.raises(TimeoutError):
            while True:
                received.append(await asyncio.wait_for(anext(lines), timeout=0.3))

    assert len([line for line in received if line.startswith("data: ")]) == 3


async def test_malformed_ends_with_a_broken_event(client):
    response = await client.post(V2, json=v2_body("hi [sim:malformed]", stream=True))

    lines = sse_data(response.content)
    assert len(lines) == 4
    assert lines[-1] == '{"id": "broken'
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[-1])


async def test_long_reply_has_400_content_chunks(client):
    response = await client.post(V2, json=v2_body("hi [sim:long]", stream=True))

    *chunks, final = [json.loads(line) for line in sse_data(response.content)]
    assert len(chunks) == 400
    assert final["choices"][0]["finish_reason"] == "stop"


async def test_length_trigger_finishes_with_length(client):
    response = await client.post(V2, json=v2_body("hi [sim:length]", stream=True))

    *chunks, final = [json.loads(line) for line in sse_data(response.content)]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert final["choices"][0]["finish_reason"] == "length"


async def test_small_max_tokens_truncates_with_length(client):
    response = await client.post(V2, json=v2_body("hi", max_tokens=10))

    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] <= 10


@pytest.mark.parametrize(
    "trigger, flags",
    [
        ("[sim:flag-input]", (True, 7, False, 0)),
        ("[sim:flag-output]", (False, 0, True, 3)),
    ],
)
async def test_sensitivity_flags_are_on_every_event(client, trigger, flags):
    response = await client.post(V2, json=v2_body(f"hi {trigger}", stream=True))

    events = [json.loads(line) for line in sse_data(response.content)]
    for event in events:
        assert (
            event["input_sensitive"],
            event["input_sensitive_type"],
            event["output_sensitive"],
            event["output_sensitive_type"],
        ) == flags
    assert events[-1]["choices"][0]["message"]["content"], "the reply still comes"


async def test_asgi_app_stops_a_stalled_stream_when_the_client_leaves():
    app = make_asgi_app(chunk_delay=0)
    body = json.dumps(v2_body("hi [sim:stall-mid]", stream=True)).encode()
    inbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "http.request", "body": body, "more_body": False})
    sent: list[dict] = []

    async def send(message):
        sent.append(message)
        if len(sent) == 5:  # start, header flush, three events: the client leaves
            await inbox.put({"type": "http.disconnect"})

    scope = {
        "type": "http",
        "method": "POST",
        "path": V2,
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer k")],
    }
    await asyncio.wait_for(app(scope, inbox.get, send), timeout=2)

    assert sent[0]["status"] == 200
    assert all(m.get("more_body") for m in sent[1:]), "the body was never finished"


def _auth() -> dict[str, str]:
    return {"Authorization": "Bearer offline-simulator"}


def _json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


# --- faults of a broken or hostile upstream (the site's suite uses them) ------------


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize(
    ("path", "body"),
    [(V2, v2_body("Hi")), (CHAT, v2_body("Hi", "MiniMax-M2.7")), (PRO, pro_body("Hi"))],
)
async def test_http_trigger_answers_an_html_page_with_that_status(
    client, path, body, status
):
    body = json.loads(json.dumps(body).replace("Hi", f"Hi [sim:http={status}]"))
    response = await client.post(path, json={**body, "stream": True})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<title>{status} " in response.text and "nginx" in response.text


async def test_http_trigger_ignores_statuses_that_are_not_errors(client):
    response = await client.post(V2, json=v2_body("Hi [sim:http=200]"))
    assert response.status_code == 200 and response.json()["choices"]


@pytest.mark.parametrize(
    ("path", "body"),
    [(V2, v2_body("Hi [sim:odd-numbers]")), (PRO, pro_body("Hi [sim:odd-numbers]"))],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_odd_numbers_put_nonsense_in_the_final_event(client, path, body, stream):
    response = await client.post(path, json={**body, "stream": stream})
    final = json.loads(sse_data(response.content)[-1]) if stream else response.json()
    assert final["usage"]["prompt_tokens"] == -1
    assert final["usage"]["completion_tokens"] == 2**70
    assert final["usage"]["total_tokens"] == "lots"
    assert final["output_sensitive"] is True and final["output_sensitive_type"] == -3
    assert final["input_sensitive_type"] == 99
    assert final["base_resp"]["status_code"] == 0


async def test_huge_line_sends_three_events_then_megabytes_without_a_newline(client):
    response = await client.post(V2, json=v2_body("Hi [sim:huge-line]", stream=True))
    events, _, rest = response.content.rpartition(b"\n\n")
    assert events.count(b"\n\n") == 2  # three whole events before it
    assert rest.startswith(b"data: ") and b"\n" not in rest
    assert len(rest) > 3 * 2**20


async def test_huge_line_without_stream_is_a_body_over_16_mib(client):
    response = await client.post(V2, json=v2_body("Hi [sim:huge-line]"))
    assert len(response.content) > 16 * 2**20


@pytest.mark.parametrize(
    ("path", "body"),
    [(V2, v2_body("Hi [sim:repeat]")), (PRO, pro_body("Hi [sim:repeat]"))],
)
async def test_repeat_sends_one_sentence_sixteen_times(client, path, body):
    response = await client.post(path, json={**body, "stream": True})
    chunks = [json.loads(data) for data in sse_data(response.content)][:-1]
    if path == PRO:
        pieces = [c["choices"][0]["messages"][0]["text"] for c in chunks]
    else:
        pieces = [c["choices"][0]["delta"]["content"] for c in chunks]
    sentence = "Again and again, the same words. "
    assert pieces == [sentence] * 16
    assert pieces[1] == "".join(pieces[:1])  # the second repeats the whole text


ECHOED = (
    '# Hi\n\n<img src=x onerror="alert(1)">\n\n'
    "  [x](javascript:alert(1))  $\\href{j}{x}$"
)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (V2, v2_body(f"{ECHOED} [sim:echo]")),
        (V2, v2_body(f"{ECHOED} [sim:echo]", model="MiniMax-M1")),
        (CHAT, v2_body(f"[sim:echo] {ECHOED}", model="MiniMax-M2.7")),
        (PRO, pro_body(f"{ECHOED}[sim:echo]")),
    ],
    ids=["v2", "v2-reasoning", "chat-think", "pro"],
)
async def test_echo_says_the_message_back_verbatim(client, path, body):
    answer = (await client.post(path, json=body)).json()
    if path == PRO:
        assert answer["reply"] == ECHOED
        return
    message = answer["choices"][0]["message"]
    if path == CHAT:
        assert message["content"] == f"<think>\n{ECHOED}\n</think>\n\n{ECHOED}"
    else:
        assert message["content"] == ECHOED
        assert message.get("reasoning_content", "") == (
            ECHOED if body["model"] == "MiniMax-M1" else ""
        )


@pytest.mark.parametrize("path", [V2, CHAT, PRO])
async def test_echo_key_answers_an_error_that_echoes_the_key(client, path):
    body = pro_body("hi [sim:echo-key]") if path == PRO else v2_body("[sim:echo-key]")
    answer = (await client.post(path, json=body)).json()
    message = answer["base_resp"]["status_msg"]
    key = "offline-simulator"  # SIMULATOR_AUTH's key
    assert answer["base_resp"]["status_code"] == 2013
    for echo in (key, key.upper(), key[:10]):
        assert echo in message
    assert base64.b64encode(f"Bearer {key}".encode()).decode() in message
