"""The speech API's rules: bad input is a clear 400, another user's clip a 404."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from conversations.minimax.simulator.speech import Speech, render
from conversations.models import Message
from speech.models import SpeechClip, VoiceBlend

pytestmark = pytest.mark.django_db

ONE_VOICE = [{"voice_id": "female-shaonv", "weight": 1}]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def done_clip(
    owner, text: str = "Hello world, and good morning to you all."
) -> SpeechClip:
    audio = render(Speech(text=text, voices=[("female-shaonv", 1)])).data
    clip = SpeechClip(
        owner=owner,
        text=text,
        model="speech-02-hd",
        endpoint="t2a_v2",
        voices=ONE_VOICE,
        status=SpeechClip.Status.DONE,
        size_bytes=len(audio),
        duration_ms=1000,
    )
    clip.file.save("ignored.mp3", ContentFile(audio), save=False)
    clip.save()
    return clip


def post(client, payload) -> dict:
    response = client.post(
        "/api/speech/", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    return response.json()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"voices": []}, "voices"),
        ({"voices": [{"voice_id": f"v{n}", "weight": 1} for n in range(5)]}, "voices"),
        ({"voices": [{"voice_id": "female-shaonv", "weight": 0}]}, "voices"),
        ({"voices": [{"voice_id": "female-shaonv", "weight": 101}]}, "voices"),
        ({"voices": [{"voice_id": "female-shaonv", "weight": 1.5}]}, "voices"),
        ({"voices": [{"weight": 1}]}, "voices"),
        ({"speed": 3}, "speed"),
        ({"vol": 0}, "vol"),
        ({"pitch": 13}, "pitch"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"model": "speech-99"}, "model"),
        ({"emotion": "whisper"}, "emotion"),  # speech-02-hd has no whisper
        ({"model": "speech-01", "emotion": "happy"}, "emotion"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(signed_in, change, field):
    payload = {"text": "Hi.", "model": "speech-02-hd", "voices": ONE_VOICE, **change}

    answer = post(signed_in, payload)

    assert field in answer["errors"]
    assert answer["error"]
    assert not SpeechClip.objects.exists()


def test_not_json_is_a_400(signed_in):
    response = signed_in.post("/api/speech/", "nope", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [("model", ["speech-02-hd"]), ("model", {"id": 1}), ("emotion", ["happy"])],
    ids=["model-list", "model-object", "emotion-list"],
)
@pytest.mark.parametrize("url", ["/api/speech/", "/api/speech/blends/"])
def test_a_list_or_object_where_a_name_belongs_is_a_400(signed_in, url, field, value):
    # These were a TypeError (unhashable) and a 500, found by tests/test_attacks_fuzz.
    payload = {"text": "Hi", "name": "b", "voices": ONE_VOICE, field: value}
    response = signed_in.post(url, json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not SpeechClip.objects.exists()


def test_the_api_wants_a_signed_in_user(client):
    assert client.get("/api/speech/").status_code == 401
    assert client.post("/api/speech/", {}).status_code == 401
    assert client.get("/speech/").status_code == 302


def test_download_is_an_attachment_named_from_the_first_words(signed_in, user):
    clip = done_clip(user)

    response = signed_in.get(f"/speech/{clip.pk}/download")

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    day = clip.created_at.strftime("%Y-%m-%d")
    assert response["Content-Disposition"] == (
        f'attachment; filename="hello-world-and-good-morning-to-{day}.mp3"'
    )
    assert b"".join(response.streaming_content) == clip.file.open("rb").read()
    inline = signed_in.get(f"/speech/{clip.pk}/audio")
    assert not inline["Content-Disposition"].startswith("attachment")


def test_a_chinese_clip_downloads_under_a_chinese_name(signed_in, user):
    clip = done_clip(user, "你好，欢迎使用。")
    response = signed_in.get(f"/speech/{clip.pk}/download")
    assert "filename*=utf-8''%E4%BD%A0%E5%A5%BD" in response["Content-Disposition"]


def test_another_users_clip_is_a_404_everywhere(signed_in, other_user):
    clip = done_clip(other_user)

    assert signed_in.get(f"/api/speech/{clip.pk}/").status_code == 404
    assert signed_in.delete(f"/api/speech/{clip.pk}/").status_code == 404
    assert signed_in.get(f"/speech/{clip.pk}/download").status_code == 404
    assert signed_in.get(f"/speech/{clip.pk}/audio").status_code == 404
    assert signed_in.get("/api/speech/").json() == {"clips": []}
    assert Path(clip.file.path).exists()


def test_delete_removes_the_clip_and_its_file(signed_in, user):
    clip = done_clip(user)
    path = Path(clip.file.path)

    response = signed_in.delete(f"/api/speech/{clip.pk}/")

    assert response.status_code == 204
    assert not SpeechClip.objects.exists()
    assert not path.exists()


def test_the_list_shows_your_clips_newest_first(
    signed_in, user, django_assert_max_num_queries
):
    older, newer = done_clip(user), done_clip(user, "Second clip.")

    with django_assert_max_num_queries(4):
        clips = signed_in.get("/api/speech/").json()["clips"]

    assert [c["id"] for c in clips] == [newer.pk, older.pk]
    assert clips[0]["download_url"] == f"/speech/{newer.pk}/download"
    assert {"id", "status", "error", "duration_ms", "download_url"} <= set(clips[0])


def test_the_studio_fills_in_one_of_your_replies(signed_in, conversation):
    reply = Message.objects.create(
        conversation=conversation, role="assistant", content="A reply <b>to speak</b>."
    )

    page = signed_in.get(f"/speech/?message={reply.pk}")

    assert page.status_code == 200
    assert "A reply &lt;b&gt;to speak&lt;/b&gt;." in page.content.decode()


def test_someone_elses_reply_is_a_404(client, other_user, conversation):
    reply = Message.objects.create(
        conversation=conversation, role="assistant", content="Private."
    )
    client.force_login(other_user)

    assert client.get(f"/speech/?message={reply.pk}").status_code == 404
    assert client.get("/speech/?message=abc").status_code == 404


def test_blends_are_saved_listed_and_deleted_per_user(signed_in, client, other_user):
    payload = {
        "name": "Warm narrator",
        "model": "speech-2.6-hd",
        "voices": [
            {"voice_id": "female-shaonv", "weight": 70},
            {"voice_id": "male-qn-qingse", "weight": 30},
        ],
        "speed": 0.9,
        "vol": 1.5,
        "pitch": -2,
        "emotion": "whisper",
    }
    saved = signed_in.post(
        "/api/speech/blends/", json.dumps(payload), content_type="application/json"
    ).json()

    listed = signed_in.get("/api/speech/blends/").json()["blends"]
    assert listed == [saved]
    assert saved["voices"] == payload["voices"] and saved["emotion"] == "whisper"
    blend = VoiceBlend.objects.get()
    client.force_login(other_user)
    assert client.delete(f"/api/speech/blends/{blend.pk}/").status_code == 404
    assert client.get("/api/speech/blends/").json() == {"blends": []}


def test_a_blend_needs_a_name(signed_in):
    response = signed_in.post(
        "/api/speech/blends/",
        json.dumps({"voices": ONE_VOICE}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_staff_see_clips_in_the_admin_without_a_public_file_link(
    client, django_user_model, user
):
    clip = done_clip(user)
    staff = django_user_model.objects.create_superuser("root", password="pw-12345678")
    client.force_login(staff)

    listing = client.get("/admin/speech/speechclip/")
    detail = client.get(f"/admin/speech/speechclip/{clip.pk}/change/")

    assert listing.status_code == 200 and "Hello world" in listing.content.decode()
    assert detail.status_code == 200
    assert f'href="{clip.file.name}"' not in detail.content.decode()
    assert clip.file.name in detail.content.decode()


def test_a_legacy_model_refuses_a_voice_only_t2a_v2_has(signed_in):
    answer = post(
        signed_in,
        {
            "text": "Hi.",
            "model": "speech-01",
            "voices": [{"voice_id": "English_Graceful_Lady", "weight": 1}],
        },
    )
    assert "legacy" in answer["errors"]["voices"][0]


@pytest.mark.parametrize(
    "header, status, piece",
    [
        ("bytes=0-99", 206, slice(0, 100)),
        ("bytes=100-", 206, slice(100, None)),
        ("bytes=-50", 206, slice(-50, None)),
    ],
)
def test_the_player_can_ask_for_a_slice(signed_in, user, header, status, piece):
    clip = done_clip(user)
    data = clip.file.open("rb").read()

    response = signed_in.get(f"/speech/{clip.pk}/audio", headers={"Range": header})

    assert response.status_code == status
    assert response.content == data[piece]
    assert response["Content-Range"].endswith(f"/{len(data)}")


def test_a_slice_past_the_end_is_a_416(signed_in, user):
    clip = done_clip(user)
    response = signed_in.get(
        f"/speech/{clip.pk}/audio", headers={"Range": "bytes=99999999-"}
    )
    assert response.status_code == 416


def test_past_the_daily_speech_quota_a_clip_is_a_429_and_nothing_is_made(
    signed_in, settings
):
    settings.CHAT_LIMIT_SPEECH_CHARS_PER_DAY = 5
    payload = {"text": "Far more than five.", "model": "speech-02-hd"}

    response = signed_in.post(
        "/api/speech/",
        json.dumps({**payload, "voices": ONE_VOICE}),
        content_type="application/json",
    )

    assert response.status_code == 429
    assert "characters into speech a day" in response.json()["error"]
    assert int(response["Retry-After"]) > 0
    assert not SpeechClip.objects.exists()
