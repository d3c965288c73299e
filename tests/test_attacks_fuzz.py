"""Fuzzed input: every websocket frame type, every field of the conversation, speech
and history APIs (bodies, query parameters, the import file) get a clear answer (an
error frame, a 4xx), never a 500 or a dead socket."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.models import Conversation
from conversations.replies import runner
from tests.fixtures.app import ws_communicator

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings a careless server chokes on: lone surrogates, NULs, huge, RTL, emoji.
awkward_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "So"]), max_size=5),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "‮", "😀" * 3, "x" * 70_000]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | awkward_text,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
DEEP = "[" * 50_000 + "]" * 50_000

# --- the websocket -------------------------------------------------------------

# Every frame the browser may send (docs/websocket.md, "Frames the browser sends").
FRAME_TYPES = [
    "message.send",
    "message.edit",
    "branch.switch",
    "reply.stop",
    "reply.regenerate",
    "reply.resync",
]
frame_fields = st.dictionaries(
    st.sampled_from(["content", "client_id", "message_id", "extra"])
    | st.text(max_size=5),
    json_values,
    max_size=3,
)
frames = st.one_of(
    st.builds(
        lambda kind, fields: json.dumps({**fields, "type": kind}),
        st.sampled_from(FRAME_TYPES) | json_values,
        frame_fields,
    ),
    st.builds(json.dumps, json_values),
    st.just('{"type": "message.send", "content": ' + DEEP + "}"),
    st.text(min_size=1, max_size=30),
)
PROBE = {"type": "no.such.type"}


async def exchange(user, conversation_id: int, text: str) -> list[dict]:
    """Send `text`, then a probe; return what came back up to the probe's answer."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    socket = ws_communicator(user, conversation_id)
    connected, _ = await socket.connect()
    assert connected
    try:
        await socket.send_to(text_data=text)
        await socket.send_json_to(PROBE)
        answers = []
        while True:
            frame = await socket.receive_json_from(timeout=5)
            answers.append(frame)
            if frame["type"] == "error" and frame["message"] == "Unknown frame type.":
                return answers
    finally:
        await runner.wait_for_replies()
        await socket.disconnect()


@FUZZ
@given(text=frames)
def test_a_fuzzed_frame_never_kills_the_socket(text, user, conversation, fake_minimax):
    answers = async_to_sync(exchange)(user, conversation.pk, text)

    # The probe was answered: the socket lived. And nothing failed inside.
    codes = {a.get("code") for a in answers if a["type"] == "error"}
    assert "unavailable" not in codes, answers


# --- the JSON API ---------------------------------------------------------------

FIELDS = [
    "model",
    "dialect",
    "system_prompt",
    "bot_name",
    "user_name",
    "temperature",
    "top_p",
    "max_tokens",
    "json_schema",
    "title",
    "pinned",
    "archived",
]
payloads = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=5), json_values, max_size=5
)
bodies = st.one_of(
    st.builds(json.dumps, payloads),
    st.builds(json.dumps, json_values),
    st.just(DEEP),
    st.just('{"title": ' + DEEP + "}"),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
)


@pytest.fixture
def ada(user, settings):
    settings.CHAT_LIMIT_CONVERSATIONS_PER_HOUR = 0
    client = Client()  # a server error raises here, with its traceback
    client.force_login(user)
    return client


def assert_clear_answer(response, ok: int) -> None:
    assert response.status_code in (ok, 400), response.content[:300]
    if response.status_code == 400 and response["Content-Type"].startswith(
        "application/json"
    ):
        assert response.json().get("errors") or response.json().get("error")


@FUZZ
@given(body=bodies)
def test_a_fuzzed_create_is_a_201_or_a_clear_400(body, ada):
    response = ada.post("/api/conversations/", body, content_type="application/json")
    assert_clear_answer(response, 201)


@FUZZ
@given(body=bodies)
def test_a_fuzzed_patch_is_a_200_or_a_clear_400(body, ada, conversation):
    before = Conversation.objects.values().get(pk=conversation.pk)
    response = ada.patch(
        f"/api/conversations/{conversation.pk}/", body, content_type="application/json"
    )
    assert_clear_answer(response, 200)
    if response.status_code == 400:
        assert Conversation.objects.values().get(pk=conversation.pk) == before
    else:
        # What was saved reads back as the JSON that was answered.
        data = response.json()
        conversation.refresh_from_db()
        assert data["title"] == conversation.title
        Conversation.objects.filter(pk=conversation.pk).update(
            **{k: v for k, v in before.items() if k not in ("id", "owner_id")}
        )


# --- the speech API -------------------------------------------------------------

SPEECH_FIELDS = ["text", "model", "voices", "speed", "vol", "pitch", "emotion", "name"]
voice_lists = st.lists(
    st.dictionaries(
        st.sampled_from(["voice_id", "weight"]) | st.text(max_size=4),
        json_values,
        max_size=3,
    )
    | json_values,
    max_size=5,
)
speech_payloads = st.fixed_dictionaries(
    {},
    optional={
        **{field: json_values for field in SPEECH_FIELDS},
        "voices": voice_lists | json_values,
    },
)
speech_bodies = st.one_of(
    st.builds(json.dumps, speech_payloads),
    st.builds(json.dumps, json_values),
    st.just(DEEP),
    st.just('{"text": "hi", "voices": ' + DEEP + "}"),
)


@pytest.fixture
def speaker(ada, settings, tmp_path):
    settings.MINIMAX_API_KEY = ""
    settings.MINIMAX_SIMULATOR_CHUNK_DELAY = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    return ada


@FUZZ
@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("/api/speech/", 201),
        ("/api/speech/blends/", 201),
        ("/api/speech/preview/", 200),
    ],
    ids=["clip", "blend", "preview"],
)
@given(body=speech_bodies)
def test_a_fuzzed_speech_body_is_a_clear_400(body, url, ok, speaker):
    response = speaker.post(url, body, content_type="application/json")
    assert_clear_answer(response, ok)


# --- the history API: query parameters, the import file -------------------------

awkward_param = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "99999999999",
            "1e400",
            "2026-02-30",
            "99999-01-01",
            "0000-00-00",
            "Asia/Nowhere",
            "../../etc/passwd",
            "x" * 5000,
            "\ud800",
            "%00",
        ]
    ),
)
SEARCH_PARAMS = [
    "q",
    "reasoning",
    "model",
    "from",
    "to",
    "tz",
    "flagged",
    "archived",
    "limit",
    "cursor",
]
LIST_PARAMS = ["archived", "tz", "limit", "cursor"]


def query(params: list[str]):
    """Query strings; a lone surrogate goes as the bytes a careless client sends
    (%ED%A0%80, not UTF-8), since a URL cannot hold one."""
    return st.dictionaries(st.sampled_from(params), awkward_param, max_size=5).map(
        lambda values: "?" + urlencode(values, errors="surrogatepass")
    )


@FUZZ
@given(params=query(SEARCH_PARAMS))
def test_a_fuzzed_search_is_a_200_or_a_clear_400(params, ada):
    assert_clear_answer(ada.get(f"/api/search/{params}"), 200)


@FUZZ
@given(params=query(LIST_PARAMS))
def test_a_fuzzed_list_is_a_200_or_a_clear_400(params, ada):
    assert_clear_answer(ada.get(f"/api/conversations/{params}"), 200)


@FUZZ
@given(fmt=awkward_param)
def test_a_fuzzed_export_format_is_a_200_or_a_clear_400(fmt, ada, conversation):
    for url in ("/api/export/", f"/api/conversations/{conversation.pk}/export"):
        query = urlencode({"format": fmt}, errors="surrogatepass")
        response = ada.get(f"{url}?{query}")
        assert response.status_code in (200, 400), (url, fmt, response.status_code)


def export_like(messages, settings_values, conversation_fields):
    """An export document with fuzzed values where the real ones go."""
    return {
        "format": "minimax-chat-export",
        "version": 1,
        "exported_at": "2026-12-01T22:00:00.000000Z",
        "conversations": [
            {
                "id": 1,
                "title": "t",
                "created_at": "2026-12-01T22:00:00Z",
                "updated_at": "2026-12-01T22:00:00Z",
                "settings": {"model": "MiniMax-M1", "dialect": "v2", **settings_values},
                "messages": messages,
                **conversation_fields,
            }
        ],
    }


MESSAGE_FIELDS = ["id", "parent_id", "role", "content", "status", "created_at", "usage"]
import_documents = st.one_of(
    st.builds(
        export_like,
        st.lists(
            st.dictionaries(
                st.sampled_from(MESSAGE_FIELDS) | st.text(max_size=4),
                json_values,
                max_size=4,
            ),
            max_size=3,
        ),
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "title", "pinned", "active_leaf_id", "created_at"]),
            json_values,
            max_size=3,
        ),
    ).map(json.dumps),
    st.builds(json.dumps, json_values),
    st.just(DEEP),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


@FUZZ
@given(document=import_documents)
def test_a_fuzzed_import_file_is_a_clear_answer(document, ada):
    data = document.encode("utf-8", "surrogatepass")
    upload = SimpleUploadedFile("export.json", data)
    response = ada.post("/api/import/", {"file": upload})
    assert response.status_code in (200, 201, 400), response.content[:300]
    if response.status_code == 400:
        # Where and why (errors.file), or the generic 400 of a body nested too deep.
        answer = response.json()
        assert answer.get("errors", {}).get("file") or answer.get("error")
