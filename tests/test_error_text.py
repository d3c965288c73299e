"""The app-side text of MiniMax failures: translated by kind, vendor detail kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from conversations.error_text import (
    ADVICE,
    HEADLINES,
    advice_texts,
    describe_error,
    error_advice,
    error_headline,
    error_titles,
)
from conversations.minimax.errors import (
    AuthenticationFailed,
    UpstreamTimeout,
    error_classes_by_kind,
    error_for_code,
)

PACKAGE = Path(__file__).resolve().parents[1] / "conversations" / "minimax"


# The speech engineer's files; they leave translation on their own schedule.
def test_every_error_kind_has_a_headline_in_the_classes_english():
    classes = error_classes_by_kind()
    assert set(HEADLINES) == set(classes)
    with translation.override("en"):
        for kind, cls in classes.items():
            # One English text: the class's default_message is the msgid.
            assert error_headline(kind) == cls.default_message


def test_headlines_and_advice_read_in_the_readers_language():
    english, chinese = error_titles("en"), error_titles("zh-hans")
    assert set(english) == set(chinese) == set(HEADLINES)
    untranslated = [kind for kind in english if english[kind] == chinese[kind]]
    assert untranslated == []
    advice_en, advice_zh = advice_texts("en"), advice_texts("zh-hans")
    assert set(advice_zh) == set(ADVICE) >= set(HEADLINES)
    assert [k for k in advice_en if advice_en[k] == advice_zh[k]] == []


def test_titles_follow_the_active_language_when_none_is_given():
    with translation.override("zh-hans"):
        assert error_titles()["balance"] == "MiniMax 账户余额或额度已用完。请充值。"
        assert "API 密钥" in error_headline("auth")
        assert error_advice("rate_limit") != "Wait a moment, then retry."


def test_an_unknown_kind_reads_as_the_generic_failure():
    with translation.override("en"):
        assert error_headline("from_a_newer_version") == error_headline(
            "upstream_error"
        )
        assert error_advice("from_a_newer_version") == ""


def test_described_error_keeps_minimax_own_words_untranslated():
    error = error_for_code(2013, "invalid params, messages[0].role must be user")
    with translation.override("zh-hans"):
        line = describe_error(error)
    assert line.startswith("MiniMax 拒绝了请求参数。")
    assert "invalid params, messages[0].role must be user" in line
    assert line.endswith("[MiniMax 2013]")


def test_described_error_is_one_line_and_names_the_timer():
    error = UpstreamTimeout("whatever", detail="first-token\ntimeout after 90 s")
    with translation.override("en"):
        line = describe_error(error)
    assert "\n" not in line
    assert line == (
        "MiniMax stopped responding. Retry in a moment. "
        "(first-token timeout after 90 s)"
    )
    assert describe_error(AuthenticationFailed()) == error_headline("auth")


@pytest.mark.parametrize(
    "path",
    sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")),
)
def test_the_vendor_package_does_not_translate(path):
    source = (PACKAGE / path).read_text(encoding="utf-8")
    assert not re.search(r"django\.utils\.translation|gettext", source), path
