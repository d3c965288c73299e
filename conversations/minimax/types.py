"""What callers hand the client, and what speech calls give back.

These are dialect-neutral: the client turns a ChatRequest into the body of
whichever endpoint `dialect` names (v2 / chat messages, or pro sender messages
with bot_setting and reply_constraints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .catalog import Dialect

Role = Literal["system", "user", "assistant", "tool"]

DEFAULT_BOT_NAME = "MM智能助理"
DEFAULT_USER_NAME = "用户"


@dataclass(slots=True)
class ChatMessage:
    role: Role
    content: str
    # v2/chat: the optional `name`; pro: the sender_name (user or bot name).
    name: str | None = None
    # The reasoning that came with an assistant turn. For M2.x on /v1/chat/completions
    # the vendor asks for it back inline as <think>...</think>.
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


@dataclass(slots=True)
class BotSetting:
    """One bot of a chatcompletion_pro conversation."""

    bot_name: str
    content: str


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    # None: the model's default dialect from the catalog.
    dialect: Dialect | None = None
    stream: bool = True
    # Sent as max_tokens (v2), max_completion_tokens (chat), tokens_to_generate (pro).
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None
    # {"name": ..., "description": ..., "schema": {...}} -> response_format json_schema.
    json_schema: dict[str, Any] | None = None
    # pro only. Empty bot_setting: one bot named DEFAULT_BOT_NAME whose content is the
    # system message (or a neutral default); the reply is constrained to the first bot.
    bot_setting: list[BotSetting] = field(default_factory=list)
    sample_messages: list[ChatMessage] = field(default_factory=list)
    user_name: str = DEFAULT_USER_NAME


@dataclass(frozen=True, slots=True)
class VoiceWeight:
    voice_id: str
    weight: int = 1


@dataclass(slots=True)
class SpeechRequest:
    text: str
    voices: list[VoiceWeight]
    # "t2a_v2" (POST /v1/t2a_v2, hex audio in JSON) or "text_to_speech" (legacy,
    # raw audio/mpeg body).
    endpoint: Literal["t2a_v2", "text_to_speech"] = "t2a_v2"
    model: str = "speech-02-hd"
    speed: float = 1.0
    vol: float = 1.0
    pitch: int = 0
    # t2a_v2 only (voice_setting.emotion); None: the model picks one from the text.
    emotion: str | None = None
    sample_rate: int = 32000
    bitrate: int = 128000
    format: str = "mp3"


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """Audio from a text-to-speech call."""

    audio: bytes
    format: str
    trace_id: str | None = None
    duration_ms: int | None = None
    usage_characters: int | None = None

    @property
    def content_type(self) -> str:
        return {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}.get(
            self.format, "application/octet-stream"
        )
