"""Splitting M2.x `<think>` reasoning out of streamed content."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from conversations.minimax.think import ThinkSplitter, split_think

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
M27_BODY = json.loads((SEEDS / "seed_004_m27_plain.json").read_text())
M27_CONTENT = M27_BODY["choices"][0]["message"]["content"]


def split_stream(*deltas: str, expect_think: bool = True) -> tuple[str, str]:
    splitter = ThinkSplitter(expect_think=expect_think)
    pieces = [p for d in deltas for p in splitter.feed(d)] + splitter.flush()
    return (
        "".join(text for kind, text in pieces if kind == "reasoning"),
        "".join(text for kind, text in pieces if kind == "text"),
    )


def test_vendor_example_splits_into_reasoning_and_answer():
    assert split_think(M27_CONTENT) == (
        "用户用中文打招呼,我应该用中文回应。",
        "你好!有什么我可以帮助你的吗?",
    )


def test_tags_cut_across_deltas():
    assert split_stream("<thi", "nk>plan", " more</th", "ink>\n\nAnswer") == (
        "plan more",
        "Answer",
    )


def test_newlines_after_the_closing_tag_are_dropped_even_in_later_deltas():
    assert split_stream("<think>\nr\n</think>", "\n", "\n", "Hi\n\nthere") == (
        "r",
        "Hi\n\nthere",
    )


def test_missing_opener_still_splits():
    assert split_stream("I should gre", "et.</think>\n\n", "Hello!") == (
        "I should greet.",
        "Hello!",
    )


def test_reply_without_any_think_is_all_answer():
    assert split_stream("Just ", "an answer.") == ("", "Just an answer.")


def test_without_expecting_think_the_answer_is_not_held_back():
    splitter = ThinkSplitter(expect_think=False)
    assert splitter.feed("Hello") == [("text", "Hello")]


def test_reasoning_streams_while_it_is_written():
    splitter = ThinkSplitter()
    assert splitter.feed("<think>step one") == [("reasoning", "step one")]
    assert splitter.feed(", step two") == [("reasoning", ", step two")]


def test_angle_brackets_that_are_no_tag_reach_the_answer():
    assert split_stream("<think>x</think>", "if a <", "b: print('<t>')") == (
        "x",
        "if a <b: print('<t>')",
    )


def test_unclosed_think_is_reasoning_at_the_end():
    assert split_stream("<think>cut off mid-thou", "ght") == ("cut off mid-thought", "")


@given(st.lists(st.integers(min_value=0, max_value=len(M27_CONTENT)), max_size=10))
def test_any_split_of_the_vendor_content_gives_the_same_result(cuts):
    points = sorted(set(cuts))
    bounds = zip([0, *points], [*points, len(M27_CONTENT)], strict=True)
    deltas = [M27_CONTENT[a:b] for a, b in bounds]
    assert split_stream(*deltas) == split_think(M27_CONTENT)
