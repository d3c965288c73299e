"""The interface in Simplified Chinese: picked from the browser, or switched by hand."""

import ast
import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from conversations.error_text import error_headline
from conversations.minimax.errors import (
    InsufficientBalance,
    RateLimited,
    error_for_code,
)

pytestmark = pytest.mark.django_db

CATALOG = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def read_po(path: Path) -> list[tuple[str, str, bool]]:
    """Return (msgid, msgstr, fuzzy) for each entry of a .po file (header left out)."""
    entries, current, fuzzy, field = [], {}, False, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if current.get("msgid"):
                entries.append((current["msgid"], current.get("msgstr", ""), fuzzy))
            current, fuzzy, field = {}, False, None
        elif line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif line.startswith(("msgid ", "msgstr ", "msgid_plural ", "msgstr[0] ")):
            keyword, _, literal = line.partition(" ")
            field = "msgstr" if keyword.startswith("msgstr") else keyword
            current[field] = ast.literal_eval(literal)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
    return entries


def test_browser_language_picks_chinese(client, user):
    client.force_login(user)
    html = client.get("/", headers={"accept-language": "zh-Hans"}).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "新对话" in html
    assert "发送" in html
    assert "New chat" not in html


def test_english_by_default(client, user):
    client.force_login(user)
    html = client.get("/", headers={"accept-language": "en-US"}).content.decode()
    assert "New chat" in html and "新对话" not in html


def test_offline_banner_is_translated(client, user, settings):
    settings.MINIMAX_API_KEY = ""
    client.force_login(user)
    html = client.get("/", headers={"accept-language": "zh-Hans"}).content.decode()
    assert "回复来自内置的 MiniMax 模拟器" in html


def test_language_switch_sticks(client, user):
    client.force_login(user)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    assert "新对话" in client.get("/").content.decode()


def test_strings_for_the_script_are_translated(client, user):
    client.force_login(user)
    html = client.get("/", headers={"accept-language": "zh-Hans"}).content.decode()
    script_strings = html.split('id="strings-data" type="application/json">')[1]
    assert "\\u91cd\\u8bd5" in script_strings or "重试" in script_strings


def test_error_headlines_follow_the_readers_language(client, user):
    """A reply that failed while the server spoke English reads in Chinese too."""
    client.force_login(user)
    response = client.get("/", headers={"accept-language": "zh-Hans"})
    strings = response.context["strings_data"]

    balance_zh = "MiniMax 账户余额或额度已用完。请充值。"
    assert strings["error_titles"]["balance"] == balance_zh
    assert strings["error_titles_en"]["balance"] == InsufficientBalance().message
    assert set(strings["error_titles"]) >= {"auth", "rate_limit", "timeout"}


def test_login_page_in_chinese(client, user):
    html = client.get("/login/", headers={"accept-language": "zh-Hans"}).content
    assert "登录" in html.decode()


def test_minimax_error_headlines_are_translated():
    """The vendor package speaks English; the app translates by kind."""
    with translation.override("zh-hans"):
        assert "限制" in error_headline(RateLimited.kind)
        assert "API 密钥" in error_headline(error_for_code(2049).kind)
        assert "rate-limiting" in RateLimited().message  # logs stay English
    with translation.override("en"):
        assert "rate-limiting" in error_headline(RateLimited.kind)


def test_catalog_is_complete_and_compiled():
    entries = read_po(CATALOG / "django.po")
    assert len(entries) > 100
    untranslated = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert untranslated == []
    # The committed .mo is what Django loads: it must match the .po.
    with (CATALOG / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    stale = [msgid for msgid, msgstr, _ in entries if catalog.gettext(msgid) != msgstr]
    assert stale == []
