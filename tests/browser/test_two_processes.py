"""Two daphne processes behind one Redis: a reply is seen, and stopped, from either."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from tests.browser.chat import (
    LONG_REPLY_TIMEOUT_MS,
    conversation_path,
    last_question,
    last_reply,
    send,
    visible_text,
    wait_for_some_text,
)
from tests.browser.conftest import sign_in
from tests.browser.servers import SiteServer


def test_a_reply_streams_to_and_stops_from_another_process(
    context: BrowserContext, two_servers: tuple[SiteServer, SiteServer]
) -> None:
    first, second = two_servers
    # One browser profile: the session cookie belongs to the host, whatever the port.
    page_a = sign_in(context.new_page(), first)
    page_a.goto(f"{first.url}/")
    send(page_a, "[sim:long] Stream this to both tabs.")
    reply_a = last_reply(page_a)
    expect(reply_a).to_have_attribute("data-status", "streaming")
    wait_for_some_text(reply_a)
    path = conversation_path(page_a)

    # B joins mid-reply on the other process: the text so far, then the rest live.
    page_b = context.new_page()
    page_b.goto(f"{second.url}{path}")
    reply_b = last_reply(page_b)
    expect(reply_b).to_have_attribute("data-status", "streaming")
    joined_with = wait_for_some_text(reply_b)
    expect(reply_b).to_have_attribute(
        "data-status", "complete", timeout=LONG_REPLY_TIMEOUT_MS
    )
    expect(reply_a).to_have_attribute("data-status", "complete")
    finished = visible_text(reply_b)
    assert len(finished) > len(joined_with)
    assert visible_text(reply_a) == finished

    # A second reply, started on process 1, stopped from the tab on process 2.
    question = "[sim:long] Now stop this one from the other tab."
    send(page_a, question)
    expect(last_question(page_b)).to_contain_text(question)
    reply_a = last_reply(page_a)
    reply_b = last_reply(page_b)
    expect(reply_b).to_have_attribute("data-status", "streaming")
    wait_for_some_text(reply_b)
    page_b.get_by_test_id("stop").click()
    expect(reply_b).to_have_attribute("data-status", "stopped")
    expect(reply_a).to_have_attribute("data-status", "stopped")
    assert visible_text(reply_a) == visible_text(reply_b)

    page_a.reload()
    reply_a = last_reply(page_a)
    expect(reply_a).to_have_attribute("data-status", "stopped")
    assert visible_text(reply_a) == visible_text(reply_b)
