"""Making clips end to end: the real client against the in-process simulator.

A POST answers a pending clip at once; the clip is made by a task in the same
event loop, so these tests are async and use Django's AsyncClient.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient
from mutagen.mp3 import MP3

from conversations import upstream
from speech import catalog, services
from speech.catalog import Endpoint
from speech.checks import check_speech_settings
from speech.models import SpeechClip

pytestmark = pytest.mark.django_db(transaction=True)

THREE_VOICES = [
    {"voice_id": "female-shaonv", "weight": 50},
    {"voice_id": "male-qn-qingse", "weight": 30},
    {"voice_id": "audiobook_male_2", "weight": 20},
]
LONG_ENGLISH = " ".join(
    f"Sentence number {n} tells a short story about the river." for n in range(12)
)
LONG_CHINESE = "".join(f"这是第{n}句话，讲述一条小河的故事。" for n in range(36))


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def offline(settings):
    settings.MINIMAX_API_KEY = ""
    settings.MINIMAX_SIMULATOR_CHUNK_DELAY = 0
    settings.MINIMAX_MAX_RETRIES = 0


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 150 characters, so a text of a few hundred makes several parts."""
    monkeypatch.setitem(catalog.ENDPOINTS, "t2a_v2", Endpoint(10_000, 150))
    monkeypatch.setitem(catalog.ENDPOINTS, "text_to_speech", Endpoint(500, 150))


@pytest.fixture
async def api(user):
    client = AsyncClient()
    await client.aforce_login(user)
    yield client
    await services.wait_for_clips()
    # The test client keeps Django from closing connections at the end of a request
    # (a real server closes them on request_finished, in the thread that served it);
    # sync views and the async ORM all ran in asgiref's one thread-sensitive thread,
    # so close its connection here, or PostgreSQL cannot drop the test database.
    await sync_to_async(connections.close_all)()


async def make_clip(api: AsyncClient, **payload) -> dict:
    """POST a clip, wait for its task, and return its JSON as the API shows it."""
    body = {"text": "Hello there.", "voices": THREE_VOICES, **payload}
    response = await api.post("/api/speech/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "pending"
    await services.wait_for_clips()
    answer = await api.get(f"/api/speech/{created['id']}/")
    return answer.json()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def clip_bytes(clip_id: int) -> bytes:
    clip = await SpeechClip.objects.aget(pk=clip_id)
    return await sync_to_async(lambda: clip.file.open("rb").read())()


async def test_a_mix_of_three_voices_becomes_a_stored_mp3(api, media_root):
    clip = await make_clip(api, model="speech-02-hd", speed=1.2, emotion="calm")

    assert clip["status"] == "done", clip["error"]
    assert clip["voices"] == THREE_VOICES
    assert clip["download_url"] == f"/speech/{clip['id']}/download"
    assert clip["trace_id"] and clip["characters_billed"] > 0
    data = await clip_bytes(clip["id"])
    assert clip["size_bytes"] == len(data)
    assert MP3(io.BytesIO(data)).info.length * 1000 == pytest.approx(
        clip["duration_ms"], abs=1
    )
    # Nothing left behind but the one file.
    assert len(stored_files(media_root)) == 1


async def speak_alone(text: str, model: str) -> float:
    """Return the seconds mutagen reads in one part made on its own."""
    speech = check_speech_settings(
        {"text": text, "model": model, "voices": THREE_VOICES}
    )
    audio = await upstream.get_minimax_client().speak(speech.request(text))
    return MP3(io.BytesIO(audio.audio)).info.length


@pytest.mark.parametrize(
    "text, model",
    [(LONG_ENGLISH, "speech-2.6-turbo"), (LONG_CHINESE, "speech-01")],
    ids=["english-t2a_v2", "chinese-legacy"],
)
async def test_a_long_text_is_split_and_joined_into_one_mp3(
    api, small_parts, text, model
):
    parts = services.plan_parts(text, catalog.MODELS_BY_ID[model].endpoint)
    assert len(parts) >= 4

    clip = await make_clip(api, text=text, model=model)

    assert clip["status"] == "done", clip["error"]
    assert clip["parts_done"] == clip["parts_total"] == len(parts)
    assert len(clip["trace_ids"]) == len(parts)
    data = await clip_bytes(clip["id"])
    joined = MP3(io.BytesIO(data)).info.length
    alone = [await speak_alone(part, model) for part in parts]
    assert joined == pytest.approx(sum(alone), abs=0.001)
    assert clip["duration_ms"] == pytest.approx(joined * 1000, abs=1)
    assert b"ID3" not in data and b"Xing" not in data and b"Info" not in data


@pytest.mark.parametrize(
    "text, voice, kind, says",
    [
        ("No money [sim:error=1008]", "female-shaonv", "balance", "Top it up"),
        ("Too fast [sim:error=1002]", "female-shaonv", "rate_limit", "Wait"),
        ("Bad words [sim:error=1026]", "female-shaonv", "sensitive_input", "Rephrase"),
        ("Who is it?", "nobody-at-all", "invalid_request", "nobody-at-all"),
    ],
)
async def test_minimax_errors_are_clear_and_store_no_file(
    api, media_root, text, voice, kind, says
):
    voices = [{"voice_id": voice, "weight": 1}]
    clip = await make_clip(api, text=text, voices=voices)

    assert clip["status"] == "error"
    assert clip["error_kind"] == kind
    assert says in clip["error"]
    assert clip["download_url"] is None
    assert stored_files(media_root) == []
    response = await api.get(f"/speech/{clip['id']}/download")
    assert response.status_code == 404


async def test_one_failed_part_fails_the_whole_clip(api, media_root, small_parts):
    text = LONG_ENGLISH + " This last one fails [sim:error=1000]."
    total = len(services.plan_parts(text, "t2a_v2"))

    clip = await make_clip(api, text=text)

    assert clip["status"] == "error"
    assert clip["error"].startswith(f"Part {total} of {total} failed:")
    assert stored_files(media_root) == []


async def test_a_clip_left_pending_by_a_dead_process_is_marked_failed(api, user):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(minutes=5)
    clip = await SpeechClip.objects.acreate(
        owner=user,
        text="Lost",
        model="speech-02-hd",
        endpoint="t2a_v2",
        voices=THREE_VOICES,
        heartbeat_at=old,
    )

    listed = (await api.get("/api/speech/")).json()["clips"]

    assert listed[0]["id"] == clip.pk
    assert listed[0]["status"] == "error"
    assert "Generate it again" in listed[0]["error"]


async def test_preview_answers_a_short_mp3_of_the_mix(api):
    body = {"text": LONG_ENGLISH, "voices": THREE_VOICES}
    response = await api.post(
        "/api/speech/preview/", body, content_type="application/json"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    seconds = MP3(io.BytesIO(response.content)).info.length
    assert 1 < seconds < 15  # the opening sentences, not the whole text
    assert await SpeechClip.objects.acount() == 0


async def test_parts_are_made_at_most_three_at_a_time(api, small_parts, monkeypatch):
    real = upstream.get_minimax_client()
    in_flight, most = 0, 0

    class CountingClient:
        async def speak(self, request):
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                await asyncio.sleep(0.02)  # long enough for the others to pile up
                return await real.speak(request)
            finally:
                in_flight -= 1

    monkeypatch.setattr(upstream, "get_minimax_client", CountingClient)
    clip = await make_clip(api, text=LONG_ENGLISH)

    assert clip["status"] == "done"
    assert clip["parts_total"] > services.PARALLEL_PARTS
    assert most == services.PARALLEL_PARTS
