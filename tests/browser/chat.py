"""What a visitor does and sees on the chat page, in terms of the data-testid hooks.

The selectors live here, so a change in the page's markup is one edit, not seven.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, Page, expect

CONVERSATION_PATH = re.compile(r"/c/(\d+)/$")
# A long reply (400 chunks) takes seconds; waits for its end get this long.
LONG_REPLY_TIMEOUT_MS = 45_000


def send(page: Page, text: str) -> None:
    """Type text into the composer and press the send button."""
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    page.get_by_test_id("send").click()


def messages(page: Page, role: str) -> Locator:
    return page.locator(f'[data-testid="message"][data-role="{role}"]')


def last_reply(page: Page) -> Locator:
    return messages(page, "assistant").last


def last_question(page: Page) -> Locator:
    return messages(page, "user").last


def conversation_path(page: Page) -> str:
    """Wait until the page shows a stored conversation; return its path /c/<id>/."""
    expect(page).to_have_url(CONVERSATION_PATH)
    return CONVERSATION_PATH.search(page.url).group(0)


def visible_text(message: Locator) -> str:
    """Return the message's own text: no reasoning block, no button labels.

    Whitespace is collapsed, so markdown rendered twice (live, then from the
    stored message after a reload) compares equal when it says the same thing.
    """
    return message.evaluate(
        """(element) => {
            const copy = element.cloneNode(true);
            copy.querySelectorAll(
                '[data-testid="reasoning"], [data-testid="thinking"], button, script,'
                + ' .message-actions'
            ).forEach((node) => node.remove());
            return copy.textContent.replace(/\\s+/g, ' ').trim();
        }"""
    )


def open_settings(page: Page) -> Locator:
    """Open the conversation settings panel; return it."""
    panel = page.get_by_test_id("settings-panel")
    if not panel.is_visible():
        page.get_by_test_id("settings-toggle").click()
    expect(panel).to_be_visible()
    return panel


def wait_for_some_text(message: Locator, characters: int = 20) -> str:
    """Wait until the message's body (not its reasoning) shows some text; return it."""
    body = message.locator(".body")
    expect(body).to_have_text(re.compile(rf"\S[\s\S]{{{characters},}}"))
    return visible_text(message)


# Records (status, length of the body text) of the last reply on every DOM change,
# from the moment it is installed. Runs again in every new document of the page.
_WATCH_REPLIES = """() => {
    if (window.__replySamples) return;
    window.__replySamples = [];
    const sample = () => {
        const replies = document.querySelectorAll(
            '[data-testid="message"][data-role="assistant"]');
        const last = replies[replies.length - 1];
        if (!last) return;
        const body = last.querySelector(".body");
        window.__replySamples.push({
            status: last.dataset.status,
            length: body ? body.textContent.length : 0,
        });
    };
    new MutationObserver(sample).observe(document.documentElement, {
        subtree: true, childList: true, characterData: true, attributes: true,
    });
}"""


def watch_replies(page: Page) -> None:
    """Start recording how the last reply changes, in this and later documents."""
    page.add_init_script(f"({_WATCH_REPLIES})()")
    page.evaluate(_WATCH_REPLIES)


def streaming_lengths(page: Page) -> list[int]:
    """Return the distinct body text lengths the last reply had while it streamed."""
    samples = page.evaluate("window.__replySamples || []")
    return sorted(
        {
            sample["length"]
            for sample in samples
            if sample["status"] == "streaming" and sample["length"] > 0
        }
    )


def record_frames(page: Page) -> tuple[list[dict], list[dict]]:
    """Record the JSON frames the page's websockets receive and send, in order."""
    received: list[dict] = []
    sent: list[dict] = []

    def watch(socket) -> None:
        socket.on("framereceived", lambda data: received.append(json.loads(data)))
        socket.on("framesent", lambda data: sent.append(json.loads(data)))

    page.on("websocket", watch)
    return received, sent
