"""Fit a conversation's history into the model's context window.

After a few hundred turns a conversation no longer fits: every request would carry
the whole history (999 messages, a megabyte) and MiniMax refuses it or bills it.
The oldest turns are left out until the rest fits; the system prompt / bot setting
always stays, and so does the latest user turn. The reply records how many turns
were left out (Message.context_trimmed) so the page can say so.

Tokens are estimated, not counted (the tokenizer is MiniMax's): one token per three
bytes of UTF-8. That over-counts English (about four characters a token) and counts a
CJK character (three bytes) as one token, about what MiniMax's tokenizer gives for
Chinese, so the estimate errs on the side of sending less.
"""

from __future__ import annotations

import json
import math

from conversations.minimax.catalog import get_model
from conversations.minimax.prompting import ConversationSettings, Turn

BYTES_PER_TOKEN = 3
# Each message costs a few tokens of framing (role, separators) beyond its text.
TOKENS_PER_TURN = 8
# Headroom for what the estimate cannot see: tool definitions, names, templates.
SAFETY_MARGIN_TOKENS = 1024


def estimate_tokens(text: str) -> int:
    """Return a conservative token count for `text` (UTF-8 bytes / 3, rounded up)."""
    return math.ceil(len(text.encode("utf-8", "replace")) / BYTES_PER_TOKEN)


def turn_tokens(turn: Turn) -> int:
    tokens = TOKENS_PER_TURN + estimate_tokens(turn.content)
    tokens += estimate_tokens(turn.reasoning)
    if turn.tool_calls:
        tokens += estimate_tokens(json.dumps(turn.tool_calls, ensure_ascii=False))
    return tokens


def history_budget(settings: ConversationSettings) -> int:
    """Return the tokens the history may take: the window less prompt and output."""
    spec = get_model(settings.model)
    output = settings.max_tokens or spec.default_max_tokens
    # The reply's room comes out of the same window; a reply allowed most of the
    # window would leave no history at all, so it is reserved up to half of it.
    reserved_output = min(output, spec.context_tokens // 2)
    prompt = TOKENS_PER_TURN + estimate_tokens(settings.system_prompt)
    return spec.context_tokens - reserved_output - prompt - SAFETY_MARGIN_TOKENS


def fit_history(turns: list[Turn], budget: int) -> tuple[list[Turn], int]:
    """Return the newest turns that fit in `budget` tokens, and how many were left out.

    The latest turn (the user's) is always kept; the kept history starts with a user
    turn (an assistant turn whose question was left out would be a non sequitur).
    """
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        cost = turn_tokens(turn)
        if kept and used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    while len(kept) > 1 and kept[0].role != "user":
        kept.pop(0)
    return kept, len(turns) - len(kept)
