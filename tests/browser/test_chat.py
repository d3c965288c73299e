"""A visitor's chat, end to end: chromium, a live daphne, the simulator over HTTP."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat import (
    LONG_REPLY_TIMEOUT_MS,
    conversation_path,
    last_question,
    last_reply,
    messages,
    open_settings,
    record_frames,
    send,
    streaming_lengths,
    visible_text,
    wait_for_some_text,
    watch_replies,
)
from tests.browser.conftest import sign_in
from tests.browser.servers import SiteServer, manage

OWNER_PASSWORD = "first-Owner-pa55word"
USAGE = re.compile(r"Tokens: \d+ prompt · \d+ completion · \d+ total")


def fill_account_form(page: Page, username: str, password: str) -> None:
    form = page.locator("form").filter(has=page.locator("input[type=password]"))
    form.locator("input[name=username]").fill(username)
    for field in form.locator("input[type=password]").all():
        field.fill(password)
    form.locator("[type=submit]").click()


def test_new_user_on_an_offline_site_sets_up_and_chats(
    page: Page, offline_server_url: str
) -> None:
    page.goto(f"{offline_server_url}/")
    expect(page).to_have_url(f"{offline_server_url}/setup/")
    fill_account_form(page, "owner", OWNER_PASSWORD)

    expect(page).to_have_url(f"{offline_server_url}/")
    expect(page.get_by_test_id("composer")).to_be_visible()
    expect(page.get_by_text(re.compile("built-in MiniMax simulator"))).to_be_visible()
    # The default model reasons, so its reply starts with a reasoning block.
    expect(page.get_by_test_id("model")).to_have_value("MiniMax-M2.7")

    watch_replies(page)
    send(page, "How do I read a file in Python?")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    lengths = streaming_lengths(page)
    assert len(lengths) >= 2, f"the reply never grew while streaming: {lengths}"

    # Markdown became elements, not raw asterisks and backticks.
    code = reply.locator("pre code").first
    expect(code).to_be_visible()
    # Highlighted: highlight.js wrapped keywords in spans of its own classes.
    expect(code.locator("span[class^='hljs-']").first).to_be_attached()
    expect(reply.locator("strong, li").first).to_be_visible()
    text = visible_text(reply)
    assert "```" not in text
    assert "**" not in text
    # The code block's copy button puts the code on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reply.locator("pre").first.get_by_role("button", name="Copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == code.inner_text().strip()
    assert "def answer()" in copied
    expect(reply.get_by_test_id("reasoning")).to_have_text(re.compile(r"\w{3}"))
    expect(last_question(page)).to_contain_text("How do I read a file in Python?")

    # The first account administers the site.
    page.goto(f"{offline_server_url}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_stop_keeps_the_partial_reply_across_a_reload(signed_in_page: Page) -> None:
    page = signed_in_page
    question = "[sim:long] Tell me a long story about stopping."
    send(page, question)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    wait_for_some_text(reply)
    path = conversation_path(page)

    page.get_by_test_id("stop").click()
    expect(reply).to_have_attribute("data-status", "stopped")
    partial = visible_text(reply)
    # Stopped part-way: the long reply's last line (line 200) never came.
    assert "This is line 1 " in partial
    assert "This is line 200 " not in partial

    page.reload()
    listed = page.locator(
        f'[data-testid="conversation"][href="{path}"],'
        f' [data-testid="conversation"] [href="{path}"]'
    )
    expect(listed).to_have_count(1)
    expect(last_question(page)).to_contain_text(question)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "stopped")
    assert visible_text(reply) == partial


def test_a_complete_reply_is_all_there_after_a_reload(signed_in_page: Page) -> None:
    page = signed_in_page
    question = "What is a list comprehension?"
    send(page, question)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply).to_contain_text(USAGE)
    path = conversation_path(page)
    before = visible_text(reply)

    page.reload()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(messages(page, "user")).to_have_count(1)
    expect(last_question(page)).to_contain_text(question)
    expect(messages(page, "assistant")).to_have_count(1)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply).to_contain_text(USAGE)
    expect(reply.get_by_test_id("reasoning")).to_have_text(re.compile(r"\w{3}"))
    assert visible_text(reply) == before


def test_a_reply_finishes_after_its_tab_closes(
    context: BrowserContext, chat_server: SiteServer
) -> None:
    page = sign_in(context.new_page(), chat_server)
    page.goto(f"{chat_server.url}/")
    send(page, "[sim:long] Keep going while I am away.")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    seen = wait_for_some_text(reply)
    path = conversation_path(page)
    page.close()
    # Time passes with no tab open: the reply must not depend on one.
    time.sleep(1.0)

    page = context.new_page()
    page.goto(f"{chat_server.url}{path}")
    reply = last_reply(page)
    expect(reply).to_have_attribute(
        "data-status", "complete", timeout=LONG_REPLY_TIMEOUT_MS
    )
    finished = visible_text(reply)
    assert len(finished) > len(seen)

    page.reload()
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    assert visible_text(reply) == finished


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (1002, re.compile(r"Wait a moment, then retry")),
        (1004, re.compile(r"MINIMAX_API_KEY")),
    ],
)
def test_an_error_says_what_to_do(
    signed_in_page: Page, code: int, advice: re.Pattern
) -> None:
    page = signed_in_page
    send(page, f"[sim:error={code}] Hello?")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "error")
    error = page.get_by_test_id("error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(advice)
    retry = page.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()

    # Retrying replaces the failed reply (the trigger is still there, so it fails
    # again) instead of piling up a second one.
    retry.click()
    expect(messages(page, "assistant")).to_have_count(1)
    expect(last_reply(page)).to_have_attribute("data-status", "error")
    expect(page.get_by_test_id("error")).to_contain_text(advice)


# Under 80 characters, so the simulator's reply quotes all of it.
XSS_QUESTION = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def assert_no_injected_markup(page: Page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    for where in ('[data-testid="message"]', '[data-testid="conversation"]'):
        expect(page.locator(f'{where} img[src="x"]')).to_have_count(0)
        expect(page.locator(f"{where} script")).to_have_count(0)


def test_model_output_is_not_trusted_html(signed_in_page: Page) -> None:
    page = signed_in_page
    send(page, XSS_QUESTION)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    # The markup is shown as the text it is, in the question and the quoting reply.
    expect(last_question(page)).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(reply).to_contain_text("<script>window.__xss=2</script>")
    assert_no_injected_markup(page)

    page.reload()
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page)).to_contain_text("<script>window.__xss=2</script>")
    assert_no_injected_markup(page)


SENTIMENT_SCHEMA = """{
  "name": "sentiment",
  "schema": {
    "type": "object",
    "properties": {
      "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
      "confidence": {"type": "number"},
      "keywords": {"type": "array", "items": {"type": "string"}}
    },
    "required": ["sentiment", "confidence", "keywords"]
  }
}"""


def test_a_json_schema_reply_shows_as_formatted_json_that_matches(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    page.get_by_test_id("model").select_option("MiniMax-Text-01")
    open_settings(page)
    page.locator("#id_json_schema").fill(SENTIMENT_SCHEMA)
    send(page, "Classify: I love this product")

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".json-mark")).to_have_attribute("data-json-valid", "true")
    code = reply.locator("pre code.language-json")
    expect(code).to_have_count(1)
    shown = code.text_content()
    # Pretty-printed: one key a line, indented, and the JSON the schema asked for.
    assert '\n  "sentiment": ' in shown
    parsed = json.loads(shown)
    assert set(parsed) == {"sentiment", "confidence", "keywords"}

    page.reload()
    reply = last_reply(page)
    expect(reply.locator(".json-mark")).to_have_attribute("data-json-valid", "true")
    assert json.loads(reply.locator("pre code.language-json").text_content()) == parsed


# Every Content-Security-Policy violation on the page, from the moment it loads.
_WATCH_CSP = """() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
        window.__cspViolations.push(
            `${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}`);
    });
}"""


def csp_violations(page: Page, console: list[str]) -> list[str]:
    refused = [line for line in console if "Content Security Policy" in line]
    return page.evaluate("window.__cspViolations") + refused


def test_chatting_breaks_no_content_security_policy(
    page: Page, chat_server: SiteServer
) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(f"({_WATCH_CSP})()")
    sign_in(page, chat_server)
    response = page.goto(f"{chat_server.url}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    send(page, "Show me some code, please.")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    # The websocket (connect-src 'self'), highlighting and the copy button all ran.
    expect(reply.locator("pre code span[class^='hljs-']").first).to_be_attached()
    expect(reply.locator("pre button.copy-code")).to_have_count(1)
    # Markdown tables align with classes: a style attribute would be refused.
    aligned = page.evaluate(
        """async () => {
            const { renderMarkdown } = await import("/static/common/markdown.js");
            const box = document.createElement("div");
            box.className = "body";
            box.append(renderMarkdown("| n |\\n|--:|\\n| 1 |"));
            document.body.append(box);
            const cell = box.querySelector("td");
            return [cell.className, cell.hasAttribute("style"),
                    getComputedStyle(cell).textAlign];
        }"""
    )
    assert aligned == ["align-right", False, "right"]
    assert csp_violations(page, console) == []

    page.reload()
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    assert csp_violations(page, console) == []


def test_the_admin_breaks_no_content_security_policy(
    page: Page, chat_server: SiteServer
) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(f"({_WATCH_CSP})()")
    chat_server.ensure_user("csp-staff")
    manage(
        chat_server.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.filter(username='csp-staff')"
        ".update(is_staff=True, is_superuser=True)",
    )
    sign_in(page, chat_server, "csp-staff")
    for path in ("/admin/", "/admin/conversations/message/", "/admin/auth/user/add/"):
        response = page.goto(f"{chat_server.url}{path}")
        assert response.status == 200, path
        assert "object-src 'none'" in response.headers["content-security-policy"]
        expect(page.locator("#content")).to_be_visible()
        assert csp_violations(page, console) == [], path
    # The admin's own scripts work under the policy: the changelist's select-all box.
    page.goto(f"{chat_server.url}/admin/auth/user/")
    page.locator("#action-toggle").check()
    expect(page.locator("tr.selected").first).to_be_visible()
    assert csp_violations(page, console) == []


# Marks the first heading of a streaming reply once two blocks follow it (so it is
# finished), and records whether that same element is still shown when the reply ends.
_WATCH_FINISHED_BLOCK = """() => {
    window.__finishedBlock = { tagged: false, kept: null };
    let heading = null;
    new MutationObserver(() => {
        const reply = document.querySelector(
            '[data-testid="message"][data-role="assistant"]');
        if (!reply) return;
        const first = reply.querySelector(".body > h2");
        if (!heading && reply.dataset.status === "streaming"
                && first?.nextElementSibling?.nextElementSibling) {
            heading = first;
            window.__finishedBlock.tagged = true;
        }
        if (heading && reply.dataset.status === "complete") {
            window.__finishedBlock.kept = heading.isConnected && first === heading;
        }
    }).observe(document.documentElement, {
        subtree: true, childList: true, attributes: true,
    });
}"""


def test_a_streaming_reply_keeps_its_finished_blocks(signed_in_page: Page) -> None:
    page = signed_in_page
    page.evaluate(_WATCH_FINISHED_BLOCK)
    send(page, "What is a generator?")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".body > h2")).to_have_count(1)

    watched = page.evaluate("window.__finishedBlock")
    # Rendered once while streaming and never again: not re-rendered on each frame.
    assert watched == {"tagged": True, "kept": True}


def test_each_reply_offers_to_speak_it(signed_in_page: Page) -> None:
    page = signed_in_page
    send(page, "Say something I can listen to.")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    reply_id = reply.get_attribute("data-id")
    speak = reply.get_by_test_id("speak")
    expect(speak).to_be_visible()
    expect(speak).to_have_attribute("href", f"/speech/?message={reply_id}")
    expect(last_question(page).get_by_test_id("speak")).to_have_count(0)


def test_a_long_reply_ends_by_the_check_of_the_text_the_page_built(
    context: BrowserContext, chat_server: SiteServer
) -> None:
    """A long reply's reply.done has no text, only a check: the page keeps what the
    deltas built, shows the reply ended, and asks for nothing more."""
    page = sign_in(context.new_page(), chat_server)
    received, sent = record_frames(page)
    page.goto(f"{chat_server.url}/")
    send(page, "[sim:long] Tell me everything about rivers.")
    reply = last_reply(page)
    expect(reply).to_have_attribute(
        "data-status", "complete", timeout=LONG_REPLY_TIMEOUT_MS
    )
    shown = visible_text(reply)

    done = [frame for frame in received if frame["type"] == "reply.done"][-1]
    assert "check" in done["message"] and "content" not in done["message"]
    assert not any(frame["type"] == "reply.resync" for frame in sent)
    page.reload()
    stored = last_reply(page)
    expect(stored).to_have_attribute("data-status", "complete")
    assert visible_text(stored) == shown
