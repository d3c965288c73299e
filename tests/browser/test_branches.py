"""Branches on the chat page: edit a message, regenerate a reply, page between the
versions of a turn (`‹ 1 / 2 ›`), Arrow-Up to edit the last message.

Chromium, a live daphne and the paced simulator over HTTP (`chat_server`). The
simulator's answer quotes the question it was asked, so a reply shows which
branch's question went upstream.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.chat import last_question, last_reply, messages, send


def wait_done(page: Page) -> None:
    expect(last_reply(page)).to_have_attribute("data-status", "complete")


def ask(page: Page, text: str) -> None:
    """Send text and wait for the reply to it (it quotes the question)."""
    send(page, text)
    expect(last_reply(page)).to_contain_text(text)
    wait_done(page)


def pager(message: Locator) -> Locator:
    return message.get_by_test_id("version-label")


def test_an_edit_branches_and_the_pager_returns_to_each_branch(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    ask(page, "Tell me about green tea")
    ask(page, "And how is it brewed?")

    question = last_question(page)
    question.hover()
    question.get_by_test_id("edit").click()
    editor = question.get_by_test_id("edit-text")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("And how is it brewed?")
    editor.fill("And how is oolong brewed?")
    question.get_by_test_id("edit-save").click()

    wait_done(page)
    expect(messages(page, "user")).to_have_count(2)
    expect(messages(page, "assistant")).to_have_count(2)
    edited = last_question(page)
    expect(edited.locator(".body")).to_have_text("And how is oolong brewed?")
    expect(pager(edited)).to_have_text("2 / 2")
    expect(last_reply(page)).to_contain_text("And how is oolong brewed?")
    expect(last_reply(page)).not_to_contain_text("And how is it brewed?")

    edited.get_by_test_id("version-prev").click()
    expect(pager(last_question(page))).to_have_text("1 / 2")
    expect(last_question(page).locator(".body")).to_have_text("And how is it brewed?")
    expect(last_reply(page)).to_contain_text("And how is it brewed?")
    expect(last_question(page).get_by_test_id("version-prev")).to_be_disabled()
    # The first exchange is the same on both branches, and has one version.
    expect(messages(page, "user").first.get_by_test_id("version-label")).to_be_hidden()

    last_question(page).get_by_test_id("version-next").click()
    expect(pager(last_question(page))).to_have_text("2 / 2")
    expect(last_reply(page)).to_contain_text("And how is oolong brewed?")

    # A reload shows the branch last chosen.
    page.reload()
    expect(pager(last_question(page))).to_have_text("2 / 2")
    expect(last_reply(page)).to_contain_text("And how is oolong brewed?")


def test_regenerate_keeps_the_first_reply_a_page_away(signed_in_page: Page) -> None:
    page = signed_in_page
    ask(page, "Name a mountain")
    first_id = last_reply(page).get_attribute("data-id")

    last_reply(page).hover()
    last_reply(page).locator("button.regenerate").click()
    expect(last_reply(page)).not_to_have_attribute("data-id", first_id)
    wait_done(page)
    second_id = last_reply(page).get_attribute("data-id")
    expect(pager(last_reply(page))).to_have_text("2 / 2")
    expect(messages(page, "assistant")).to_have_count(1)

    last_reply(page).get_by_test_id("version-prev").click()
    expect(last_reply(page)).to_have_attribute("data-id", first_id)
    expect(pager(last_reply(page))).to_have_text("1 / 2")
    expect(last_reply(page)).to_contain_text("Name a mountain")

    last_reply(page).get_by_test_id("version-next").click()
    expect(last_reply(page)).to_have_attribute("data-id", second_id)


def test_arrow_up_edits_the_last_message_and_esc_cancels(signed_in_page: Page) -> None:
    page = signed_in_page
    ask(page, "First question")
    ask(page, "Second question")
    composer = page.get_by_test_id("composer")
    composer.focus()

    composer.press("ArrowUp")

    editor = last_question(page).get_by_test_id("edit-text")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("Second question")
    editor.press("Escape")
    expect(editor).to_be_hidden()
    expect(last_question(page).locator(".body")).to_have_text("Second question")
    expect(composer).to_be_focused()

    # Ctrl+Enter saves; a composer with text keeps Arrow-Up for the cursor.
    composer.press("ArrowUp")
    editor = last_question(page).get_by_test_id("edit-text")
    editor.fill("Second question, edited")
    editor.press("Control+Enter")
    wait_done(page)
    expect(pager(last_question(page))).to_have_text("2 / 2")
    expect(last_reply(page)).to_contain_text("Second question, edited")
    composer.fill("draft")
    composer.press("ArrowUp")
    expect(page.get_by_test_id("edit-text")).to_have_count(0)


def test_the_shortcut_list_names_arrow_up(signed_in_page: Page) -> None:
    page = signed_in_page
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts")).to_contain_text(
        re.compile("Edit your last message")
    )
