"""The permessage-deflate offers the server accepts (chatsite/ws_compression.py).

tests/browser/test_compression.py checks the same with Chromium and a live daphne.
"""

import json
import zlib

import pytest
from autobahn.websocket.compress import (
    PerMessageDeflate,
    PerMessageDeflateOffer,
)
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory

from chatsite import ws_compression


def offer(**params) -> PerMessageDeflateOffer:
    """An offer as autobahn parses it from a Sec-WebSocket-Extensions header."""
    return PerMessageDeflateOffer.parse(
        {name: [value] for name, value in params.items()}
    )


def test_a_browser_offer_is_accepted_with_a_small_window_both_ways():
    # Chromium and Firefox send "permessage-deflate; client_max_window_bits".
    accept = ws_compression.accept_deflate([offer(client_max_window_bits=True)])

    assert accept.get_extension_string() == (
        "permessage-deflate; client_max_window_bits=10"
    )
    compressor = PerMessageDeflate.create_from_offer_accept(True, accept)
    assert compressor.server_max_window_bits == 10
    assert compressor.client_max_window_bits == 10
    assert compressor.mem_level == 1


def test_a_client_asking_for_a_smaller_window_gets_it():
    accept = ws_compression.accept_deflate(
        [offer(client_max_window_bits=True, server_max_window_bits="9")]
    )

    assert "server_max_window_bits=9" in accept.get_extension_string()
    compressor = PerMessageDeflate.create_from_offer_accept(True, accept)
    assert compressor.server_max_window_bits == 9


def test_a_client_that_cannot_limit_its_window_is_not_asked_to():
    accept = ws_compression.accept_deflate([offer()])

    assert accept.get_extension_string() == "permessage-deflate"


def test_no_deflate_offer_means_plain_frames():
    assert ws_compression.accept_deflate([]) is None


def test_frames_compressed_with_the_small_window_read_back_with_any_window():
    accept = ws_compression.accept_deflate([offer(client_max_window_bits=True)])
    compressor = PerMessageDeflate.create_from_offer_accept(True, accept)
    # A browser that did not ask for a smaller window reads with 32 KiB.
    browser = zlib.decompressobj(-15)
    prose = "The river runs past the mill, and the mill wheel turns. " * 40
    for offset in range(0, len(prose), 48):
        frame = json.dumps(
            {"type": "reply.delta", "text": prose[offset : offset + 48]}
        ).encode()
        compressor.start_compress_message()
        wire = compressor.compress_message_data(frame)
        wire += compressor.end_compress_message()

        assert browser.decompress(wire + b"\x00\x00\xff\xff") == frame


@pytest.fixture
def installed():
    previous = WebSocketFactory.__init__
    ws_compression.install()
    yield
    WebSocketFactory.__init__ = previous


def test_daphnes_own_options_keep_the_accept_in_place(installed):
    server = Server(application=None, endpoints=["tcp:port=0"])
    factory = WebSocketFactory(server, server="Daphne")
    # What daphne's Server.run() sets right after building the factory.
    factory.setProtocolOptions(autoPingTimeout=30, allowNullOrigin=True)

    assert factory.perMessageCompressionAccept is ws_compression.accept_deflate
