"""The live conversation list: what changed in a user's list, sent to their pages.

Every open page of a user listens on `user_group_name(user_id)` (list_consumer.py)
and hears two frames (docs/websocket.md, "The list socket"):

- `conversation.changed` with the conversation as the list API gives it
  (history.list_item): created, renamed, pinned, archived or restored, its model
  changed, a message sent or a reply regenerated (activity moves it to the top), a
  model-made title (a reply's end changes nothing in its entry: not announced);
- `conversation.removed` with its id: deleted.

The one rule, as for the chat's frames (relay.py): a frame goes out only once the
write it describes has committed. Two ways in, one per kind of caller:

- a synchronous view calls `changed_on_commit(conversation)` or
  `removed_on_commit(owner_id, id)` inside its write; the frame is built and sent
  from `transaction.on_commit` (a rolled-back write sends nothing);
- async code that has already committed (services after `run_write`, the reply
  runner, the title task) awaits `announce_changed(conversation_id)`, which reads
  the row as it is now, or `announce(conversation)` with the row its write
  committed (the send path: no read).

A channel layer that is away loses the frame (logged, relay._send_quietly): the
write is saved, and a page reloads its first page of the list when its socket
reconnects.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations import history
from conversations.frames import Frame
from conversations.models import Conversation
from conversations.relay import _send_quietly

# The channel-layer message type list consumers forward to their socket as-is.
LIST_EVENT = "list.frame"

logger = logging.getLogger(__name__)


def user_group_name(user_id: int) -> str:
    """Return the group every open page of the user listens to."""
    return f"user-{user_id}"


def list_json(conversation: Conversation) -> dict[str, Any]:
    """Return the conversation as GET /api/conversations/ lists it.

    Its `group` is worked out in the server's time zone; the page places the entry
    by `updated_at` and `pinned` in its own.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(zone).date()
    return history.list_item(conversation, today, zone)


def changed(conversation: Conversation) -> Frame:
    return {"type": "conversation.changed", "conversation": list_json(conversation)}


def removed(conversation_id: int) -> Frame:
    return {"type": "conversation.removed", "id": conversation_id}


async def send_to_user(user_id: int, frame: Frame) -> bool:
    """Send a frame to every open page of the user; return whether it went out."""
    return await _send_quietly(
        lambda layer: layer.group_send(
            user_group_name(user_id), {"type": LIST_EVENT, "frame": frame}
        ),
        frame,
    )


def _send_now(user_id: int, frame: Frame) -> None:
    # Runs in the thread that committed (a view's); async_to_sync hands the send to
    # the event loop and waits for it. Never raises: the write is already saved.
    try:
        async_to_sync(send_to_user)(user_id, frame)
    except Exception:
        logger.warning("List frame %s not sent", frame["type"], exc_info=True)


# --- synchronous writers (views) ------------------------------------------------


def changed_on_commit(conversation: Conversation) -> None:
    """Announce the conversation, as it is at commit time, once the write commits."""
    transaction.on_commit(
        lambda: _send_now(conversation.owner_id, changed(conversation))
    )


def removed_on_commit(owner_id: int, conversation_id: int) -> None:
    """Announce that the conversation is gone once its delete commits."""
    transaction.on_commit(lambda: _send_now(owner_id, removed(conversation_id)))


# --- async code after its write committed ----------------------------------------


@database_sync_to_async
def _fresh(conversation_id: int) -> Conversation | None:
    return Conversation.objects.filter(pk=conversation_id).first()


async def announce_changed(conversation_id: int) -> None:
    """Send the conversation as it is now to its owner's pages (nothing if gone)."""
    try:
        conversation = await _fresh(conversation_id)
    except Exception:
        logger.warning(
            "Conversation %s: not announced to the list", conversation_id, exc_info=True
        )
        return
    if conversation is not None:
        await announce(conversation)


async def announce(conversation: Conversation) -> None:
    """Send `conversation` (as just committed) to its owner's pages."""
    await send_to_user(conversation.owner_id, changed(conversation))
