"""The AI pre-analysis: MiniMax's structured-output example run on flagged text.

The schema is the vendor's `user_analysis` example (seed 001, the json_schema
parameter of chatcompletion_v2). A reply is stored as the reviewer's suggestion
only when it validates against it; otherwise the item says so, and keeps the raw
reply for the reviewer to read, never as if it were a result.

`start_analysis` returns at once: each item is analysed in a worker thread of its
own event loop, so an admin action on a hundred items does not wait for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jsonschema
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.text import Truncator

from conversations import upstream
from conversations.minimax.catalog import MODELS, Dialect
from conversations.minimax.errors import MiniMaxError
from conversations.minimax.schema import reply_matches_schema
from conversations.minimax.types import ChatMessage, ChatRequest
from review.models import AnalysisState, ReviewItem

logger = logging.getLogger(__name__)

USER_ANALYSIS_SCHEMA: dict[str, Any] = {
    "name": "user_analysis",
    "description": "User behavior analysis result",
    "schema": {
        "type": "object",
        "properties": {
            "analysis": {
                "type": "string",
                "description": "Content analysis based on rules",
            },
            "summary_words": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Content keywords summary, limited to three words",
            },
            "content_result": {
                "type": "string",
                "enum": [
                    "低俗色情违规",
                    "广告引流违规",
                    "违法违规",
                    "涉政违规",
                    "自杀自残违规",
                    "未成年违规",
                    "攻击辱骂违规",
                    "其他违规",
                    "正常",
                ],
                "description": "Content classification result",
            },
            "risk_words": {
                "type": "array",
                "items": {"type": "string"},
                "description": (
                    "Keywords indicating violations, emojis converted to text"
                ),
            },
            "correct_rate": {
                "type": "number",
                "description": "Credibility score, from 0.00 to 1.00",
            },
            "content_risk_level": {
                "type": "string",
                "enum": ["high", "medium", "low"],
                "description": "Risk concentration level in content",
            },
        },
        "required": [
            "analysis",
            "summary_words",
            "content_result",
            "risk_words",
            "correct_rate",
            "content_risk_level",
        ],
    },
}

PREFERRED_MODEL = "MiniMax-Text-01"
INSTRUCTIONS = (
    "You review content a chat service's safety filter flagged. Analyse the user "
    "content that follows and answer only with the JSON the schema describes."
)
RAW_REPLY_LIMIT = 4000
# Analyses run at once in this process; the rest wait their turn in the pool.
WORKERS = 4

_executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="review-ai")
_futures: set[Future[None]] = set()


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    suggestion: dict[str, Any] | None = None
    raw_reply: str = ""
    error: str = ""


def analysis_model() -> str:
    """Return the model to ask: Text-01 if offered, else any json_schema model."""
    spec = MODELS.get(PREFERRED_MODEL)
    if spec is not None and spec.supports_json_schema:
        return spec.id
    return next(spec.id for spec in MODELS.values() if spec.supports_json_schema)


def analysis_request(text: str, model: str) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[ChatMessage("system", INSTRUCTIONS), ChatMessage("user", text)],
        dialect=Dialect.V2,
        stream=False,
        json_schema=USER_ANALYSIS_SCHEMA,
    )


async def ask(text: str, model: str) -> Outcome:
    """Return the validated analysis of `text`, or what went wrong."""
    if not text.strip():
        return Outcome(AnalysisState.FAILED, error="There is no text to analyse.")
    client = upstream.get_minimax_client()
    try:
        result = await client.complete(analysis_request(text, model))
    except MiniMaxError as error:
        return Outcome(AnalysisState.FAILED, error=error.message)
    raw = result.text
    if not reply_matches_schema(raw, USER_ANALYSIS_SCHEMA):
        return Outcome(
            AnalysisState.INVALID,
            raw_reply=Truncator(raw).chars(RAW_REPLY_LIMIT),
            error=schema_mismatch(raw),
        )
    return Outcome(AnalysisState.VALID, suggestion=json.loads(raw), raw_reply=raw)


def schema_mismatch(raw: str) -> str:
    """Return why `raw` does not match the schema, for the reviewer to read."""
    try:
        jsonschema.validate(json.loads(raw), USER_ANALYSIS_SCHEMA["schema"])
    except ValueError as error:
        return f"Not JSON: {error}"
    except jsonschema.ValidationError as error:
        return f"Does not match the schema: {error.message}"
    return ""


def start_analysis(items: list[ReviewItem]) -> list[Future[None]]:
    """Mark the items pending and analyse each in the background; return at once."""
    ids = [item.pk for item in items]
    ReviewItem.objects.filter(pk__in=ids).update(
        ai_state=AnalysisState.PENDING, ai_error=""
    )
    futures = [_executor.submit(analyse_item, item_id) for item_id in ids]
    for future in futures:
        _futures.add(future)
        future.add_done_callback(_futures.discard)
    return futures


def wait_for_analyses(timeout: float = 30) -> None:
    """Wait until the analyses started in this process have ended (tests)."""
    for future in list(_futures):
        future.result(timeout=timeout)


def analyse_item(item_id: int) -> None:
    """Analyse one item and store the outcome (runs in a worker thread)."""
    close_old_connections()
    try:
        item = ReviewItem.objects.get(pk=item_id)
        model = analysis_model()
        try:
            outcome = asyncio.run(_ask_and_close(item.text, model))
        except Exception:  # a bug must not leave the item pending for ever
            logger.exception("Analysis of review item %s failed", item_id)
            outcome = Outcome(AnalysisState.FAILED, error="The analysis failed.")
        store(item_id, outcome, model)
    finally:
        connection.close()


async def _ask_and_close(text: str, model: str) -> Outcome:
    try:
        return await ask(text, model)
    finally:
        # The client's pool belongs to this short-lived loop.
        await upstream.get_minimax_client().aclose()


def store(item_id: int, outcome: Outcome, model: str) -> None:
    """Save an outcome: the suggestion only if it validated."""
    valid = outcome.state == AnalysisState.VALID
    ReviewItem.objects.filter(pk=item_id).update(
        ai_state=outcome.state,
        ai_suggestion=outcome.suggestion if valid else None,
        ai_valid=valid if outcome.state != AnalysisState.FAILED else None,
        ai_raw_reply=outcome.raw_reply,
        ai_error=outcome.error,
        ai_model=model,
        ai_finished_at=timezone.now(),
    )
