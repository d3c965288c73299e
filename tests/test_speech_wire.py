"""What the studio sends MiniMax: each endpoint's body, field by field.

The legacy text_to_speech body is the seed's (003) own request; t2a_v2 nests the
voice and audio settings and names the mix timbre_weights (docs/minimax-protocol-
tts.md says why). The bodies are captured off the real client's HTTP requests.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from conversations.minimax.client import MiniMaxClient
from speech.checks import check_speech_settings

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
SEED_MIX = json.loads((SEEDS / "seed_003_t2a_request.json").read_text())[
    "timber_weights"
]
MP3_FRAME = bytes.fromhex("fffb9004") + bytes(572)  # one silent 128 kbps frame


async def sent_body(payload: dict) -> tuple[str, dict]:
    """Return the path and JSON body the client sends for the studio's payload."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/text_to_speech":
            return httpx.Response(
                200, content=MP3_FRAME, headers={"Content-Type": "audio/mpeg"}
            )
        return httpx.Response(
            200,
            json={
                "data": {"audio": MP3_FRAME.hex(), "status": 2},
                "trace_id": "t",
                "base_resp": {"status_code": 0, "status_msg": "success"},
            },
        )

    client = MiniMaxClient(
        api_key="k",
        base_url="http://minimax.test",
        transport=httpx.MockTransport(answer),
    )
    try:
        speech = check_speech_settings(payload)
        await client.speak(speech.request(speech.text))
    finally:
        await client.aclose()
    return seen[0].url.path, json.loads(seen[0].content)


LEGACY_ONE = {
    "text": "你好",
    "model": "speech-01",
    "voices": [{"voice_id": "male-qn-qingse", "weight": 1}],
    "speed": 1.0,
    "vol": 1.0,
    "pitch": 0,
}


async def test_legacy_one_voice_is_a_flat_body_with_voice_id():
    path, body = await sent_body(LEGACY_ONE)

    assert path == "/v1/text_to_speech"
    assert body == {
        "model": "speech-01",
        "text": "你好",
        "voice_id": "male-qn-qingse",
        "speed": 1.0,
        "vol": 1.0,
        "pitch": 0,
    }


async def test_legacy_mix_is_exactly_the_seed_request():
    payload = {**LEGACY_ONE, "voices": SEED_MIX}
    path, body = await sent_body(payload)

    assert path == "/v1/text_to_speech"
    assert body == json.loads((SEEDS / "seed_003_t2a_request.json").read_text())


T2A_ONE = {
    "text": "Hello there.",
    "model": "speech-02-hd",
    "voices": [{"voice_id": "female-shaonv", "weight": 1}],
    "speed": 1.25,
    "vol": 2.0,
    "pitch": -3,
    "emotion": "happy",
}
AUDIO_SETTING = {"sample_rate": 32000, "bitrate": 128000, "format": "mp3", "channel": 1}


async def test_t2a_one_voice_nests_voice_setting_without_a_mix():
    path, body = await sent_body(T2A_ONE)

    assert path == "/v1/t2a_v2"
    assert body == {
        "model": "speech-02-hd",
        "text": "Hello there.",
        "stream": False,
        "voice_setting": {
            "voice_id": "female-shaonv",
            "speed": 1.25,
            "vol": 2.0,
            "pitch": -3,
            "emotion": "happy",
        },
        "audio_setting": AUDIO_SETTING,
    }


async def test_t2a_mix_is_timbre_weights_beside_voice_setting():
    mix = [
        {"voice_id": "female-shaonv", "weight": 60},
        {"voice_id": "male-qn-qingse", "weight": 30},
        {"voice_id": "English_Graceful_Lady", "weight": 10},
    ]
    path, body = await sent_body({**T2A_ONE, "voices": mix, "emotion": None})

    assert path == "/v1/t2a_v2"
    assert body == {
        "model": "speech-02-hd",
        "text": "Hello there.",
        "stream": False,
        "voice_setting": {
            "voice_id": "female-shaonv",
            "speed": 1.25,
            "vol": 2.0,
            "pitch": -3,
        },
        "audio_setting": AUDIO_SETTING,
        "timbre_weights": mix,
    }
    assert "timber_weights" not in body


@pytest.mark.parametrize("model", ["speech-01", "speech-02"])
async def test_legacy_models_never_send_emotion_or_nested_settings(model):
    _, body = await sent_body({**LEGACY_ONE, "model": model, "voices": SEED_MIX})

    assert set(body) == {
        "model",
        "text",
        "voice_id",
        "speed",
        "vol",
        "pitch",
        "timber_weights",
    }
