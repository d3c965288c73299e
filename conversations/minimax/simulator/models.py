"""The text models as the vendor documents them: the simulator's own table.

Not the client's catalog: the simulator plays MiniMax, and MiniMax does not know
which models our site offers or what limits we choose to let users set. Values
are from docs/minimax-protocol.md §2 and §11 and seeds 000-004. A model the table
does not know is answered like abab6.5s-chat, as a permissive stand-in: the
vendor's own reply to an unknown model id is not documented.
"""

from __future__ import annotations

from dataclasses import dataclass

# The /v1/chat/completions page caps max_completion_tokens at 2048 (seed 004).
CHAT_MAX_COMPLETION_TOKENS = 2048


@dataclass(frozen=True, slots=True)
class SimModel:
    id: str
    # Input and output together, in tokens; also the ceiling of max_tokens and
    # tokens_to_generate on v2 and pro.
    context_tokens: int
    # Thinks before answering: reasoning_content on v2, <think> (or
    # reasoning_details) on /v1/chat/completions.
    reasoning: bool = False
    # response_format json_schema is documented for MiniMax-Text-01 only.
    json_schema: bool = False


MODELS: dict[str, SimModel] = {
    model.id: model
    for model in (
        SimModel("abab5-chat", 6_144),
        SimModel("abab5.5-chat", 16_384),
        SimModel("abab5.5s-chat", 8_192),
        SimModel("abab6-chat", 32_768),
        SimModel("abab6.5-chat", 245_760),
        SimModel("abab6.5s-chat", 245_760),
        SimModel("abab6.5g-chat", 245_760),
        SimModel("abab6.5t-chat", 245_760),
        SimModel("abab7-chat-preview", 245_760),
        SimModel("MiniMax-Text-01", 1_000_192, json_schema=True),
        SimModel("MiniMax-M1", 1_000_000, reasoning=True),
        SimModel("MiniMax-M2", 204_800, reasoning=True),
        SimModel("MiniMax-M2-Stable", 204_800, reasoning=True),
        SimModel("MiniMax-M2.1", 204_800, reasoning=True),
        SimModel("MiniMax-M2.5", 204_800, reasoning=True),
        SimModel("MiniMax-M2.7", 204_800, reasoning=True),
        SimModel("MiniMax-M2.7-highspeed", 204_800, reasoning=True),
    )
}

JSON_SCHEMA_MODELS = tuple(m.id for m in MODELS.values() if m.json_schema)


def model_for(model_id: str) -> SimModel:
    """Return what the vendor documents about `model_id` (see the module note)."""
    known = MODELS.get(model_id)
    if known is not None:
        return known
    # Later releases of the reasoning families think too.
    reasoning = model_id.startswith(("MiniMax-M1", "MiniMax-M2", "MiniMax-M3"))
    return SimModel(model_id, 245_760, reasoning=reasoning)
