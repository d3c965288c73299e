"""Splitting long text at sentence ends, and joining MP3 parts into one file."""

from __future__ import annotations

import io

import pytest
from mutagen.mp3 import MP3

from conversations.minimax.simulator.speech import Speech, render
from speech import mp3
from speech.text import sentences, split_text

ENGLISH = (
    "The quick brown fox jumps over the lazy dog. Pi is 3.14, not 3! "
    'Is it raining? "Yes," she said. New line follows.\nAnd one more sentence; '
    "then a clause, and the end."
)
CHINESE = (
    "你好，欢迎使用语音工作室。今天天气很好！我们去公园散步吗？"
    "“好的。”他说；然后我们出发了…"
)


def test_sentences_end_at_chinese_and_english_punctuation():
    assert sentences(CHINESE) == [
        "你好，欢迎使用语音工作室。",
        "今天天气很好！",
        "我们去公园散步吗？",
        "“好的。”",
        "他说；",
        "然后我们出发了…",
    ]
    english = sentences(ENGLISH)
    assert english[0] == "The quick brown fox jumps over the lazy dog. "
    assert english[1] == "Pi is 3.14, not 3! "  # "3.14" is not a sentence end
    assert "".join(english) == ENGLISH


@pytest.mark.parametrize(
    "text", [(ENGLISH + " ") * 20, CHINESE * 30], ids=["english", "chinese"]
)
@pytest.mark.parametrize("limit", [60, 200, 1000])
def test_parts_fit_the_limit_end_at_sentences_and_join_to_the_text(text, limit):
    parts = split_text(text, limit)

    assert "".join(parts) == text
    assert all(len(part) <= limit for part in parts)
    # Every part but the last ends where a sentence ends.
    ends = set()
    position = 0
    for sentence in sentences(text):
        position += len(sentence)
        ends.add(position)
    position = 0
    for part in parts[:-1]:
        position += len(part)
        assert position in ends, repr(part[-20:])


def test_a_sentence_longer_than_a_part_is_cut_at_a_clause_or_space():
    long_sentence = "word, " * 50 + "end."
    parts = split_text(long_sentence, 40)

    assert "".join(parts) == long_sentence
    assert all(len(p) <= 40 and p.endswith(", ") for p in parts[:-1])


def test_text_without_any_break_is_cut_hard_at_the_limit():
    assert split_text("啊" * 25, 10) == ["啊" * 10, "啊" * 10, "啊" * 5]


def test_blank_parts_are_dropped():
    assert split_text("Hi.\n\n\n\n   ", 4) == ["Hi.\n"]


# --- MP3 ---------------------------------------------------------------------


def simulator_mp3(text: str) -> bytes:
    return render(Speech(text=text, voices=[("female-shaonv", 1)])).data


def id3v2(payload: bytes = b"TIT2\x00\x00\x00\x05\x00\x00\x03abcd") -> bytes:
    size = len(payload)
    syncsafe = bytes(
        [(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F]
    )
    return b"ID3\x04\x00\x00" + syncsafe + payload


def info_frame(like: bytes) -> bytes:
    """Return a frame shaped like the first of `like` carrying a LAME Info header."""
    frame = mp3.frame_at(like, 0)
    body = bytearray(like[: frame.length])
    body[4 + 17 : 4 + 17 + 4] = b"Info"  # MPEG-1 mono: after 17 bytes of side info
    body[4 + 21 :] = bytes(len(body) - 25)
    return bytes(body)


def test_tags_and_info_frames_are_stripped_to_bare_frames():
    audio = simulator_mp3("Hello there.")
    tagged = id3v2() + info_frame(audio) + audio + b"TAG" + bytes(125)

    assert mp3.strip_tags(tagged) == audio
    assert mp3.seconds(tagged) == pytest.approx(mp3.seconds(audio))


def test_a_truncated_part_is_refused():
    audio = simulator_mp3("Hello there.")
    with pytest.raises(mp3.InvalidMP3):
        mp3.strip_tags(audio[:-100])
    with pytest.raises(mp3.InvalidMP3):
        mp3.strip_tags(b'{"base_resp": {"status_code": 1008}}')


def test_joined_parts_play_as_one_file_as_long_as_the_parts():
    parts = [simulator_mp3(t) for t in ("One sentence here.", "第二句话。", "Third!")]
    tagged = [id3v2() + info_frame(p) + p for p in parts]

    joined = mp3.join(tagged)

    decoded = MP3(io.BytesIO(joined))
    assert decoded.info.length == pytest.approx(
        sum(MP3(io.BytesIO(p)).info.length for p in parts), abs=0.001
    )
    assert b"ID3" not in joined and b"Info" not in joined
    # Every byte is an MPEG frame, one after another.
    assert mp3.strip_tags(joined) == joined
