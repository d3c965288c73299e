"""POST /v1/t2a_v2 and the legacy POST /v1/text_to_speech (minimax-protocol §3).

t2a_v2 answers JSON with hex audio and extra_info, or, with stream=true, SSE events
of hex pieces (status 1) and a final status-2 event holding the whole audio and
extra_info. The legacy endpoint answers raw `audio/mpeg` bytes (the `Trace-Id`
header is added for every response by the core).
"""

from __future__ import annotations

import array
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from .audio import Voicing, encode_mp3, encode_wav, synthesize, word_count
from .failures import InvalidParams, SimError
from .triggers import Triggers, parse_triggers, strip_triggers
from .validate import int_range, number_range, optional_bool, require_str
from .voices import blend, is_known_voice
from .wire import Reply

SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100)
BITRATES = (32000, 64000, 128000, 256000)
FORMATS = ("mp3", "wav", "pcm")  # flac and the opus/pcmu family are not simulated
MAX_TEXT = 10_000
MAX_VOICES = 4
# Each endpoint takes the mix under one spelling only (docs/minimax-protocol-tts.md):
# the other spelling is refused, so a client that mixes them up fails here first.
T2A_WEIGHTS = "timbre_weights"
LEGACY_WEIGHTS = "timber_weights"
EMOTIONS = ("happy", "sad", "angry", "fearful", "disgusted", "surprised", "calm")
EXTRA_EMOTIONS = {"speech-2.6": ("fluent", "whisper"), "speech-2.8": ("fluent",)}
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm"}


@dataclass(slots=True)
class Speech:
    """A checked speech request."""

    text: str  # what is spoken: the request text without trigger phrases
    voices: list[tuple[str, int]]
    # The rest default to the vendor's defaults (minimax-protocol §3.3).
    speed: float = 1.0
    vol: float = 1.0
    pitch: int = 0
    sample_rate: int = 32000
    bitrate: int = 128000
    format: str = "mp3"
    channels: int = 1
    triggers: Triggers = field(default_factory=Triggers)


@dataclass(slots=True)
class Audio:
    pieces: list[bytes]
    duration_ms: int

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


def t2a_v2_reply(payload: dict[str, Any], trace_id: str) -> Reply:
    """Validate a t2a_v2 request and return hex audio as JSON or as SSE events."""
    speech = _parse_t2a_v2(payload)
    audio = render(speech)
    stream = optional_bool(payload, "stream")
    info = extra_info(speech, audio)
    if not stream:
        body = {
            "data": {"audio": audio.data.hex(), "status": 2},
            "extra_info": info,
            "trace_id": trace_id,
            "base_resp": {"status_code": 0, "status_msg": "success"},
        }
        return Reply.json(body, fault=speech.triggers.fault)
    options = payload.get("stream_options") or {}
    whole = "" if options.get("exclude_aggregated_audio") else audio.data.hex()
    pieces = [
        {
            "data": {"audio": piece.hex(), "status": 1},
            "trace_id": trace_id,
            "base_resp": {"status_code": 0, "status_msg": ""},
        }
        for piece in audio.pieces
    ]
    final = {
        "data": {"audio": whole, "status": 2},
        "extra_info": info,
        "trace_id": trace_id,
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    return Reply.events([*pieces, final], fault=speech.triggers.fault)


def legacy_speech_reply(payload: dict[str, Any], trace_id: str) -> Reply:
    """Validate a text_to_speech request and return the MP3 bytes themselves."""
    speech = _parse_legacy(payload)
    audio = render(speech)
    return Reply(audio.pieces, content_type="audio/mpeg", fault=speech.triggers.fault)


def render(speech: Speech) -> Audio:
    voicing = Voicing(
        timbre=blend(speech.voices),
        speed=speech.speed,
        vol=speech.vol,
        pitch=speech.pitch,
        sample_rate=speech.sample_rate,
    )
    segments = list(synthesize(speech.text, voicing))
    samples = sum(len(segment) for segment in segments)
    duration_ms = round(samples * 1000 / speech.sample_rate)
    if speech.format == "mp3":
        pieces = encode_mp3(
            iter(segments), speech.sample_rate, speech.bitrate, speech.channels
        )
    else:
        pcm = array.array("h")
        for segment in segments:
            pcm.extend(segment)
        wav = encode_wav(pcm, speech.sample_rate, speech.channels)
        pieces = [wav if speech.format == "wav" else wav[44:]]  # pcm: no RIFF header
    return Audio(pieces, duration_ms)


def extra_info(speech: Speech, audio: Audio) -> dict[str, Any]:
    return {
        "audio_length": audio.duration_ms,
        "audio_sample_rate": speech.sample_rate,
        "audio_size": len(audio.data),
        "bitrate": speech.bitrate,
        "word_count": word_count(speech.text),
        "invisible_character_ratio": 0,
        "usage_characters": usage_characters(speech.text),
        "audio_format": speech.format,
        "audio_channel": speech.channels,
    }


def usage_characters(text: str) -> int:
    """Return billed characters: CJK characters count twice (one client's rule)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# --- request checks -------------------------------------------------------------


def _parse_t2a_v2(payload: dict[str, Any]) -> Speech:
    voice = payload.get("voice_setting") or {}
    audio = payload.get("audio_setting") or {}
    if not isinstance(voice, dict) or not isinstance(audio, dict):
        raise InvalidParams("voice_setting and audio_setting must be objects")
    if payload.get("output_format", "hex") != "hex":
        raise InvalidParams("output_format url is not available offline; use hex")
    _refuse_field(payload, LEGACY_WEIGHTS, T2A_WEIGHTS)
    model = require_str(payload, "model")
    _check_emotion(model, voice.get("emotion"))
    return _speech(
        payload,
        voice_id=voice.get("voice_id"),
        weights=payload.get(T2A_WEIGHTS),
        weights_field=T2A_WEIGHTS,
        settings=voice,
        sample_rate=audio.get("sample_rate", 32000),
        bitrate=audio.get("bitrate", 128000),
        audio_format=audio.get("format", "mp3"),
        channels=audio.get("channel", 1),
        unknown_voice_code=2042,
        prefix="voice_setting.",
    )


def _parse_legacy(payload: dict[str, Any]) -> Speech:
    _refuse_field(payload, T2A_WEIGHTS, LEGACY_WEIGHTS)
    if "emotion" in payload or "voice_setting" in payload:
        raise InvalidParams("text_to_speech takes flat fields and no emotion")
    return _speech(
        payload,
        voice_id=payload.get("voice_id"),
        weights=payload.get(LEGACY_WEIGHTS),
        weights_field=LEGACY_WEIGHTS,
        settings=payload,
        sample_rate=payload.get("audio_sample_rate", 32000),
        bitrate=payload.get("bitrate", 128000),
        audio_format="mp3",
        channels=1,
        unknown_voice_code=20132,
        prefix="",
    )


def _speech(
    payload: dict[str, Any],
    *,
    voice_id: Any,
    weights: Any,
    weights_field: str,
    settings: dict[str, Any],
    sample_rate: Any,
    bitrate: Any,
    audio_format: Any,
    channels: Any,
    unknown_voice_code: int,
    prefix: str,
) -> Speech:
    raw_text = require_str(payload, "text")
    triggers = parse_triggers(raw_text)
    triggers.raise_error()
    text = strip_triggers(raw_text)
    if not text:
        raise InvalidParams("text is required")
    if len(text) > MAX_TEXT:
        raise InvalidParams(f"text must be shorter than {MAX_TEXT} characters")
    if _invisible_ratio(text) > 0.1:
        raise SimError(1042)
    voices = _voices(voice_id, weights, weights_field, prefix)
    unknown = [v for v, _ in voices if not is_known_voice(v)]
    if unknown:
        raise SimError(unknown_voice_code, f"voice_id {unknown[0]} not found")
    if sample_rate not in SAMPLE_RATES:
        raise InvalidParams(f"sample_rate must be one of {SAMPLE_RATES}")
    if bitrate not in BITRATES:
        raise InvalidParams(f"bitrate must be one of {BITRATES}")
    if audio_format not in FORMATS:
        raise InvalidParams(f"format must be one of {', '.join(FORMATS)} offline")
    if channels not in (1, 2):
        raise InvalidParams("channel must be 1 or 2")
    return Speech(
        text=text,
        voices=voices,
        speed=number_range(settings.get("speed", 1.0), f"{prefix}speed", 0.5, 2),
        vol=number_range(
            settings.get("vol", 1.0), f"{prefix}vol", 0, 10, low_open=True
        ),
        pitch=int_range(settings.get("pitch", 0), f"{prefix}pitch", -12, 12),
        sample_rate=sample_rate,
        bitrate=bitrate,
        format=audio_format,
        channels=channels,
        triggers=triggers,
    )


def _refuse_field(payload: dict[str, Any], wrong: str, right: str) -> None:
    if wrong in payload:
        raise InvalidParams(f"unknown field {wrong}; this endpoint takes {right}")


def _check_emotion(model: str, emotion: Any) -> None:
    if emotion is None:
        return
    allowed = EMOTIONS + next(
        (extra for prefix, extra in EXTRA_EMOTIONS.items() if model.startswith(prefix)),
        (),
    )
    if emotion not in allowed:
        raise InvalidParams(
            f"voice_setting.emotion must be one of {', '.join(allowed)} for {model}"
        )


def _voices(
    voice_id: Any, weights: Any, field_name: str, prefix: str
) -> list[tuple[str, int]]:
    """Return [(voice_id, weight)]: the weights list wins over voice_id when given."""
    if weights:
        if not isinstance(weights, list) or not 1 <= len(weights) <= MAX_VOICES:
            raise InvalidParams(f"{field_name} must list 1 to {MAX_VOICES} voices")
        voices = []
        for index, item in enumerate(weights):
            name = f"{field_name}[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("voice_id"), str):
                raise InvalidParams(f"{name}.voice_id is required")
            voices.append(
                (
                    item["voice_id"],
                    int_range(item.get("weight"), f"{name}.weight", 1, 100),
                )
            )
        return voices
    if not isinstance(voice_id, str) or not voice_id:
        raise InvalidParams(f"{prefix}voice_id is required")
    return [(voice_id, 1)]


def _invisible_ratio(text: str) -> float:
    invisible = sum(
        1 for c in text if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t"
    )
    return invisible / len(text)
