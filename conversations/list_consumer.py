"""The websocket of a user's conversation list (frames: docs/websocket.md).

Server -> browser only: conversation.changed, conversation.removed
(list_relay.py says when). Anything the browser sends is answered with an error
frame and otherwise ignored.

Who may connect is checked as for a conversation's socket: signed in (the session
cookie, AuthMiddlewareStack), from this site's own origin (origin.py, for every
websocket in chatsite/asgi.py); refused before accept, so the handshake fails.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations import closing, frames
from conversations.list_relay import user_group_name

logger = logging.getLogger(__name__)


class ConversationListConsumer(AsyncJsonWebsocketConsumer):
    group_name = ""

    async def __call__(self, scope, receive, send) -> None:
        await super().__call__(scope, receive, closing.unless_closed(send))

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            await self.close()
            return
        group = user_group_name(user.pk)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception:
            # The channel layer is away: refused, and the page retries with backoff.
            logger.warning("List socket: channel layer unavailable", exc_info=True)
            await self.close()
            return
        self.group_name = group
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            with suppress(Exception):
                await self.channel_layer.group_discard(
                    self.group_name, self.channel_name
                )

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        await self.send_json(
            frames.error("bad_frame", "This socket only sends; it takes no frames.")
        )

    # Channel-layer events (type "list.frame", list_relay.LIST_EVENT).

    async def list_frame(self, event: dict[str, Any]) -> None:
        await self.send_json(event["frame"])
