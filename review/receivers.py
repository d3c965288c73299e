"""Signal receivers: the conversations app tells us when a reply ends."""

from __future__ import annotations

import logging

from conversations.models import Message
from review.services import record_reply

logger = logging.getLogger(__name__)


def queue_flagged_reply(sender, message: Message, **kwargs) -> None:
    """Put a flagged or refused reply (and its prompt) in the review queue."""
    try:
        record_reply(message)
    except Exception:
        # The reply is saved already; a queue failure must not break its ending.
        logger.exception("Could not queue reply %s for review", message.pk)
