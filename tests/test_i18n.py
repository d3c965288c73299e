"""The interface in Simplified Chinese: picked from the browser, or switched by hand."""

import ast
import gettext
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import translation

from conversations.error_text import error_headline
from conversations.minimax.errors import (
    InsufficientBalance,
    RateLimited,
    error_for_code,
)
from conversations.models import Message
from review.services import record_reply

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)
CATALOG = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
# makemessages writes the strings of review/ to review's own catalog.
CATALOGS = [CATALOG, BASE_DIR / "review" / "locale" / "zh_Hans" / "LC_MESSAGES"]
ZH = {"accept-language": "zh-Hans"}


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


@pytest.mark.parametrize("folder", CATALOGS, ids=["site", "review"])
def test_catalog_is_complete_and_compiled(folder):
    entries = read_po(folder / "django.po")
    assert len(entries) > 50
    untranslated = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert untranslated == []
    # The committed .mo is what Django loads: it must match the .po.
    with (folder / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    stale = [msgid for msgid, msgstr, _ in entries if catalog.gettext(msgid) != msgstr]
    assert stale == []


def test_every_string_in_the_source_is_in_the_catalogs(tmp_path):
    """makemessages on a copy of the tree finds nothing new, untranslated or fuzzy.

    The committed catalogs only show what was extracted once; a string added to
    the code since then is missing from them, and the page shows it in English.
    """
    tree = tmp_path / "site"
    skip = shutil.ignore_patterns(
        ".venv", ".git", "staticfiles", "node_modules", "var", "__pycache__"
    )
    shutil.copytree(BASE_DIR, tree, ignore=skip)
    # A subprocess in the copy: its settings' BASE_DIR (hence LOCALE_PATHS) is the
    # copy, so the committed catalogs are never written.
    command = [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans"]
    ignores = ["--ignore=.venv", "--ignore=staticfiles", "--ignore=node_modules"]
    subprocess.run(
        command + ignores, cwd=tree, check=True, capture_output=True, timeout=120
    )

    problems = {}
    for po in sorted(tree.glob("**/locale/zh_Hans/LC_MESSAGES/django.po")):
        entries = read_po(po)
        missing = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
        obsolete = po.read_text(encoding="utf-8").count("\n#~ msgid ")
        if missing or obsolete:
            problems[str(po.relative_to(tree))] = {
                "untranslated or fuzzy": missing,
                "obsolete (#~) entries": obsolete,
            }
    assert problems == {}, (
        "Run makemessages (see this test), translate, compile: "
        + json.dumps(problems, ensure_ascii=False, indent=1)
    )


# --- pages and answers in Chinese ------------------------------------------------


def test_speech_studio_in_chinese(client, user):
    client.force_login(user)
    html = client.get("/speech/", headers=ZH).content.decode()
    for words in ["语音工作室", "音色混合", "添加音色", "生成", "我的音频", "语速"]:
        assert words in html
    assert "Voice mix" not in html and "Your clips" not in html
    script = json.loads(
        html.split('id="speech-strings" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert script["part_of"] == "第 %(done)s / %(total)s 段"
    assert script["confirm_delete"] == "删除这段音频及其文件？"


def test_speech_api_errors_in_chinese(client, user):
    client.force_login(user)
    response = client.post(
        "/api/speech/",
        {"text": " ", "model": "speech-02-hd", "voices": []},
        content_type="application/json",
        headers=ZH,
    )
    assert response.status_code == 400
    errors = json.dumps(response.json(), ensure_ascii=False)
    assert "请输入要朗读的文本。" in errors
    assert "请选择 1 到 " in errors


def test_history_api_errors_in_chinese(client, user, conversation):
    client.force_login(user)
    for params, field, words in [
        ({"tz": "Nowhere/City"}, "tz", "未知时区 'Nowhere/City'。"),
        ({"cursor": "x"}, "cursor", "此游标不是列表返回的游标。"),
        ({"archived": "perhaps"}, "archived", "请使用 1 或 0。"),
    ]:
        listing = client.get("/api/conversations/", params, headers=ZH)
        assert listing.status_code == 400
        assert listing.json()["errors"][field] == [words]

    rename = client.patch(
        f"/api/conversations/{conversation.pk}/",
        {"title": " "},
        content_type="application/json",
        headers=ZH,
    )
    assert rename.status_code == 400
    assert rename.json()["errors"]["title"] == ["请输入标题。"]


@pytest.fixture
def reviewer_client(client, django_user_model):
    reviewer = django_user_model.objects.create_user(
        "rita", password="rita-pass-1", is_staff=True
    )
    reviewer.groups.add(Group.objects.get(name="Reviewers"))
    client.force_login(reviewer)
    return client


def test_review_admin_in_chinese(reviewer_client, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Hi")
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Buy now",
        output_sensitive=True,
        output_sensitive_type=3,
    )
    [item] = record_reply(reply)

    index = reviewer_client.get("/admin/", headers=ZH).content.decode()
    assert "1 条消息待审核" in index and "最近 30 天概览" in index
    queue = reviewer_client.get("/admin/review/reviewitem/", headers=ZH)
    html = queue.content.decode()
    assert "概览" in html and "待审核" in html and "广告" in html
    assert "Overview" not in html
    page = reviewer_client.get(
        f"/admin/review/reviewitem/{item.pk}/change/", headers=ZH
    )
    html = page.content.decode()
    assert "消息及其所在对话" in html and "AI 预分析" in html and "审核操作" in html
    overview = reviewer_client.get("/admin/review/reviewitem/overview/", headers=ZH)
    assert "每天被标记和被拒绝的消息（按类型）" in overview.content.decode()
