"""A frame sent while the page is closing its socket is dropped, not raised.

Between the page's close frame and the end of its TCP connection, daphne still
hands a consumer's send to autobahn, which raises Disconnected ("Attempt to send
on a closed protocol", django/channels#1820). The exception ended the consumer:
daphne logged "Exception inside application" and never called its disconnect(),
so the socket's channel stayed in its groups, and every later frame of the
conversation was sent to it until the group expired. A tab closed while a reply
streams hits that window, as did 243 of 1,000 quick connect/close cycles in
bench.stream_load once frames went out at once (chatsite/eager_write.py).

Both consumers wrap the `send` they are given with `unless_closed`; the frame is
not lost for anyone: the page that asked for it is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from autobahn.exception import Disconnected

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


def unless_closed(send: Send) -> Send:
    """Return `send`, dropping a message the closing socket cannot take."""

    async def send_unless_closed(message: dict[str, Any]) -> None:
        try:
            await send(message)
        except Disconnected:
            logger.debug("Dropped %s: the socket is closing", message.get("type"))

    return send_unless_closed
