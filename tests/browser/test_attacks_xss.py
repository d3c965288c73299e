"""Stored XSS: hostile text in every place the site shows it, checked in Chromium.

The corpus (tests/browser/attacks.py) goes in as the user's message and comes back
as the model's reply and reasoning ([sim:echo]), as conversation titles, the system
prompt, pro's bot and user names (which the model also repeats), speech texts, and
through the admin's review queue. Each page is checked for a dialog, an injected
element or attribute, and a CSP violation; and each payload's marker must be on the
page, shown as text (a payload that vanished proves nothing).

All payloads of one place go in one page load, so the file takes seconds.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.attacks import (
    PAYLOADS,
    SHORT_PAYLOADS,
    AttackWatch,
    api,
    corpus,
    find_injections,
    marker,
    watch_for_attacks,
)
from tests.browser.chat import last_reply, messages, open_settings, send
from tests.browser.conftest import sign_in
from tests.browser.servers import SiteServer
from tests.browser.test_review import make_reviewer, sign_in_to_admin

REPLY_TIMEOUT_MS = 20_000
M1 = "MiniMax-M1"  # thinks first: the echo is in its reasoning too


@pytest.fixture
def attacker(browser: Browser, attack_server: SiteServer):
    """A signed-in page of a fresh user, with dialogs and CSP errors watched."""
    contexts = []

    def open_as(username: str | None) -> tuple[Page, AttackWatch]:
        context = browser.new_context()
        contexts.append(context)
        watch = watch_for_attacks(context)
        page = context.new_page()
        if username:
            sign_in(page, attack_server, username)
        return page, watch

    yield open_as
    for context in contexts:
        context.close()


def assert_clean(page: Page, watch: AttackWatch, where: str) -> None:
    found = find_injections(page)
    assert found == [], f"{where}: {found}"
    assert watch.dialogs == [], f"{where}: {watch.dialogs}"
    assert watch.csp_errors() == [], f"{where}: {watch.csp_errors()}"


def assert_markers(text: str, count: int, where: str) -> None:
    missing = [marker(n) for n in range(count) if marker(n) not in text]
    assert missing == [], f"{where}: payloads not shown as text: {missing}"


def wait_for_reply(page: Page, count: int = 1) -> None:
    replies = messages(page, "assistant")
    expect(replies).to_have_count(count, timeout=REPLY_TIMEOUT_MS)
    expect(replies.nth(count - 1)).to_have_attribute(
        "data-status", re.compile("complete|error"), timeout=REPLY_TIMEOUT_MS
    )


def body_text(page: Page) -> str:
    return last_reply(page).locator(".body").inner_text()


def reasoning_text(page: Page) -> str:
    return (
        last_reply(page)
        .get_by_test_id("reasoning")
        .evaluate("(node) => node.textContent")
    )


def test_the_detector_sees_an_injection(attacker):
    """The checks below can fail: a planted element, handler and dialog are seen."""
    page, watch = attacker("xss-probe")
    assert_clean(page, watch, "a clean page")
    page.evaluate(
        """() => {
            const box = document.createElement("div");
            box.id = "pwned";
            box.setAttribute("onclick", "x");
            const link = document.createElement("a");
            link.href = " javascript:void(0)";
            box.append(link);
            document.body.append(box);
            alert("probe");
        }"""
    )
    found = find_injections(page)
    assert "#pwned exists" in found and "DIV has onclick" in found
    assert any(item.startswith("A href= javascript:") for item in found), found
    assert watch.dialogs and "probe" in watch.dialogs[0]


def test_a_hostile_message_reply_reasoning_title_and_system_prompt_stay_text(
    attacker, attack_server: SiteServer
):
    page, watch = attacker("xss-chat")
    text = corpus()
    created = api(
        page,
        "POST",
        f"{attack_server.url}/api/conversations/",
        {"model": "MiniMax-M1", "dialect": "v2", "system_prompt": text},
    )
    title = '<img src=x onerror=alert(1)>"><svg onload=alert(1)></title><script>x'
    api(
        page,
        "PATCH",
        f"{attack_server.url}/api/conversations/{created['id']}/",
        {"title": title},
    )
    page.goto(f"{attack_server.url}/c/{created['id']}/")
    send(page, f"{text}\n\n[sim:echo]")
    wait_for_reply(page)

    # Live: the streamed reply, its reasoning, the user's message, the title.
    assert_clean(page, watch, "the live page")
    assert_markers(body_text(page), len(PAYLOADS), "reply")
    assert_markers(reasoning_text(page), len(PAYLOADS), "reasoning")
    assert_markers(messages(page, "user").last.inner_text(), len(PAYLOADS), "message")
    assert page.title().startswith(title)

    # Stored: the same page rendered from the database.
    page.reload()
    wait_for_reply(page)
    assert_clean(page, watch, "the reloaded page")
    assert_markers(body_text(page), len(PAYLOADS), "reply")
    sidebar = page.get_by_test_id("conversation").filter(has_text="onerror")
    expect(sidebar).to_contain_text(title)
    settings = open_settings(page)
    system_prompt = settings.locator("[name=system_prompt]")
    assert system_prompt.input_value() == text
    assert_clean(page, watch, "the settings panel")

    # Exports carry the payloads as data: downloads, never a page of this origin.
    for url in (
        f"/api/conversations/{created['id']}/export?format=md",
        f"/api/conversations/{created['id']}/export?format=json",
        "/api/export/?format=md",
        "/api/export/?format=json",
    ):
        response = page.request.get(f"{attack_server.url}{url}")
        assert response.ok, url
        headers = response.headers
        assert headers["content-disposition"].startswith("attachment"), url
        assert "html" not in headers["content-type"], url
        assert headers["x-content-type-options"] == "nosniff", url
        assert marker(len(PAYLOADS) - 1) in response.text(), url


def test_hostile_titles_bot_and_user_names_stay_text(attacker, attack_server):
    page, watch = attacker("xss-names")
    base = attack_server.url
    for number, payload in enumerate(PAYLOADS):
        created = api(page, "POST", f"{base}/api/conversations/", {"model": M1})
        api(
            page,
            "PATCH",
            f"{base}/api/conversations/{created['id']}/",
            {"title": f"{marker(number)} {payload}"[:200]},
        )
    pro_ids = []
    for payload in SHORT_PAYLOADS:
        created = api(
            page,
            "POST",
            f"{base}/api/conversations/",
            {
                "model": "abab6.5s-chat",
                "dialect": "pro",
                "bot_name": payload,
                "user_name": payload,
            },
        )
        pro_ids.append(created["id"])

    page.goto(f"{base}/")
    # The list loads 40 at a time as it is scrolled: scroll until all are there.
    listed = page.get_by_test_id("conversation")
    everything = len(PAYLOADS) + len(SHORT_PAYLOADS)
    for _ in range(40):
        if listed.count() == everything:
            break
        page.locator("#sidebar").evaluate(
            "(bar) => { bar.scrollTop = bar.scrollHeight; }"
        )
        page.wait_for_timeout(250)
    expect(listed).to_have_count(everything)
    assert_clean(page, watch, "the conversation list")
    titles = page.locator("#sidebar").inner_text()
    assert_markers(titles, len(PAYLOADS), "titles")

    for conversation_id, payload in zip(pro_ids, SHORT_PAYLOADS, strict=True):
        page.goto(f"{base}/c/{conversation_id}/")
        # The default reply says the bot's name in markdown: "**<name>** here."
        send(page, "Who are you?")
        wait_for_reply(page)
        reply = last_reply(page)
        expect(reply.locator(".sender")).to_have_text(payload)
        expect(reply.locator(".body")).to_contain_text(payload.replace("**", ""))
        settings = open_settings(page)
        values = [
            settings.locator(f"[name={name}]").input_value()
            for name in ("bot_name", "user_name")
        ]
        assert values == [payload, payload]
        assert_clean(page, watch, f"pro conversation named {payload!r}")


def test_hostile_speech_texts_stay_text(attacker, attack_server):
    page, watch = attacker("xss-speech")
    base = attack_server.url
    voices = [{"voice_id": "female-shaonv", "weight": 1}]
    texts = [corpus(), *PAYLOADS[:8]]
    for text in texts:
        api(page, "POST", f"{base}/api/speech/", {"text": text, "voices": voices})
    page.goto(f"{base}/speech/")
    clips = page.get_by_test_id("clip")
    expect(clips).to_have_count(len(texts))
    expect(page.locator('[data-testid="clip"][data-status="pending"]')).to_have_count(
        0, timeout=REPLY_TIMEOUT_MS
    )
    page.reload()
    expect(clips).to_have_count(len(texts))
    assert_clean(page, watch, "the speech studio")
    # Newest first: the short payloads' excerpts show them as text.
    shown = page.locator("[data-testid=clip]").all_inner_texts()
    assert "XSS00" in shown[-1]
    for payload, text in zip(reversed(PAYLOADS[:8]), shown, strict=False):
        assert " ".join(payload.split())[:20] in " ".join(text.split()), payload


def test_hostile_flagged_messages_stay_text_in_the_review_queue(
    attacker, attack_server
):
    page, watch = attacker("xss-flagged")
    base = attack_server.url
    text = corpus()
    for trigger in ("[sim:flag-output]", "[sim:flag-input]"):
        created = api(page, "POST", f"{base}/api/conversations/", {"model": M1})
        page.goto(f"{base}/c/{created['id']}/")
        send(page, f"{text}\n\n[sim:echo] {trigger}")
        wait_for_reply(page)
        assert_clean(page, watch, f"the flagged chat {trigger}")

    reviewer, reviewer_watch = attacker(None)
    sign_in_to_admin(reviewer, attack_server, make_reviewer(attack_server, "xss-rosa"))
    reviewer.goto(f"{base}/admin/")
    assert_clean(reviewer, reviewer_watch, "the admin index")
    reviewer.goto(f"{base}/admin/review/reviewitem/")
    rows = reviewer.locator("#result_list tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 2
    assert_clean(reviewer, reviewer_watch, "the review queue")
    assert "XSS00" in reviewer.locator("#result_list").inner_text()
    links = [
        link.get_attribute("href")
        for link in reviewer.locator("#result_list tbody tr th a").all()
    ]
    for href in links:
        reviewer.goto(f"{base}{href}")
        expect(reviewer.get_by_test_id("review-context")).to_be_visible()
        assert_clean(reviewer, reviewer_watch, f"the review item {href}")
        context_text = reviewer.get_by_test_id("review-context").inner_text()
        assert_markers(context_text, len(PAYLOADS), f"review item {href}")
    reviewer.goto(f"{base}/admin/review/reviewitem/overview/")
    assert_clean(reviewer, reviewer_watch, "the review overview")
    reviewer.goto(f"{base}/admin/review/reviewitem/?q=onerror")
    assert_clean(reviewer, reviewer_watch, "the review queue searched")
