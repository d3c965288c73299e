"""The two text-to-speech endpoints: request bodies, checks, and audio out.

`t2a_v2` takes nested voice/audio settings and answers JSON with hex audio
(protocol §3.3); the legacy `text_to_speech` takes a flat body and answers raw
audio bytes with a `Trace-Id` header, or JSON on error (§3.1, seed 003).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest, ProtocolError
from ..types import SpeechClip, SpeechRequest
from .replies import raise_for_base_resp

PATHS = {"t2a_v2": "/v1/t2a_v2", "text_to_speech": "/v1/text_to_speech"}
MAX_VOICES = 4
SAMPLE_RATES = {8000, 16000, 22050, 24000, 32000, 44100}
BITRATES = {32000, 64000, 128000, 256000}
FORMATS = {"mp3", "pcm", "flac", "wav"}
# The mix field is spelt differently per endpoint (docs/minimax-protocol-tts.md §3):
# the legacy seed (003) says timber_weights, the current t2a_v2 page timbre_weights.
WEIGHTS_FIELD = {"t2a_v2": "timbre_weights", "text_to_speech": "timber_weights"}
# voice_setting.emotion on t2a_v2 (current OpenAPI); fluent only on speech-2.6-*,
# whisper only on 2.6, none of the extras on the older models.
BASE_EMOTIONS = ("happy", "sad", "angry", "fearful", "disgusted", "surprised", "calm")


def emotions_for(model: str) -> tuple[str, ...]:
    """Return the emotions `model` takes on t2a_v2."""
    if model.startswith("speech-2.6"):
        return (*BASE_EMOTIONS, "fluent", "whisper")
    if model.startswith("speech-2.8"):
        return (*BASE_EMOTIONS, "fluent")
    return BASE_EMOTIONS


def speech_path(request: SpeechRequest) -> str:
    return PATHS[request.endpoint]


def check_speech(request: SpeechRequest) -> None:
    """Raise InvalidRequest for a value outside the vendor's ranges (§7.8)."""
    if request.endpoint not in PATHS:
        raise InvalidRequest(f"Unknown speech endpoint {request.endpoint!r}.")
    if not request.text.strip():
        raise InvalidRequest("There is no text to speak.")
    if not 1 <= len(request.voices) <= MAX_VOICES:
        raise InvalidRequest(f"Mix 1 to {MAX_VOICES} voices.")
    for voice in request.voices:
        if not voice.voice_id:
            raise InvalidRequest("A voice needs a voice_id.")
        if not _is_int(voice.weight) or not 1 <= voice.weight <= 100:
            raise InvalidRequest(
                f"Voice weights are whole numbers from 1 to 100, got {voice.weight}."
            )
    if not 0.5 <= request.speed <= 2:
        raise InvalidRequest(f"speed must be in [0.5, 2], got {request.speed}.")
    if not 0 < request.vol <= 10:
        raise InvalidRequest(f"vol must be in (0, 10], got {request.vol}.")
    if not _is_int(request.pitch) or not -12 <= request.pitch <= 12:
        raise InvalidRequest(
            f"pitch must be a whole number from -12 to 12, got {request.pitch}."
        )
    _check_emotion(request)
    if request.endpoint == "t2a_v2":
        _check_audio_setting(request)


def _check_emotion(request: SpeechRequest) -> None:
    if request.emotion is None:
        return
    if request.endpoint != "t2a_v2":
        raise InvalidRequest("Only the t2a_v2 models take an emotion.")
    allowed = emotions_for(request.model)
    if request.emotion not in allowed:
        raise InvalidRequest(
            f"{request.model} takes the emotions {', '.join(allowed)}."
        )


def _check_audio_setting(request: SpeechRequest) -> None:
    for name, allowed in (
        ("sample_rate", SAMPLE_RATES),
        ("bitrate", BITRATES),
        ("format", FORMATS),
    ):
        if getattr(request, name) not in allowed:
            values = ", ".join(str(v) for v in sorted(allowed))
            raise InvalidRequest(f"{name} must be one of {values}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def speech_body(request: SpeechRequest) -> dict[str, Any]:
    """Return the JSON body for the request's endpoint."""
    voice = {
        "voice_id": request.voices[0].voice_id,
        "speed": request.speed,
        "vol": request.vol,
        "pitch": request.pitch,
    }
    if request.endpoint == "text_to_speech":
        body: dict[str, Any] = {"model": request.model, "text": request.text, **voice}
    else:
        if request.emotion:
            voice["emotion"] = request.emotion
        body = {
            "model": request.model,
            "text": request.text,
            "stream": False,
            "voice_setting": voice,
            "audio_setting": {
                "sample_rate": request.sample_rate,
                "bitrate": request.bitrate,
                "format": request.format,
                "channel": 1,
            },
        }
    if len(request.voices) > 1:
        # The vendor ignores voice_id when a mix is given (seed 003); it stays in
        # the body as the seed sends it.
        body[WEIGHTS_FIELD[request.endpoint]] = [
            {"voice_id": v.voice_id, "weight": v.weight} for v in request.voices
        ]
    return body


def t2a_v2_clip(
    request: SpeechRequest, payload: dict[str, Any], trace_id: str | None
) -> SpeechClip:
    """Return the clip of a t2a_v2 JSON answer (hex audio); raise on error."""
    trace_id = payload.get("trace_id") or trace_id
    raise_for_base_resp(payload, trace_id)
    data = payload.get("data") or {}
    audio_hex = data.get("audio") or ""
    if not audio_hex or audio_hex.startswith("http"):
        raise ProtocolError("MiniMax answered without hex audio.", trace_id=trace_id)
    try:
        audio = bytes.fromhex(audio_hex)
    except ValueError:
        raise ProtocolError(
            "MiniMax sent audio that is not valid hex.", trace_id=trace_id
        ) from None
    extra = payload.get("extra_info") or {}
    return SpeechClip(
        audio=audio,
        format=extra.get("audio_format") or request.format,
        trace_id=trace_id,
        duration_ms=extra.get("audio_length"),
        usage_characters=extra.get("usage_characters"),
    )


def legacy_clip(
    request: SpeechRequest,
    content_type: str,
    raw: bytes,
    payload: dict[str, Any] | None,
    trace_id: str | None,
) -> SpeechClip:
    """Return the clip of a text_to_speech answer (raw audio); raise on error.

    That endpoint answers errors with JSON, sometimes with HTTP 200: JSON where
    audio was expected is an error, never a file (seed 003).
    """
    if "json" in content_type:
        payload = payload or {}
        trace_id = payload.get("trace_id") or trace_id
        raise_for_base_resp(payload, trace_id)
        raise ProtocolError(
            "MiniMax answered with JSON instead of audio.", trace_id=trace_id
        )
    if not raw:
        raise ProtocolError("MiniMax answered with empty audio.", trace_id=trace_id)
    return SpeechClip(audio=raw, format=request.format, trace_id=trace_id)
