"""A server that dies mid-reply: on the next start the reply is kept, interrupted."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from conversations.replies.runner import CHECKPOINT_INTERVAL
from tests.browser.chat import (
    conversation_path,
    last_question,
    last_reply,
    send,
    wait_for_some_text,
)
from tests.browser.conftest import new_site, serve_site, sign_in
from tests.browser.servers import manage


def body_text(reply) -> str:
    return re.sub(r"\s+", " ", reply.locator(".body").text_content()).strip()


def test_a_reply_cut_by_a_crash_is_kept_and_marked_interrupted(
    context: BrowserContext, browser_tmp: Path
) -> None:
    # A one-process site of its own (the in-memory layer, as `WORKERS=1 make run`).
    env = new_site(browser_tmp, "crash", MINIMAX_SIMULATOR_CHUNK_DELAY="0.02")
    server = serve_site("daphne-crash", env, browser_tmp)
    try:
        crash_and_restart(context, server, env, browser_tmp)
    finally:
        server.process.stop()


def crash_and_restart(context, server, env, browser_tmp: Path) -> None:
    page = sign_in(context.new_page(), server)
    page.goto(f"{server.url}/")
    question = "[sim:long] Tell me a long story"
    send(page, question)
    reply = last_reply(page)
    wait_for_some_text(reply, 200)
    path = conversation_path(page)
    # The first checkpoint comes CHECKPOINT_INTERVAL after the reply began; the
    # long reply (400 pieces, 20 ms apart: 8 s) is still streaming a second later.
    time.sleep(CHECKPOINT_INTERVAL + 1.0)
    expect(reply).to_have_attribute("data-status", "streaming")

    server.process.popen.kill()  # SIGKILL: nothing gets to save or say goodbye
    server.process.popen.wait(timeout=10)
    seen = body_text(reply)
    # What `make run` does on the next start: repair, then serve.
    manage(env, "recover_replies")
    restarted = serve_site("daphne-crash-restarted", env, browser_tmp)
    try:
        see_it_interrupted(page, restarted.url, path, question, seen)
    finally:
        restarted.process.stop()


def see_it_interrupted(page, url: str, path: str, question: str, seen: str) -> None:
    page.goto(f"{url}{path}")

    expect(last_question(page)).to_contain_text(question)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "interrupted")
    expect(reply).to_contain_text("The server restarted while answering")
    kept = body_text(reply)
    # The text up to the last checkpoint: most of what the page had shown.
    assert len(kept) >= 100
    assert seen.startswith(kept[:100])
