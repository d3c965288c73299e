"""The speech studio in a real browser, against the simulator over HTTP.

A person mixes three voices, generates a clip, plays it and downloads it; the
file they get is a valid MP3 as long as the clip the site says it made.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from mutagen.mp3 import MP3
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

TEXT = (
    "Welcome to the speech studio. This clip mixes three voices into one. "
    "你好，这是三个声音的混合。Thank you for listening!"
)
MIX = [("female-shaonv", 50), ("male-qn-qingse", 30), ("audiobook_male_2", 20)]
CLIP_TIMEOUT_MS = 30_000
# Set SPEECH_SCREENSHOT=path to keep a picture of the finished page.
SCREENSHOT = os.environ.get("SPEECH_SCREENSHOT")


def media_duration(page: Page, test_id: str) -> float:
    """Return the duration the page's audio element reports once it has loaded."""
    return page.get_by_test_id(test_id).evaluate(
        """(audio) => new Promise((resolve, reject) => {
            if (audio.readyState >= 1) return resolve(audio.duration);
            audio.addEventListener("loadedmetadata", () => resolve(audio.duration));
            audio.addEventListener("error", () => reject(new Error("audio error")));
        })"""
    )


def test_a_three_voice_mix_is_generated_played_and_downloaded(page, chat_server):
    sign_in(page, chat_server, "speaker")
    page.goto(f"{chat_server.url}/")
    page.get_by_test_id("speech-link").click()
    expect(page).to_have_url(f"{chat_server.url}/speech/")

    page.get_by_test_id("speech-text").fill(TEXT)
    expect(page.get_by_test_id("char-count")).to_contain_text(f"{len(TEXT)} characters")
    for _ in MIX[1:]:
        page.get_by_test_id("add-voice").click()
    rows = page.get_by_test_id("voice")
    expect(rows).to_have_count(3)
    for row, (voice_id, weight) in zip(rows.all(), MIX, strict=True):
        row.locator("select").select_option(voice_id)
        row.get_by_test_id("voice-weight").fill(str(weight))
    expect(page.get_by_test_id("voice-share")).to_have_text(["50%", "30%", "20%"])

    page.get_by_test_id("generate").click()

    player = page.get_by_test_id("speech-audio")
    expect(player).to_be_visible(timeout=CLIP_TIMEOUT_MS)
    clip = page.request.get(f"{chat_server.url}/api/speech/").json()["clips"][0]
    assert clip["status"] == "done"
    assert [(v["voice_id"], v["weight"]) for v in clip["voices"]] == MIX
    seconds = media_duration(page, "speech-audio")
    assert seconds > 0
    assert abs(seconds - clip["duration_ms"] / 1000) < 0.1
    # It plays: muted, since headless chromium allows muted playback without a click.
    player.evaluate("(audio) => { audio.muted = true; return audio.play(); }")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=speech-audio]').currentTime > 0"
    )
    expect(page.get_by_test_id("clip").first).to_contain_text("Welcome to the speech")

    with page.expect_download() as download_info:
        page.get_by_test_id("download").click()
    download = download_info.value
    data = Path(download.path()).read_bytes()

    assert download.suggested_filename.endswith(".mp3")
    assert download.suggested_filename.startswith("welcome-to-the-speech-studio")
    assert len(data) == clip["size_bytes"]
    assert abs(MP3(io.BytesIO(data)).info.length - clip["duration_ms"] / 1000) < 0.01
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)


def test_a_refused_text_shows_what_to_do_and_offers_no_file(page, chat_server):
    sign_in(page, chat_server, "speaker")
    page.goto(f"{chat_server.url}/speech/")
    page.get_by_test_id("speech-text").fill("Nothing left to pay with [sim:error=1008]")

    page.get_by_test_id("generate").click()

    error = page.get_by_test_id("speech-error")
    expect(error).to_be_visible(timeout=CLIP_TIMEOUT_MS)
    expect(error).to_contain_text("Top it up")
    expect(page.get_by_test_id("download")).to_be_hidden()
    failed = page.locator('[data-testid="clip"][data-status="error"]').first
    expect(failed).to_contain_text("Top it up")
    expect(failed.get_by_test_id("clip-download")).to_have_count(0)


def test_a_long_clip_shows_its_parts_and_is_not_lost_by_leaving(page, chat_server):
    sign_in(page, chat_server, "reader")
    page.goto(f"{chat_server.url}/speech/")
    # The legacy endpoint's parts are short (480 characters), so four parts come
    # back well within the test server's 3 s timeout.
    page.get_by_test_id("speech-model").select_option("speech-01")
    long_text = "This sentence belongs to a long text that is read aloud. " * 26
    page.get_by_test_id("speech-text").fill(long_text)
    expect(page.locator("#parts-note")).to_contain_text("4 parts")

    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("progress")).to_be_visible()
    page.reload()  # the person leaves; the clip goes on in the server

    clip = page.get_by_test_id("clip").first
    expect(clip).to_have_attribute("data-status", "done", timeout=CLIP_TIMEOUT_MS)
    expect(clip.get_by_test_id("clip-download")).to_be_visible()
    stored = page.request.get(f"{chat_server.url}/api/speech/").json()["clips"][0]
    assert stored["endpoint"] == "text_to_speech"
    assert stored["parts_done"] == stored["parts_total"] == 4
    clip.get_by_test_id("clip-play").click()
    assert media_duration(page, "clip-audio") * 1000 == pytest.approx(
        stored["duration_ms"], abs=100
    )


def test_the_studio_fits_a_phone_screen(browser, chat_server):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = sign_in(context.new_page(), chat_server)
        page.goto(f"{chat_server.url}/speech/")
        generate = page.get_by_test_id("generate")
        expect(generate).to_be_visible()
        # Nothing sideways to scroll: the Generate button is whole on the screen.
        overflow = page.evaluate(
            "(root) => root.scrollWidth - root.clientWidth",
            page.evaluate_handle("document.documentElement"),
        )
        assert overflow == 0
        box = generate.bounding_box()
        assert box["x"] + box["width"] <= 390
    finally:
        context.close()
