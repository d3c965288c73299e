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
    """Return (reasoning, answer) as a reader of the pieces ends up with them."""
    splitter = ThinkSplitter(expect_think=expect_think)
    pieces = [p for d in deltas for p in splitter.feed(d)] + splitter.flush()
    return apply(pieces)


def apply(pieces: list) -> tuple[str, str]:
    reasoning = answer = ""
    for kind, text in pieces:
        if kind == "to_reasoning":
            reasoning, answer = reasoning + answer, ""
        elif kind == "reasoning":
            reasoning += text
        else:
            answer += text
    return reasoning, answer


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


def test_without_an_opener_text_shows_as_it_arrives_then_moves_to_reasoning():
    # Self-hosted templates send only </think>: the first token is not the whole
    # reply; the text is shown at once and moved once the tag turns up.
    splitter = ThinkSplitter()
    assert splitter.feed("I should gre") == [("text", "I should gre")]
    assert splitter.feed("et.</think>\n\n") == [
        ("to_reasoning", ""),
        ("reasoning", "et."),
    ]
    assert splitter.feed("Hello!") == [("text", "Hello!")]
    assert splitter.flush() == []


def test_without_an_opener_a_cut_closing_tag_and_its_newlines_are_held():
    splitter = ThinkSplitter()
    assert splitter.feed("Plan.\n</thi") == [("text", "Plan.")]
    assert splitter.feed("nk>\n\nHi") == [("to_reasoning", ""), ("text", "Hi")]


def test_without_an_opener_newlines_inside_the_text_are_not_lost():
    splitter = ThinkSplitter()
    assert splitter.feed("One.\n\n") == [("text", "One.")]
    assert splitter.feed("Two.") == [("text", "\n\nTwo.")]


def test_without_an_opener_or_a_close_all_is_answer_as_it_came():
    splitter = ThinkSplitter()
    assert splitter.feed("Just ") == [("text", "Just ")]
    assert splitter.feed("an answer.") == [("text", "an answer.")]
    assert splitter.flush() == []


def test_a_close_right_at_the_start_moves_nothing():
    splitter = ThinkSplitter()
    assert splitter.feed("</think>Hi") == [("text", "Hi")]


NO_OPENER = "用户打招呼。\n我应该回应。\n</think>\n\n你好!有什么</think>可以帮你?"


@given(st.lists(st.integers(min_value=0, max_value=len(NO_OPENER)), max_size=10))
def test_any_split_of_a_reply_without_an_opener_gives_the_same_result(cuts):
    points = sorted(set(cuts))
    bounds = zip([0, *points], [*points, len(NO_OPENER)], strict=True)
    deltas = [NO_OPENER[a:b] for a, b in bounds]
    assert split_stream(*deltas) == split_think(NO_OPENER)
    assert split_think(NO_OPENER) == (
        "用户打招呼。\n我应该回应。",
        "你好!有什么可以帮你?",
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
