"""The simulator's text-to-speech: real MP3 that follows the text and the voice."""

from __future__ import annotations

import array
import itertools
import json
import re

import pytest

from tests.fixtures.simulator import sse_data

T2A = "/v1/t2a_v2"
LEGACY = "/v1/text_to_speech"
SENTENCE = "Hello, this is a short test of the speech simulator."

# MPEG audio layer III tables: kbps per bitrate index, Hz per sample-rate index.
MPEG1_KBPS = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
MPEG2_KBPS = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
SAMPLE_RATES = {
    3: (44100, 48000, 32000),
    2: (22050, 24000, 16000),
    0: (11025, 12000, 8000),
}


def mp3_seconds(data: bytes) -> float:
    """Return the duration of an MP3 from its frame headers (all frames must parse)."""
    position, seconds = 0, 0.0
    while position < len(data):
        header = int.from_bytes(data[position : position + 4], "big")
        assert header >> 21 == 0x7FF, f"no frame sync at byte {position}"
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        assert layer == 1, "layer III"
        kbps = (MPEG1_KBPS if version == 3 else MPEG2_KBPS)[(header >> 12) & 0xF]
        rate = SAMPLE_RATES[version][(header >> 10) & 3]
        padding = (header >> 9) & 1
        samples = 1152 if version == 3 else 576
        position += samples // 8 * kbps * 1000 // rate + padding
        seconds += samples / rate
    assert position == len(data), "the last frame is complete"
    return seconds


@pytest.fixture
def client(simulator_client):
    return simulator_client


def t2a_body(text: str = SENTENCE, **voice) -> dict:
    voice_setting = {"voice_id": "female-shaonv", "speed": 1.0, "vol": 1.0, "pitch": 0}
    return {
        "model": "speech-02-hd",
        "text": text,
        "voice_setting": voice_setting | voice,
    }


async def speak(client, body: dict) -> tuple[bytes, dict]:
    response = await client.post(T2A, json=body)
    result = response.json()
    assert result["base_resp"] == {"status_code": 0, "status_msg": "success"}, result
    return bytes.fromhex(result["data"]["audio"]), result


async def test_t2a_v2_returns_hex_mp3_with_extra_info(client):
    audio, result = await speak(client, t2a_body())

    assert audio[:2] == b"\xff\xfb"  # MPEG-1 layer III frame sync at 32 kHz
    assert re.fullmatch(r"[0-9a-f]{32}", result["trace_id"])
    assert result["data"]["status"] == 2
    info = result["extra_info"]
    assert info["audio_size"] == len(audio)
    assert info["audio_sample_rate"] == 32000 and info["bitrate"] == 128000
    assert info["audio_format"] == "mp3" and info["audio_channel"] == 1
    assert info["word_count"] == 10
    assert info["usage_characters"] == len(SENTENCE)
    assert abs(mp3_seconds(audio) * 1000 - info["audio_length"]) < 150


async def test_duration_follows_text_length_and_speed(client):
    short, _ = await speak(client, t2a_body("Hello there."))
    longer, _ = await speak(client, t2a_body(SENTENCE * 3))
    fast, _ = await speak(client, t2a_body(SENTENCE * 3, speed=2.0))

    assert mp3_seconds(longer) > 3 * mp3_seconds(short)
    assert mp3_seconds(fast) == pytest.approx(mp3_seconds(longer) / 2, rel=0.15)


async def test_voice_mix_changes_the_sound_and_is_stable(client):
    body = t2a_body()
    mixed = {
        **body,
        "timbre_weights": [
            {"voice_id": "male-qn-qingse", "weight": 70},
            {"voice_id": "female-shaonv", "weight": 30},
        ],
    }
    plain, _ = await speak(client, body)
    again, _ = await speak(client, body)
    blended, _ = await speak(client, mixed)

    assert plain == again
    assert blended != plain


async def pcm(client, **voice) -> array.array:
    body = t2a_body("啊啊啊", **voice)
    body["audio_setting"] = {"format": "pcm", "sample_rate": 16000}
    audio, _ = await speak(client, body)
    return array.array("h", audio)


async def test_vol_makes_it_louder_and_pitch_higher(client):
    base = await pcm(client)
    loud = await pcm(client, vol=4.0)
    high = await pcm(client, pitch=12)

    def crossings(samples: array.array) -> int:
        return sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)

    assert max(loud) > 2 * max(base)
    assert crossings(high) == pytest.approx(2 * crossings(base), rel=0.1)


async def test_t2a_stream_sends_pieces_then_the_whole_audio(client):
    response = await client.post(T2A, json={**t2a_body(SENTENCE * 2), "stream": True})

    *pieces, final = [json.loads(line) for line in sse_data(response.content)]
    assert len(pieces) >= 2
    assert all(p["data"]["status"] == 1 and "extra_info" not in p for p in pieces)
    joined = "".join(p["data"]["audio"] for p in pieces)
    assert final["data"]["status"] == 2
    assert final["data"]["audio"] == joined
    assert final["extra_info"]["audio_size"] == len(bytes.fromhex(joined))
    assert mp3_seconds(bytes.fromhex(joined)) > 3


async def test_legacy_tts_returns_audio_mpeg_with_trace_id(client):
    body = {
        "model": "speech-01",
        "text": "你好",
        "voice_id": "male-qn-qingse",
        "speed": 1.0,
        "vol": 1.0,
        "pitch": 0,
        "timber_weights": [
            {"voice_id": "male-qn-qingse", "weight": 1},
            {"voice_id": "female-shaonv", "weight": 1},
            {"voice_id": "female-yujie", "weight": 1},
            {"voice_id": "audiobook_male_2", "weight": 1},
        ],
    }
    response = await client.post(LEGACY + "?GroupId=1", json=body)

    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["trace-id"])
    assert mp3_seconds(response.content) > 0.3


@pytest.mark.parametrize(
    "body, code",
    [
        ({"model": "speech-01", "text": "hi", "voice_id": "no-such-voice"}, 20132),
        (
            {"model": "speech-01", "text": "hi [sim:error=1008]", "voice_id": "Grinch"},
            1008,
        ),
    ],
)
async def test_legacy_tts_errors_are_json_with_trace_id(client, body, code):
    response = await client.post(LEGACY, json=body)

    assert "json" in response.headers["content-type"]
    assert response.json()["trace_id"] == response.headers["trace-id"]
    assert response.json()["base_resp"]["status_code"] == code


@pytest.mark.parametrize(
    "change, field",
    [
        ({"speed": 3}, "speed"),
        ({"vol": 0}, "vol"),
        ({"pitch": 1.5}, "pitch"),
        ({"pitch": 13}, "pitch"),
    ],
)
async def test_t2a_ranges_are_2013_naming_the_field(client, change, field):
    response = await client.post(T2A, json=t2a_body(**change))

    base_resp = response.json()["base_resp"]
    assert base_resp["status_code"] == 2013 and field in base_resp["status_msg"]


@pytest.mark.parametrize(
    "weights, field",
    [
        ([{"voice_id": "Grinch", "weight": 1}] * 5, "timbre_weights"),
        ([{"voice_id": "Grinch", "weight": 0}], "weight"),
        ([{"voice_id": "Grinch", "weight": 101}], "weight"),
    ],
)
async def test_t2a_voice_weights_are_checked(client, weights, field):
    response = await client.post(T2A, json={**t2a_body(), "timbre_weights": weights})

    base_resp = response.json()["base_resp"]
    assert base_resp["status_code"] == 2013 and field in base_resp["status_msg"]


async def test_t2a_unknown_voice_is_2042(client):
    response = await client.post(T2A, json=t2a_body(voice_id="nobody"))

    assert response.json()["base_resp"]["status_code"] == 2042


def test_a_long_text_gives_at_least_ten_seconds_of_speech():
    from conversations.minimax.simulator.speech import Speech, render

    speech = Speech(
        text="这是一段用来测试速度的文字。" * 4,
        voices=[("female-shaonv", 1), ("Grinch", 2)],
    )
    audio = render(speech)

    # How fast this renders is measured in bench/, not asserted here.
    assert audio.duration_ms >= 10_000


# --- the mix field: one spelling per endpoint (docs/minimax-protocol-tts.md) ------


MIX = [
    {"voice_id": "male-qn-qingse", "weight": 2},
    {"voice_id": "female-shaonv", "weight": 1},
]


async def test_t2a_refuses_the_legacy_spelling_of_the_mix(client):
    response = await client.post(T2A, json={**t2a_body(), "timber_weights": MIX})

    base_resp = response.json()["base_resp"]
    assert base_resp["status_code"] == 2013
    assert "timbre_weights" in base_resp["status_msg"]


async def test_legacy_refuses_the_t2a_spelling_of_the_mix(client):
    body = {"model": "speech-01", "text": "你好", "voice_id": "male-qn-qingse"}
    response = await client.post(LEGACY, json={**body, "timbre_weights": MIX})

    assert "json" in response.headers["content-type"]
    assert response.json()["base_resp"]["status_code"] == 2013


@pytest.mark.parametrize(
    "model, emotion, accepted",
    [
        ("speech-02-hd", "happy", True),
        ("speech-02-hd", "whisper", False),
        ("speech-2.6-hd", "whisper", True),
        ("speech-2.8-hd", "fluent", True),
        ("speech-2.8-hd", "whisper", False),
    ],
)
async def test_t2a_emotions_follow_the_model(client, model, emotion, accepted):
    body = t2a_body()
    body["model"] = model
    body["voice_setting"]["emotion"] = emotion
    response = await client.post(T2A, json=body)

    code = response.json()["base_resp"]["status_code"]
    assert (code == 0) is accepted
