"""The models the site offers, with the API dialect each speaks and its limits.

Sources: docs/minimax-protocol.md §2 (models and limits) and §11 (pro), and the vendor
pages it cites (seed 004 for the M2.x ranges).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Dialect(StrEnum):
    """The wire format a request is sent in."""

    V2 = "v2"  # POST /v1/text/chatcompletion_v2
    CHAT = "chat"  # POST /v1/chat/completions (OpenAI-style, M2.x, <think> in content)
    PRO = "pro"  # POST /v1/text/chatcompletion_pro (legacy: bot_setting, sender names)


DIALECT_PATHS: dict[Dialect, str] = {
    Dialect.V2: "/v1/text/chatcompletion_v2",
    Dialect.CHAT: "/v1/chat/completions",
    Dialect.PRO: "/v1/text/chatcompletion_pro",
}


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    label: str
    # The first dialect is the default for this model.
    dialects: tuple[Dialect, ...]
    context_tokens: int
    # Largest max_tokens / max_completion_tokens / tokens_to_generate we let users set.
    max_output_tokens: int
    default_max_tokens: int
    default_temperature: float
    default_top_p: float = 0.95
    reasoning: bool = False
    supports_json_schema: bool = False
    supports_tools: bool = True

    @property
    def default_dialect(self) -> Dialect:
        return self.dialects[0]


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in [
        ModelSpec(
            "abab5.5-chat",
            "abab5.5-chat",
            (Dialect.PRO, Dialect.V2),
            context_tokens=16_384,
            max_output_tokens=16_384,
            default_max_tokens=1024,
            default_temperature=0.9,
            supports_tools=False,
        ),
        ModelSpec(
            "abab6.5s-chat",
            "abab6.5s-chat",
            (Dialect.V2, Dialect.PRO),
            context_tokens=245_760,
            max_output_tokens=245_760,
            default_max_tokens=2048,
            default_temperature=0.1,
        ),
        ModelSpec(
            "MiniMax-Text-01",
            "MiniMax-Text-01",
            (Dialect.V2, Dialect.PRO),
            context_tokens=1_000_192,
            max_output_tokens=1_000_192,
            default_max_tokens=2048,
            default_temperature=0.1,
            supports_json_schema=True,
        ),
        ModelSpec(
            "MiniMax-M1",
            "MiniMax-M1",
            (Dialect.V2,),
            context_tokens=1_000_000,
            max_output_tokens=40_000,
            default_max_tokens=8192,
            default_temperature=1.0,
            reasoning=True,
        ),
        *(
            ModelSpec(
                model_id,
                model_id,
                (Dialect.CHAT,),
                context_tokens=204_800,
                # The /v1/chat/completions page caps max_completion_tokens at 2048.
                max_output_tokens=2048,
                default_max_tokens=2048,
                default_temperature=1.0,
                reasoning=True,
            )
            for model_id in (
                "MiniMax-M2.1",
                "MiniMax-M2.5",
                "MiniMax-M2.7",
                "MiniMax-M2.7-highspeed",
            )
        ),
    ]
}

DEFAULT_MODEL = "MiniMax-M2.7"

# Both bounds are from the vendor pages: temperature and top_p in (0, 1].
TEMPERATURE_RANGE = (0.0, 1.0)
TOP_P_RANGE = (0.0, 1.0)


def get_model(model_id: str) -> ModelSpec:
    """Return the spec for `model_id`; unknown ids get a permissive v2 spec."""
    try:
        return MODELS[model_id]
    except KeyError:
        return ModelSpec(
            model_id,
            model_id,
            (Dialect.V2,),
            context_tokens=245_760,
            max_output_tokens=245_760,
            default_max_tokens=2048,
            default_temperature=0.9,
        )
