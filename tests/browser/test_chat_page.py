"""The chat page's own parts: the message toolbar, the wait for a first token, math,
the settings panel at desktop and phone widths, the theme and the shortcuts.

Chromium, a live daphne and the simulator over HTTP (the `chat_server` fixture: its
first-token timeout is 3 s, so a stalled reply fails fast).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.chat import (
    conversation_path,
    last_question,
    last_reply,
    open_settings,
    send,
)
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, sign_in
from tests.browser.servers import SiteServer

PHONE = {"width": 390, "height": 844}

# Every Content-Security-Policy violation on the page, from the moment it loads.
_WATCH_CSP = """() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
        window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
}"""


def stored_messages(page: Page) -> list[dict]:
    """The conversation's messages as the JSON API has them (the page's session)."""
    conversation_id = conversation_path(page).strip("/").split("/")[-1]
    response = page.request.get(
        f"{page.url.split('/c/')[0]}/api/conversations/{conversation_id}/"
    )
    assert response.ok
    return response.json()["messages"]


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


@pytest.fixture
def phone_page(browser: Browser, chat_server: SiteServer) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = sign_in(context.new_page(), chat_server)
    page.goto(f"{chat_server.url}/")
    yield page
    context.close()


def test_copy_puts_the_whole_message_on_the_clipboard_as_markdown(
    context: BrowserContext, signed_in_page: Page
) -> None:
    page = signed_in_page
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    question = "Explain **generators**\nin two lines."
    send(page, question)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    markdown = stored_messages(page)[-1]["content"]
    assert "```" in markdown and "**" in markdown  # the source, not rendered text

    copy = reply.get_by_test_id("copy-message")
    expect(copy).to_have_accessible_name(re.compile("Copy message"))
    copy.click()
    assert clipboard(page) == markdown
    expect(copy).to_have_accessible_name("Copied")

    # A question copies as typed, line break included; by keyboard as well.
    last_question(page).get_by_test_id("copy-message").focus()
    page.keyboard.press("Enter")
    assert clipboard(page) == question


def test_the_toolbar_shows_the_time_and_keeps_speak(signed_in_page: Page) -> None:
    page = signed_in_page
    send(page, "What time is it?")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    toolbar = reply.get_by_role("toolbar")
    time = toolbar.locator("time")
    expect(time).to_have_text(re.compile(r"\d{1,2}:\d\d"))
    # The full date on hover.
    expect(time).to_have_attribute("title", re.compile(r"20\d\d"))
    expect(toolbar.get_by_test_id("speak")).to_have_attribute(
        "href", f"/speech/?message={reply.get_attribute('data-id')}"
    )
    expect(toolbar.get_by_role("button", name="Regenerate")).to_be_visible()
    # Usage as the dialect reports it: no dash for a count it did not send.
    expect(reply.locator(".stats")).not_to_contain_text("–")


def test_a_stalled_first_token_shows_the_wait_and_esc_stops_it(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    send(page, "[sim:stall-first] Are you there?")
    thinking = page.get_by_test_id("thinking")
    expect(thinking).to_be_visible()
    expect(thinking).to_have_text(re.compile(r"Thinking… 0 s"))
    # The seconds count up while nothing arrives, and Stop stays in reach.
    expect(thinking).to_have_text(re.compile(r"Thinking… [12] s"), timeout=2_500)
    expect(page.get_by_test_id("stop")).to_be_visible()
    expect(page.get_by_test_id("stop")).to_be_enabled()

    page.keyboard.press("Escape")
    expect(last_reply(page)).to_have_attribute("data-status", "stopped")
    expect(thinking).to_have_count(0)
    expect(page.get_by_test_id("stop")).to_be_hidden()


def test_a_first_token_timeout_says_what_happened_once(signed_in_page: Page) -> None:
    page = signed_in_page
    send(page, "[sim:stall-first] Hello?")
    expect(page.get_by_test_id("thinking")).to_be_visible()
    reply = last_reply(page)
    # The server's first-token timeout (3 s here) ends the wait.
    expect(reply).to_have_attribute("data-status", "error", timeout=8_000)
    expect(page.get_by_test_id("thinking")).to_have_count(0)
    error = reply.get_by_test_id("error")
    expect(error.locator(".error-message")).to_have_text("MiniMax stopped responding.")
    text = error.inner_text()
    assert text.count("stopped responding") == 1, text
    assert text.lower().count("retry") <= 2, text  # the advice and the Retry button


MATH_QUESTION = r"Euler: $e^{i\pi}+1=0$ and $$\int_0^1 x\,dx = \tfrac12$$"
HOSTILE_QUESTION = (
    r"$\href{javascript:alert(1)}{x}$ $\url{javascript:1}$ $\htmlClass{evil}{y}$"
)
HOSTILE_FORMULAS = [
    r"\href{javascript:window.__xss=1}{click}",
    r"\url{javascript:window.__xss=2}",
    r"\htmlClass{evil}{x}",
    r"\htmlId{evil}{x}",
    r"\htmlStyle{background:red}{x}",
    r"\htmlData{evil=1}{x}",
    r"\includegraphics{http://127.0.0.1:1/x.png}",
]


def test_math_renders_and_a_hostile_formula_stays_inert(
    page: Page, chat_server: SiteServer
) -> None:
    page.add_init_script(f"({_WATCH_CSP})()")
    sign_in(page, chat_server)
    page.goto(f"{chat_server.url}/")
    send(page, MATH_QUESTION)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    # The simulator quotes the question: its formulas render in the reply.
    formulas = reply.get_by_test_id("math")
    expect(formulas).to_have_count(2)
    expect(formulas.first.locator("math msup")).to_have_count(1)
    expect(reply.locator(".body")).not_to_contain_text("$e^")
    # Drawn, not collapsed: MathML needs no style attribute the CSP would refuse.
    box = formulas.first.bounding_box()
    assert box and box["width"] > 40 and box["height"] > 10
    expect(formulas.nth(1)).to_have_class(re.compile("math-display"))

    send(page, HOSTILE_QUESTION)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.get_by_test_id("math")).to_have_count(3)
    expect(reply.locator("a[href^='javascript'], .evil, [style]")).to_have_count(0)
    reply.get_by_test_id("math").first.click()

    # Every trusted-only command, through the page's own renderer and sanitiser.
    inert = page.evaluate(
        """async (formulas) => {
            const { renderMarkdown } = await import("/static/common/markdown.js");
            const box = document.createElement("div");
            box.className = "body";
            const text = formulas.map((tex) => `$${tex}$`).join("\\n\\n");
            box.append(renderMarkdown(text));
            document.body.append(box);
            for (const node of box.querySelectorAll("a, [data-testid=math]")) {
                node.click();
            }
            return {
                formulas: box.querySelectorAll("[data-testid=math]").length,
                links: box.querySelectorAll("a, [href]").length,
                images: box.querySelectorAll("img, image").length,
                styled: box.querySelectorAll("[style]").length,
                evil: box.querySelectorAll(".evil, #evil, [data-evil]").length,
            };
        }""",
        HOSTILE_FORMULAS,
    )
    assert inert == {"formulas": 7, "links": 0, "images": 0, "styled": 0, "evil": 0}
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("window.__cspViolations") == []


def test_the_settings_panel_leaves_the_messages_visible_on_a_desktop(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    send(page, "Hello there")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")

    panel = open_settings(page)
    expect(page.get_by_test_id("settings-toggle")).to_have_attribute(
        "aria-expanded", "true"
    )
    # The model card: the API, the context size and what the model supports.
    card = panel.get_by_test_id("model-card")
    expect(card).to_contain_text("chat/completions")
    expect(card).to_contain_text("200K tokens")
    expect(card).to_contain_text("reasoning")
    # Beside the messages, not over them.
    expect(reply).to_be_in_viewport()
    expect(page.get_by_test_id("composer")).to_be_in_viewport()
    panel_box = panel.bounding_box()
    list_box = page.locator("#messages").bounding_box()
    assert list_box["x"] + list_box["width"] <= panel_box["x"] + 1
    assert list_box["width"] >= 500

    # Still open on the next page (this browser remembers), closed by its button.
    page.reload()
    expect(page.get_by_test_id("settings-panel")).to_be_visible()
    page.get_by_role("button", name="Close settings").click()
    expect(page.get_by_test_id("settings-panel")).to_be_hidden()


def test_the_settings_open_as_a_sheet_on_a_phone(phone_page: Page) -> None:
    page = phone_page
    panel = open_settings(page)
    box = panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}
    expect(panel.get_by_label("System prompt")).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_test_id("composer")).to_be_in_viewport()


def test_the_phone_header_is_one_row_with_its_tools_in_a_menu(
    phone_page: Page,
) -> None:
    page = phone_page
    header = page.locator(".site-header")
    speech = page.get_by_test_id("speech-link")
    menu = page.get_by_test_id("header-menu")
    assert header.bounding_box()["height"] < 56  # one row, not three
    expect(speech).to_be_hidden()

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(speech).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_label("Language")).to_be_visible()
    page.keyboard.press("Escape")
    expect(speech).to_be_hidden()
    expect(menu).to_be_focused()

    # A tap elsewhere folds it too; the menu never covers the composer for good.
    menu.click()
    page.get_by_test_id("composer").click()
    expect(speech).to_be_hidden()


def test_the_desktop_header_shows_its_tools_without_a_menu(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.get_by_test_id("header-menu")).to_be_hidden()
    expect(page.get_by_test_id("speech-link")).to_be_visible()


def test_an_empty_chat_welcomes_with_suggestions_that_send(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    welcome = page.get_by_test_id("welcome")
    expect(welcome).to_be_visible()
    suggestions = welcome.get_by_test_id("suggestion")
    expect(suggestions).to_have_count(4)
    text = suggestions.first.inner_text().strip()
    suggestions.first.click()
    expect(last_question(page)).to_contain_text(text)
    expect(welcome).to_have_count(0)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    # The tab's title follows the conversation.
    expect(page).to_have_title(
        re.compile(rf"^{re.escape(text[:20])}.* · MiniMax Chat$")
    )


def test_the_welcome_speaks_the_readers_language(
    browser: Browser, chat_server: SiteServer
) -> None:
    context = browser.new_context(
        locale="zh-CN", extra_http_headers={"Accept-Language": "zh-Hans"}
    )
    page = sign_in(context.new_page(), chat_server)
    page.goto(f"{chat_server.url}/")
    expect(page.get_by_test_id("welcome")).to_contain_text("有什么可以帮你")
    expect(page.get_by_test_id("suggestion").first).to_contain_text("欧拉")
    context.close()


def test_theme_switch_and_shortcut_list(signed_in_page: Page) -> None:
    page = signed_in_page
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    dark = page.evaluate(background)
    assert dark != light
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.get_by_role("button", name="Theme of the system").click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")

    # "?" outside the composer lists the shortcuts; Shift+Esc focuses the composer.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("?")
    shortcuts = page.get_by_test_id("shortcuts")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("New chat")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    page.keyboard.press("Shift+Escape")
    expect(page.get_by_test_id("composer")).to_be_focused()
    # Typing "?" in the composer is just a question mark.
    page.keyboard.type("?")
    expect(shortcuts).to_be_hidden()
    expect(page.get_by_test_id("composer")).to_have_value("?")


def test_long_code_lines_and_wide_tables_scroll_inside_the_message(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    send(page, "Short question.")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    # A reply with a very long code line, a wide table and a task list, rendered
    # into the reply's body by the page's renderer.
    sizes = page.evaluate(
        """async () => {
            const { renderMarkdown } = await import("/static/common/markdown.js");
            const long = "x".repeat(600);
            const cells = Array.from({ length: 40 }, (_, i) => `column ${i}`);
            const row = "| " + cells.join(" | ") + " |\\n";
            const rule = "|" + cells.map(() => "---").join("|") + "|\\n";
            const text = "```\\n" + long + "\\n```\\n\\n" + row + rule + row
                + "\\n- [x] done\\n- [ ] to do";
            const replies = document.querySelectorAll('[data-role="assistant"] .body');
            const body = replies[replies.length - 1];
            const added = document.createElement("div");
            added.append(renderMarkdown(text));
            body.append(added);
            const pre = added.querySelector("pre");
            const wrap = added.querySelector(".table-wrap");
            const page = document.scrollingElement;
            const list = document.getElementById("messages");
            return {
                pageOverflow: page.scrollWidth - page.clientWidth,
                codeScrolls: pre.scrollWidth > pre.clientWidth,
                tableScrolls: wrap.scrollWidth > wrap.clientWidth,
                bodyWithinList: body.getBoundingClientRect().right
                    <= list.getBoundingClientRect().right + 1,
                tasks: [...added.querySelectorAll(".task-box")]
                    .map((b) => b.dataset.done),
            };
        }"""
    )
    assert sizes == {
        "pageOverflow": 0,
        "codeScrolls": True,
        "tableScrolls": True,
        "bodyWithinList": True,
        "tasks": ["true", "false"],
    }
