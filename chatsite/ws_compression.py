"""Websocket frames compressed (permessage-deflate, RFC 7692) when a browser offers it.

A streaming reply is ~100 small `reply.delta` frames, each ~80 bytes of JSON keys,
ids and offsets beside a few words of text: the wire carried 2.1-2.7x the text.
Every browser offers `permessage-deflate`, but daphne never sets autobahn's
`perMessageCompressionAccept`, so it declined. With context takeover the repeated
keys cost a few bits each and the text itself shrinks (docs/performance.md).

The compressor is kept small because it lives as long as the socket, idle or not:
zlib needs 2^(window+2) + 2^(mem_level+9) bytes beside ~6 KiB of state, so a 1 KiB
window and mem level 1 are ~11 KiB (zlib's defaults, 15 and 8, would be ~260 KiB on
every open tab). On prose frames the mem level changes nothing and a 1 KiB window
gives 1.05x the text against 0.90x for 32 KiB (docs/performance.md). A window
smaller than the browser's is always readable by it (RFC 7692 7.1.2.1). The browser
is asked to compress what it sends with the same window, so the server's
decompressor is small too.

Nothing secret shares a socket's compression context with text someone else chose:
a socket carries one signed-in user's own conversations (no CSRF token, no key), so
the length side channel of CRIME/BREACH has nothing to recover.

`install()` (from chatsite/asgi.py, imported by daphne before it builds its
websocket factory) wraps the factory's `__init__`; tests/test_ws_compression.py
checks a real handshake and the frames.
"""

from __future__ import annotations

from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from daphne.ws_protocol import WebSocketFactory

WINDOW_BITS = 10
MEM_LEVEL = 1

_daphne_init = WebSocketFactory.__init__


def accept_deflate(offers: list) -> PerMessageDeflateOfferAccept | None:
    """Accept the first permessage-deflate offer, with a small window both ways."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            window = WINDOW_BITS
            if offer.request_max_window_bits:
                window = min(window, offer.request_max_window_bits)
            return PerMessageDeflateOfferAccept(
                offer,
                request_max_window_bits=(
                    WINDOW_BITS if offer.accept_max_window_bits else 0
                ),
                window_bits=window,
                mem_level=MEM_LEVEL,
            )
    return None


def _init(self: WebSocketFactory, *args, **kwargs) -> None:
    _daphne_init(self, *args, **kwargs)
    self.setProtocolOptions(perMessageCompressionAccept=accept_deflate)


def install() -> None:
    """Offer-accepting websocket factories for every daphne server (idempotent)."""
    WebSocketFactory.__init__ = _init
