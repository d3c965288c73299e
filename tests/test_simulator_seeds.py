"""The simulator held against the vendor's own examples (tests/fixtures/seeds/),
field by field: the seeds' requests are accepted, and every key path of a vendor
response is in the simulator's response with the same JSON type.

The simulator may say more than an example (the examples elide fields other
vendor pages document); it may not say less or say it in another type. Text-to-
speech (seed 003's T2A part) is the speech tests' business.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conversations.minimax.sse import SSEDecoder
from tests.fixtures.simulator import sse_data

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
SIMULATOR = Path(__file__).resolve().parents[1] / "conversations/minimax/simulator"
V2 = "/v1/text/chatcompletion_v2"
CHAT = "/v1/chat/completions"
PRO = "/v1/text/chatcompletion_pro"


def seed(name: str) -> Any:
    return json.loads((SEEDS / name).read_text(encoding="utf-8"))


def seed_events(name: str) -> list[dict[str, Any]]:
    """Return a stream fixture's events (seed 001 prints bare JSON lines)."""
    raw = (SEEDS / name).read_bytes()
    if not raw.startswith(b"data:"):
        raw = b"".join(b"data: " + line + b"\n\n" for line in raw.split() if line)
    return [json.loads(e.data) for e in SSEDecoder().decode([raw])]


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {
        dict: "object",
        list: "array",
        str: "string",
        float: "number",
        type(None): "null",
    }[type(value)]


def key_paths(value: Any, path: str = "$") -> dict[str, str]:
    """Return every key path of a JSON value and its type; list items share `[]`."""
    paths = {path: json_type(value)}
    if isinstance(value, dict):
        for key, item in value.items():
            paths.update(key_paths(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for item in value:
            paths.update(key_paths(item, f"{path}[]"))
    return paths


def assert_covers(vendor: Any, simulated: Any) -> None:
    """Assert every key path of `vendor` is in `simulated`, with the same type."""
    ours = key_paths(simulated)
    missing = [p for p in key_paths(vendor) if p not in ours]
    assert missing == [], f"the simulator leaves out {missing}"
    wrong = {
        path: (kind, ours[path])
        for path, kind in key_paths(vendor).items()
        if ours[path] != kind
    }
    assert wrong == {}, f"(vendor type, simulator type) differ: {wrong}"


@pytest.fixture
def client(simulator_client):
    """The simulator over HTTP and in-process (see tests/fixtures/simulator.py)."""
    return simulator_client


async def post_plain(client, path: str, body: dict, **kwargs: Any) -> dict:
    response = await client.post(path, json=body, **kwargs)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload["base_resp"] == {
        "status_code": 0,
        "status_msg": payload["base_resp"]["status_msg"],
    }
    assert payload["base_resp"]["status_code"] == 0, payload["base_resp"]
    return payload


async def post_stream(client, path: str, body: dict, **kwargs: Any) -> list[dict]:
    response = await client.post(path, json=body, **kwargs)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    # Every event is `data: {json}` and a blank line; no `[DONE]` (seeds 000, 001:
    # MiniMax closes the stream after its last event).
    lines = sse_data(response.content)
    assert "[DONE]" not in lines
    return [json.loads(line) for line in lines]


def seed_002_v2() -> dict:
    body = seed("seed_002_v2_request.json")
    # The page's model is a placeholder: "replace with a model name, e.g. ...".
    assert body["model"].endswith("abab6.5s-chat")
    return {**body, "model": "abab6.5s-chat"}


def seed_003_pro() -> dict:
    body = seed("seed_003_pro_quickstart.json")
    # The quick-start's loop appends the user's turn before each call.
    turn = {"sender_type": "USER", "sender_name": "用户", "text": "你好"}
    return {**body, "messages": [*body["messages"], turn]}


# --- the seeds' requests are accepted ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "query"),
    [
        pytest.param(V2, seed("seed_000_v2_request.json"), {}, id="000-v2-stream"),
        pytest.param(V2, seed("seed_001_m1_request.json"), {}, id="001-m1-plain"),
        pytest.param(
            V2,
            seed("seed_001_m1_stream_request.json"),
            {"GroupId": "1234567890"},
            id="001-m1-stream-groupid",
        ),
        pytest.param(
            V2,
            {**seed("seed_001_m1_request.json"), "model": "MiniMax-Text-01"}
            | {
                "response_format": {
                    "type": "json_schema",
                    **seed("seed_001_json_schema.json"),
                }
            },
            {},
            id="001-json-schema",
        ),
        pytest.param(PRO, seed("seed_002_pro_request.json"), {}, id="002-pro-plain"),
        pytest.param(
            PRO,
            {**seed("seed_002_pro_request.json"), "stream": True},
            {"GroupId": "1234567890"},
            id="002-pro-stream",
        ),
        pytest.param(V2, seed_002_v2(), {}, id="002-v2-plain"),
        pytest.param(V2, {**seed_002_v2(), "stream": True}, {}, id="002-v2-stream"),
        pytest.param(PRO, seed_003_pro(), {}, id="003-pro-quickstart"),
        pytest.param(CHAT, seed("seed_004_m27_request.json"), {}, id="004-m27"),
    ],
)
async def test_the_seeds_requests_are_accepted(client, path, body, query):
    if body.get("stream"):
        *_, final = await post_stream(client, path, body, params=query)
        assert final["base_resp"]["status_code"] == 0
    else:
        final = await post_plain(client, path, body, params=query)
    assert final["model"] == body["model"]
    assert final["choices"][0]["finish_reason"] == "stop"


# --- plain bodies ---------------------------------------------------------------------


async def test_m1_plain_body_covers_seed_001(client):
    vendor = seed("seed_001_m1_plain.json")
    ours = await post_plain(client, V2, seed("seed_001_m1_request.json"))
    assert_covers(vendor, ours)
    assert list(vendor) == [key for key in ours if key in vendor]  # same order
    for key in ("object", "base_resp"):
        assert ours[key] == vendor[key]
    message = ours["choices"][0]["message"]
    assert (message["role"], message["name"]) == ("assistant", "MiniMax AI")
    usage = ours["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert re.fullmatch(r"[0-9a-f]{32}", ours["id"])
    assert len(str(ours["created"])) == 10  # unix seconds, like the example


async def test_m27_plain_body_covers_seed_004(client):
    vendor = seed("seed_004_m27_plain.json")
    ours = await post_plain(client, CHAT, seed("seed_004_m27_request.json"))
    assert_covers(vendor, ours)
    assert (
        ours["base_resp"]
        == vendor["base_resp"]
        == {
            "status_code": 0,
            "status_msg": "success",
        }
    )
    # The reasoning inline, before the answer, as in the example.
    content = ours["choices"][0]["message"]["content"]
    assert re.fullmatch(r"<think>.+</think>\n\n.+", content, re.DOTALL), content


async def test_pro_plain_body_covers_the_documented_reply(client):
    vendor = seed("protocol_pro_reply.json")
    ours = await post_plain(client, PRO, seed("seed_002_pro_request.json"))
    assert_covers(vendor, ours)
    [message] = ours["choices"][0]["messages"]
    assert (message["sender_type"], message["sender_name"]) == ("BOT", "MM智能助理")
    assert message["text"] == ours["reply"]  # the whole text, twice
    assert ours["base_resp"] == vendor["base_resp"]


# --- streams --------------------------------------------------------------------------


async def test_v2_stream_chunks_cover_seed_000(client):
    vendor = seed_events("seed_000_v2_stream.txt")
    *ours, aggregate = await post_stream(client, V2, seed("seed_000_v2_request.json"))
    vendor_middle, vendor_finish = vendor[:-1], vendor[-1]
    *our_middle, our_finish = ours
    assert our_middle, "a reply of several pieces"
    for chunk in our_middle:
        for example in vendor_middle:
            assert_covers(example, chunk)
        assert "finish_reason" not in chunk["choices"][0]
    assert_covers(vendor_finish, our_finish)
    # The finish chunk still carries content, and no reasoning_content key.
    assert our_finish["choices"][0]["delta"]["content"]
    assert set(our_finish["choices"][0]["delta"]) == set(
        vendor_finish["choices"][0]["delta"]
    )
    for chunk in ours:
        for key in ("usage", "object", "id", "model", "created"):
            assert json_type(chunk[key]) == json_type(vendor_finish[key])
        assert chunk["usage"] == vendor_finish["usage"]  # zero until the end
        assert chunk["object"] == "chat.completion.chunk"
        assert "base_resp" not in chunk
    assert aggregate["object"] == "chat.completion"


async def test_m1_stream_covers_seed_001_and_repeats_the_whole_message(client):
    vendor = seed_events("seed_001_m1_stream.txt")
    ours = await post_stream(
        client,
        V2,
        seed("seed_001_m1_stream_request.json"),
        params={"GroupId": "1234567890"},
    )
    *vendor_chunks, vendor_final = vendor
    *our_chunks, our_final = ours
    for chunk in our_chunks:
        assert_covers(vendor_chunks[0], chunk)
    assert_covers(vendor_chunks[-1], our_chunks[-1])
    assert_covers(vendor_final, our_final)
    assert [c["object"] for c in ours] == [c["object"] for c in vendor[:1]] * len(
        our_chunks
    ) + ["chat.completion"]
    # Only the last event carries usage and base_resp; its message is the whole
    # reply again: joined deltas equal it, for the vendor and for us.
    for events in (vendor, ours):
        *chunks, final = events
        joined = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert final["choices"][0]["message"]["content"] == joined
        assert final["usage"]["total_tokens"] > 0
        assert final["base_resp"] == {"status_code": 0, "status_msg": ""}
        assert all("base_resp" not in c for c in chunks)
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in our_chunks
    )
    assert (
        reasoning
        and reasoning == our_final["choices"][0]["message"]["reasoning_content"]
    )


async def test_pro_stream_partials_then_the_documented_whole_reply(client):
    body = {**seed("seed_002_pro_request.json"), "stream": True}
    *partials, final = await post_stream(client, PRO, body)
    assert_covers(seed("protocol_pro_reply.json"), final)
    for event in partials:
        # Increments: reply "", the piece in messages[0].text, no usage or finish.
        assert event["reply"] == ""
        assert "usage" not in event and "base_resp" not in event
        assert "finish_reason" not in event["choices"][0]
        [message] = event["choices"][0]["messages"]
        assert set(message) == {"sender_type", "sender_name", "text"}
    pieces = "".join(e["choices"][0]["messages"][0]["text"] for e in partials)
    assert final["reply"] == final["choices"][0]["messages"][0]["text"] == pieces


async def test_an_error_has_the_base_resp_shape_of_the_examples(client):
    body = seed("seed_001_m1_request.json")
    body["messages"][-1]["content"] = "你好 [sim:error=1008]"
    response = await client.post(V2, json={**body, "stream": True})
    # Native endpoints: HTTP 200 and one JSON body, even when a stream was asked.
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert_covers(seed("seed_001_m1_plain.json")["base_resp"], payload["base_resp"])
    assert payload["base_resp"]["status_code"] == 1008


# --- the simulator stands on its own ------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(p.name for p in SIMULATOR.glob("*.py")), ids=str
)
def test_the_simulator_imports_nothing_of_the_client(path):
    """It plays MiniMax: it must not share the client's catalog or checks, or the
    two would agree with each other instead of with the vendor."""
    tree = ast.parse((SIMULATOR / path).read_text(encoding="utf-8"))
    outside = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 1
    ]
    absolute = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if (getattr(node, "module", None) or alias.name).startswith("conversations")
    ]
    assert outside == [] and absolute == [], path
