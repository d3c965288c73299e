"""A hostile or broken upstream, through the whole site: the simulator over real HTTP.

Each case sends one user's message to the simulator (a separate server process) with
a trigger phrase, and another user's plain message while that reply is under way.
Whatever upstream does, the user's message is stored, the reply is stored with the
status it deserves and the text it had so far, the page is told in plain words, and
the other user's reply completes meanwhile.

The timers are short (settings below) so the whole matrix runs in seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from conversations import error_text
from conversations.minimax.errors import ERRORS_BY_CODE
from conversations.minimax.simulator.failures import STATUS_MESSAGES
from conversations.models import Conversation, Message
from tests.page_model import reply_shown

pytestmark = pytest.mark.django_db(transaction=True)

# The site's key: a canary that must never reach a page or a stored message.
CANARY = "sk-canary-UpstreamFaults-7Qm2Xv9Lp4Rt"
TIMER = 0.6  # first-token and idle timeout, seconds

DIALECTS = [
    pytest.param("abab6.5s-chat", "v2", id="v2"),
    pytest.param("MiniMax-M2.7", "chat", id="chat-completions"),
    pytest.param("abab6.5s-chat", "pro", id="pro"),
]

# trigger -> (status, error kind or "", finish reason or "", text so far?, words the
# page shows)
# "text so far": the reply keeps what came before the fault (three events of the
# default reply), or has none when nothing came.
FAULTS = {
    "stall-first": ("error", "timeout", "", False, "no reply within 0.6 s"),
    "stall-mid": ("error", "timeout", "", True, "stopped sending for 0.6 s"),
    "drop": ("error", "unreachable", "", True, "connection to MiniMax was cut"),
    "malformed": ("error", "protocol", "", True, "not valid JSON"),
    "huge-line": ("error", "protocol", "", True, "longer than 1 MiB"),
    "http=500": ("error", "server", "", False, "internal error"),
    "http=502": ("error", "server", "", False, "internal error"),
    "http=503": ("error", "server", "", False, "internal error"),
    "length": ("complete", "", "length", True, ""),
    "odd-numbers": ("complete", "", "stop", True, ""),
    "repeat": ("complete", "", "stop", True, ""),
}
CODES = sorted(STATUS_MESSAGES)


@pytest.fixture
def upstream_site(settings, simulator_url, channel_layer):
    """The site online, its key a canary, upstream the simulator over HTTP."""
    settings.MINIMAX_API_KEY = CANARY
    settings.MINIMAX_BASE_URL = simulator_url
    settings.MINIMAX_CONNECT_TIMEOUT = 2.0
    settings.MINIMAX_FIRST_TOKEN_TIMEOUT = TIMER
    settings.MINIMAX_IDLE_TIMEOUT = TIMER
    settings.MINIMAX_MAX_RETRIES = 0
    return settings


async def read_until_done(socket) -> list[dict]:
    """Return the frames a page gets up to the reply's final reply.done."""
    frames = []
    while True:
        frame = await socket.receive_json_from(timeout=10)
        frames.append(frame)
        if frame["type"] == "reply.done":
            return frames


async def exchange(open_socket, user, other_user, model, dialect, prompt):
    """Send prompt as user and a plain message as other_user once the reply started.

    Return the user's frames, the other user's frames, and which finished first.
    """
    mine = await database_sync_to_async(Conversation.objects.create)(
        owner=user, model=model, dialect=dialect
    )
    theirs = await database_sync_to_async(Conversation.objects.create)(
        owner=other_user, model=model, dialect=dialect
    )
    socket = await open_socket(user, mine.pk)
    other = await open_socket(other_user, theirs.pk)
    await socket.send_json_to(
        {"type": "message.send", "content": prompt, "client_id": "c1"}
    )
    first = [await socket.receive_json_from(timeout=5) for _ in range(2)]
    assert [f["type"] for f in first] == ["message.created"] * 2
    assert first[1]["message"]["status"] == "streaming"
    await other.send_json_to({"type": "message.send", "content": "What is a river?"})
    order: list[str] = []

    async def watch(name, sock):
        frames = await read_until_done(sock)
        order.append(name)
        return frames

    frames, other_frames = await asyncio.gather(
        watch("mine", socket), watch("theirs", other)
    )
    return mine, first + frames, other_frames, order


def stored(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.order_by("pk"))


async def check_case(
    open_socket, user, other_user, model, dialect, prompt, status, kind, finish, text
):
    mine, frames, other_frames, order = await exchange(
        open_socket, user, other_user, model, dialect, prompt
    )
    question, reply = await database_sync_to_async(stored)(mine)

    # The user's message is stored as sent.
    assert question.role == "user" and question.content == prompt
    # The reply is stored with its status and the text it had so far.
    assert reply.role == "assistant"
    assert reply.status == status, (reply.status, reply.error_kind, reply.error_message)
    assert reply.error_kind == kind
    if finish:
        assert reply.finish_reason == finish
    # (M2.7 thinks first: its first events are reasoning.)
    if text:
        assert (reply.content + reply.reasoning).strip(), "the text so far is kept"
    else:
        assert reply.content == reply.reasoning == ""
    # The page was told, in the words of error_text and with the text so far.
    done = reply_shown(frames)
    assert frames[-1]["type"] == "reply.done"
    assert done["id"] == reply.pk and done["status"] == status
    assert done["content"] == reply.content
    assert done["reasoning"] == reply.reasoning
    if kind:
        assert done["error"]["kind"] == kind
        assert done["error"]["message"].strip()
        assert error_text.error_headline(kind)
    else:
        assert done["error"] is None
    page = json.dumps(frames)
    assert CANARY not in page and CANARY.lower() not in page.lower()
    # Another user's reply, sent while this one was under way, completed.
    theirs = reply_shown(other_frames)
    assert theirs["status"] == "complete" and theirs["content"].strip()
    if prompt.endswith(("[sim:stall-first]", "[sim:stall-mid]")):
        assert order[0] == "theirs", "the other reply did not wait for the stall"
    return reply, done


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize(("model", "dialect"), DIALECTS)
async def test_a_fault_upstream_keeps_the_exchange(
    upstream_site, open_socket, user, other_user, model, dialect, fault
):
    status, kind, finish, text, says = FAULTS[fault]
    reply, done = await check_case(
        open_socket,
        user,
        other_user,
        model,
        dialect,
        f"Tell me about rivers. [sim:{fault}]",
        status,
        kind,
        finish,
        text,
    )
    if says:
        assert says in done["error"]["message"]
    if fault == "repeat":
        assert reply.content.count("Again and again, the same words.") == 16


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize(("model", "dialect"), DIALECTS)
async def test_every_documented_status_code_is_a_clear_error(
    upstream_site, open_socket, user, other_user, model, dialect, code
):
    kind = ERRORS_BY_CODE[code].kind
    reply, done = await check_case(
        open_socket,
        user,
        other_user,
        model,
        dialect,
        f"Tell me about rivers. [sim:error={code}]",
        "error",
        kind,
        "",
        False,
    )
    assert done["error"]["code"] == code
    # The headline of its kind (in English here).
    headline = ERRORS_BY_CODE[code].default_message.split(".")[0]
    assert headline in done["error"]["message"]
    assert reply.error_code == code


def canary_forms() -> list[str]:
    """Return the canary the ways an upstream echoes it (simulator's key_echo)."""
    header = base64.b64encode(f"Bearer {CANARY}".encode()).decode()
    return [CANARY, CANARY.lower(), CANARY.upper(), CANARY[:10], header[10:30]]


@pytest.mark.parametrize(("model", "dialect"), DIALECTS)
async def test_an_error_that_echoes_the_key_shows_none_of_it(
    upstream_site, open_socket, user, other_user, model, dialect, caplog
):
    reply, done = await check_case(
        open_socket,
        user,
        other_user,
        model,
        dialect,
        "Tell me about rivers. [sim:echo-key]",
        "error",
        "invalid_request",
        "",
        False,
    )
    shown = json.dumps(done) + reply.error_message + caplog.text
    # The vendor's words are shown (they name the field), the key in none of them.
    assert "invalid params, api key ***" in done["error"]["message"]
    assert [form for form in canary_forms() if form.lower() in shown.lower()] == []


# --- speech: a T2A answer that is JSON ------------------------------------------


@pytest.fixture
async def speech_api(upstream_site, user, settings, tmp_path):
    from asgiref.sync import sync_to_async
    from django.db import connections

    from speech import services

    settings.MEDIA_ROOT = tmp_path / "media"
    client = AsyncClient()
    await client.aforce_login(user)
    yield client
    await services.wait_for_clips()
    await sync_to_async(connections.close_all)()


@pytest.mark.parametrize(
    ("model", "trigger", "kind"),
    [
        ("speech-02-hd", "[sim:error=1008]", "balance"),
        ("speech-02-hd", "[sim:error=1004]", "auth"),
        ("speech-02-hd", "[sim:http=502]", "server"),
        ("speech-01", "[sim:error=1008]", "balance"),
        ("speech-01", "[sim:error=1002]", "rate_limit"),
        ("speech-01", "[sim:http=503]", "server"),
        ("speech-02-hd", "[sim:echo-key]", "invalid_request"),
        ("speech-01", "[sim:echo-key]", "invalid_request"),
    ],
    ids=[
        "t2a_v2-1008",
        "t2a_v2-1004",
        "t2a_v2-502",
        "legacy-json-1008",
        "legacy-json-1002",
        "legacy-503",
        "t2a_v2-echo-key",
        "legacy-echo-key",
    ],
)
async def test_a_speech_answer_that_is_json_is_a_clear_error(
    speech_api, settings, model, trigger, kind
):
    from speech import services

    body = {
        "text": f"Hello there. {trigger}",
        "model": model,
        "voices": [{"voice_id": "female-shaonv", "weight": 1}],
    }
    response = await speech_api.post(
        "/api/speech/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    await services.wait_for_clips()
    clip = (await speech_api.get(f"/api/speech/{response.json()['id']}/")).json()

    assert clip["status"] == "error"
    assert clip["error_kind"] == kind
    assert clip["error"].strip()
    assert clip["download_url"] is None
    shown = json.dumps(clip).lower()
    assert [form for form in canary_forms() if form.lower() in shown] == []
    files = [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]
    assert files == [], "no audio file is kept for an error"
