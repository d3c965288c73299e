"""The json_schema rules: one name rule for the form, the request and the simulator;
a reply checked against the schema it was asked for."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from conversations.minimax.catalog import Dialect
from conversations.minimax.client import MiniMaxClient
from conversations.minimax.dialects import build_body, check_request
from conversations.minimax.errors import InvalidRequest
from conversations.minimax.schema import reply_matches_schema, schema_name_is_valid
from conversations.minimax.simulator import SimulatorTransport
from conversations.minimax.types import ChatMessage, ChatRequest

SEED_SCHEMA = json.loads(
    (
        Path(__file__).parent / "fixtures" / "seeds" / "seed_001_json_schema.json"
    ).read_text(encoding="utf-8")
)["json_schema"]

VALID_NAMES = ["user_analysis", "a", "A1_b2", "x" * 64]
INVALID_NAMES = ["", "x" * 65, "has space", "a-b", "名字", "naïve", None, 42]


def schema_request(name: object) -> ChatRequest:
    schema = {**SEED_SCHEMA, "name": name}
    return ChatRequest(
        "MiniMax-Text-01",
        [ChatMessage("user", "Analyse: 太可爱啦!")],
        dialect=Dialect.V2,
        json_schema=schema,
    )


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names(name):
    assert schema_name_is_valid(name)
    check_request(schema_request(name), Dialect.V2)


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names_are_refused_before_sending(name):
    assert not schema_name_is_valid(name)
    with pytest.raises(InvalidRequest, match="name"):
        check_request(schema_request(name), Dialect.V2)


@pytest.fixture
async def client():
    client = MiniMaxClient(
        api_key="sk-test-schema",
        base_url="http://simulator",
        transport=SimulatorTransport(chunk_delay=0),
        max_retries=0,
    )
    yield client
    await client.aclose()


@pytest.mark.parametrize("name", ["名字", "a-b", "x" * 65])
async def test_the_simulator_reads_the_name_rule_the_same_way(name):
    """Sent anyway (the client's check skipped), MiniMax answers 2013."""
    body = build_body(schema_request(name), Dialect.V2)
    async with httpx.AsyncClient(
        base_url="http://simulator",
        transport=SimulatorTransport(chunk_delay=0),
        headers={"Authorization": "Bearer sk-test-schema"},
    ) as http:
        response = await http.post("/v1/text/chatcompletion_v2", json=body)
    assert response.json()["base_resp"]["status_code"] == 2013
    assert "json_schema.name" in response.json()["base_resp"]["status_msg"]


async def test_the_seed_schema_reply_matches_it(client):
    result = await client.complete(schema_request("user_analysis"))
    assert reply_matches_schema(result.text, SEED_SCHEMA)
    assert (
        json.loads(result.text)["content_result"]
        in (SEED_SCHEMA["schema"]["properties"]["content_result"]["enum"])
    )


def test_replies_that_do_not_match():
    assert not reply_matches_schema("not json", SEED_SCHEMA)
    assert not reply_matches_schema('{"analysis": 1}', SEED_SCHEMA)
    broken = {"schema": {"type": "object", "required": "not-a-list"}}
    assert not reply_matches_schema("{}", broken)
    # No schema asked for: any JSON will do.
    assert reply_matches_schema('{"a": 1}', None)
