"""A page that misses frames repairs itself: the site's channel layer here drops
every third reply.delta and every reply.done (tests/lossy_layer.py), and the page
still ends with the whole reply and its final state (store.js: a gap in offsets,
or a streaming reply gone quiet, asks for a reply.snapshot)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.chat import last_reply, record_frames, send, visible_text
from tests.browser.conftest import CHUNK_DELAY, new_site, serve_site, sign_in
from tests.browser.servers import SiteServer

# The reply streams (~1 s), then ends unseen: the page waits its quiet time (5 s).
REPAIR_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def lossy_server(browser_tmp: Path) -> Iterator[SiteServer]:
    env = new_site(
        browser_tmp,
        "lossy",
        CHAT_TEST_DROP_FRAMES="3",
        MINIMAX_SIMULATOR_CHUNK_DELAY=str(CHUNK_DELAY),
    )
    server = serve_site("daphne-lossy", env, browser_tmp)
    yield server
    server.process.stop()


def test_a_page_missing_frames_ends_with_the_whole_reply(
    context: BrowserContext, lossy_server: SiteServer
) -> None:
    page = sign_in(context.new_page(), lossy_server)
    received, sent = record_frames(page)
    page.goto(f"{lossy_server.url}/")
    send(page, "Tell me about streaming.")
    reply = last_reply(page)

    expect(reply).to_have_attribute(
        "data-status", "complete", timeout=REPAIR_TIMEOUT_MS
    )
    shown = visible_text(reply)

    kinds = [frame["type"] for frame in received]
    # The layer did lose frames: no reply.done ever reached the page, and the
    # deltas it got do not add up; the page asked, and a snapshot ended it.
    assert "reply.done" not in kinds
    assert kinds.count("reply.delta") >= 4
    assert any(frame["type"] == "reply.resync" for frame in sent)
    final = [f for f in received if f["type"] == "reply.snapshot"][-1]["message"]
    assert final["status"] == "complete"

    # The page shows what the server stored, as a fresh load of it does.
    page.reload()
    stored = last_reply(page)
    expect(stored).to_have_attribute("data-status", "complete")
    assert visible_text(stored) == shown
    assert len(shown) > 50
