"""Check what the studio sends (`check_*`): field errors for the page, or settings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from conversations.minimax.dialects.speech import emotions_for
from conversations.minimax.types import SpeechRequest, VoiceWeight
from speech.catalog import (
    DEFAULT_MODEL,
    MAX_CLIP_CHARS,
    MAX_VOICES,
    MODELS_BY_ID,
    VOICES_BY_ID,
)

MAX_VOICE_ID = 128
MAX_BLEND_NAME = 80


class InvalidInput(Exception):
    """The request cannot be acted on; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(m for ms in errors.values() for m in ms))


@dataclass(slots=True)
class SpeechSettings:
    """A checked request: the text and how to say it."""

    text: str
    model: str
    voices: list[VoiceWeight]
    speed: float = 1.0
    vol: float = 1.0
    pitch: int = 0
    emotion: str = ""

    @property
    def endpoint(self) -> str:
        return MODELS_BY_ID[self.model].endpoint

    def voices_json(self) -> list[dict[str, Any]]:
        return [{"voice_id": v.voice_id, "weight": v.weight} for v in self.voices]

    def request(self, text: str) -> SpeechRequest:
        return SpeechRequest(
            text=text,
            voices=list(self.voices),
            endpoint=self.endpoint,  # type: ignore[arg-type]
            model=self.model,
            speed=self.speed,
            vol=self.vol,
            pitch=self.pitch,
            emotion=self.emotion or None,
        )


def check_speech_settings(
    payload: Any, *, text_required: bool = True
) -> SpeechSettings:
    """Return the checked settings of payload; raise InvalidInput naming each field."""
    if not isinstance(payload, dict):
        raise InvalidInput({"__all__": [_("Send a JSON object.")]})
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    text = _check_text(payload.get("text"), text_required, fail)
    model = payload.get("model") or DEFAULT_MODEL
    # A list or an object is not a model (and not hashable: no dict lookup).
    if not isinstance(model, str) or model not in MODELS_BY_ID:
        fail("model", _("Unknown speech model %(model)r.") % {"model": str(model)[:64]})
        model = DEFAULT_MODEL
    endpoint = MODELS_BY_ID[model].endpoint
    voices = _check_voices(payload.get("voices"), endpoint, fail)
    speed = _number(payload, "speed", 1.0, 0.5, 2.0, fail)
    vol = _number(payload, "vol", 1.0, 0.0, 10.0, fail, low_open=True)
    pitch = _whole(payload, "pitch", 0, -12, 12, fail)
    emotion = _check_emotion(payload.get("emotion"), model, endpoint, fail)
    if errors:
        raise InvalidInput(errors)
    return SpeechSettings(text, model, voices, speed, vol, pitch, emotion)


def check_blend_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_BLEND_NAME:
        raise InvalidInput(
            {
                "name": [
                    _("Name the blend (1 to %(max)d characters).")
                    % {"max": MAX_BLEND_NAME}
                ]
            }
        )
    return name


def _check_text(value: Any, required: bool, fail) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        if required:
            fail("text", _("Write the text to speak."))
        return ""
    if len(value) > MAX_CLIP_CHARS:
        fail(
            "text",
            _("The text has %(count)d characters; a clip takes at most %(max)d.")
            % {"count": len(value), "max": MAX_CLIP_CHARS},
        )
    return value


def _check_voices(value: Any, endpoint: str, fail) -> list[VoiceWeight]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_VOICES:
        fail("voices", _("Choose one to %(max)d voices.") % {"max": MAX_VOICES})
        return []
    voices: list[VoiceWeight] = []
    for item in value:
        item = item if isinstance(item, dict) else {}
        voice_id, weight = item.get("voice_id"), item.get("weight", 1)
        if (
            not isinstance(voice_id, str)
            or not 0 < len(voice_id.strip()) <= MAX_VOICE_ID
        ):
            fail("voices", _("Every voice row needs a voice."))
            continue
        if not _is_whole(weight) or not 1 <= weight <= 100:
            fail(
                "voices",
                _("Weights are whole numbers from 1 to 100, got %(value)s.")
                % {"value": str(weight)[:20]},
            )
            continue
        known = VOICES_BY_ID.get(voice_id)
        if known and not known.legacy and endpoint == "text_to_speech":
            fail(
                "voices",
                _("%(voice)s needs a current (t2a_v2) model, not a legacy one.")
                % {"voice": known.name},
            )
        voices.append(VoiceWeight(voice_id, weight))
    if len({v.voice_id for v in voices}) < len(voices):
        fail("voices", _("Each voice can be in the mix once."))
    return voices


def _check_emotion(value: Any, model: str, endpoint: str, fail) -> str:
    if value in (None, ""):
        return ""
    if endpoint != "t2a_v2":
        fail("emotion", _("The legacy models take no emotion."))
        return ""
    allowed = emotions_for(model)
    if not isinstance(value, str) or value not in allowed:
        fail(
            "emotion",
            _("%(model)s takes one of: %(values)s.")
            % {"model": model, "values": ", ".join(allowed)},
        )
        return ""
    return value


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(payload, name, default, low, high, fail, *, low_open=False) -> float:
    value = payload.get(name, default)
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not ok:
        bounds = f"({low:g}, {high:g}]" if low_open else f"[{low:g}, {high:g}]"
        fail(
            name,
            _("%(name)s must be a number in %(range)s.")
            % {"name": name, "range": bounds},
        )
        return default
    return float(value)


def _whole(payload, name, default, low, high, fail) -> int:
    value = payload.get(name, default)
    if not _is_whole(value) or not low <= value <= high:
        fail(
            name,
            _("%(name)s must be a whole number from %(low)d to %(high)d.")
            % {"name": name, "low": low, "high": high},
        )
        return default
    return value
