"""What the simulated model says: deterministic reply text, reasoning and pieces.

Everything here is a pure function of the prompt, so the same request always gets
the same text (ids and timestamps may differ). Token counts follow one documented
rule, `count_tokens`: one token per 4 bytes of UTF-8, rounded up, which keeps them
roughly proportional to length for English and Chinese alike.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, replace

from .schema_example import example_for_schema

CJK_RE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\u3000-\u303f\uff00-\uffef]")
# Words, runs of whitespace, and single CJK characters: the units pieces are cut from.
UNIT_RE = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\u3000-\u303f\uff00-\uffef]"
    r"|\s+"
    r"|[^\s\u2e80-\u9fff\uac00-\ud7af\u3000-\u303f\uff00-\uffef]+"
)
LONG_REPLY_PIECES = 400


def count_tokens(text: str) -> int:
    """Return the simulated token count of `text`: ceil(UTF-8 bytes / 4)."""
    return math.ceil(len(text.encode("utf-8")) / 4)


def seed_for(*parts: object) -> int:
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def is_cjk(text: str) -> bool:
    return bool(CJK_RE.search(text))


def split_pieces(text: str, seed: int) -> list[str]:
    """Cut `text` into stream pieces of one to a few words or characters."""
    rng = random.Random(seed)
    units = UNIT_RE.findall(text)
    pieces: list[str] = []
    while units:
        size = rng.randint(2, 4)
        pieces.append("".join(units[:size]))
        del units[:size]
    return pieces


@dataclass(frozen=True, slots=True)
class Prompt:
    """The parts of a request the reply depends on."""

    question: str  # the last user message, without trigger phrases
    model: str
    turn: int = 1  # how many user messages the conversation has
    tool_result: str | None = None  # the last message, when it is a tool result
    speaker: str | None = None  # pro: the bot's name
    verbatim: str = ""  # the last user message, triggers removed, nothing else


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply cut into stream pieces; joining the pieces gives the text."""

    reasoning_pieces: tuple[str, ...]
    content_pieces: tuple[str, ...]

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_pieces)

    @property
    def content(self) -> str:
        return "".join(self.content_pieces)

    def truncated(self, max_tokens: int) -> Answer:
        """Return the answer cut to at most `max_tokens` completion tokens."""
        kept: list[list[str]] = [[], []]
        budget = max_tokens
        for slot, pieces in enumerate((self.reasoning_pieces, self.content_pieces)):
            for piece in pieces:
                cost = count_tokens(piece)
                if cost > budget:
                    return Answer(tuple(kept[0]), tuple(kept[1]))
                budget -= cost
                kept[slot].append(piece)
        return self

    def halved(self) -> Answer:
        """Return the answer cut after half its content, as a length stop would."""
        half = max(1, len(self.content_pieces) // 2)
        return replace(self, content_pieces=self.content_pieces[:half])


def compose(prompt: Prompt, *, reasoning: bool, long: bool = False) -> Answer:
    """Return the default markdown reply (and reasoning) for `prompt`."""
    seed = seed_for(prompt.model, prompt.question, prompt.turn, prompt.tool_result)
    zh = is_cjk(prompt.question)
    if long:
        content_pieces = _long_pieces(prompt, zh)
    else:
        text = _reply(prompt, seed, ZH if zh else EN)
        content_pieces = split_pieces(text, seed)
    reasoning_pieces: list[str] = []
    if reasoning:
        thought = _zh_reasoning(prompt) if zh else _en_reasoning(prompt)
        reasoning_pieces = split_pieces(thought, seed + 1)
    return Answer(tuple(reasoning_pieces), tuple(content_pieces))


def compose_json(prompt: Prompt, schema: dict) -> Answer:
    """Return a reply whose content is a JSON object valid against `schema`."""
    seed = seed_for(prompt.model, prompt.question, prompt.turn, schema)
    value = example_for_schema(schema, prompt.question)
    text = json.dumps(value, ensure_ascii=False)
    return Answer((), tuple(split_pieces(text, seed)))


def _quote(question: str, limit: int = 80) -> str:
    question = " ".join(question.split())
    return question if len(question) <= limit else question[: limit - 1] + "…"


def _keyword(question: str) -> str:
    words = re.findall(r"\w+", question)
    if not words:
        return "hello"
    return max(words[:8], key=len)[:24]


EN_TITLES = ("A short answer", "Here is what I think", "Quick overview", "In brief")
EN_POINTS = (
    "Start from the simplest case and check it works.",
    "Keep each step small enough to test on its own.",
    "Write down what you expect before you run anything.",
    "Compare the result with what you expected.",
    "Change one thing at a time.",
    "Ask again if anything here is unclear.",
)
ZH_TITLES = ("简短回答", "我的看法", "要点概览", "一句话总结")
ZH_POINTS = (
    "先从最简单的情况入手，确认它可行。",
    "每一步都要足够小，便于单独验证。",
    "运行之前先写下你期望的结果。",
    "把结果和预期进行对比。",
    "一次只改动一处。",
    "如有不清楚的地方，欢迎继续提问。",
)


@dataclass(frozen=True, slots=True)
class Phrasebook:
    """The words of the default reply in one language; the template is shared."""

    titles: tuple[str, ...]
    points: tuple[str, ...]
    speaker: str  # "{speaker}" is the bot's name
    tool: str  # "{result}" is the quoted tool result
    asked: str
    three_points: str
    footer: str


EN = Phrasebook(
    EN_TITLES,
    EN_POINTS,
    speaker="**{speaker}** here. ",
    tool="The tool returned: `{result}`\n\n",
    asked="You asked:",
    three_points="Here is a simulated answer in **three points**:",
    footer="*This reply comes from the offline simulator.*",
)
ZH = Phrasebook(
    ZH_TITLES,
    ZH_POINTS,
    speaker="我是**{speaker}**。",
    tool="工具返回：`{result}`\n\n",
    asked="你问：",
    three_points="下面是模拟回答，分**三点**：",
    footer="*本回复来自离线模拟器。*",
)


def _reply(prompt: Prompt, seed: int, book: Phrasebook) -> str:
    rng = random.Random(seed)
    points = rng.sample(book.points, 3)
    lead = book.speaker.format(speaker=prompt.speaker) if prompt.speaker else ""
    tool = (
        book.tool.format(result=_quote(prompt.tool_result, 60))
        if prompt.tool_result
        else ""
    )
    return (
        f"## {rng.choice(book.titles)}\n\n"
        f"{tool}{lead}{book.asked}\n\n> {_quote(prompt.question)}\n\n"
        f"{book.three_points}\n\n"
        + "".join(f"- {p}\n" for p in points)
        + "\n```python\n"
        + "def answer() -> str:\n"
        + f"    return {json.dumps(_keyword(prompt.question), ensure_ascii=False)}\n"
        + "```\n\n"
        + book.footer
    )


def _en_reasoning(prompt: Prompt) -> str:
    return (
        f'The user wrote "{_quote(prompt.question, 60)}". They want a clear, short '
        "answer. I will restate the question, give three points as a list, and add "
        "a tiny Python example so the answer is concrete."
    )


def _zh_reasoning(prompt: Prompt) -> str:
    return (
        f"用户说：「{_quote(prompt.question, 60)}」。需要一个清晰简短的回答。"
        "我先复述问题，再列出三个要点，最后给一个简短的 Python 示例。"
    )


def _long_pieces(prompt: Prompt, zh: bool) -> list[str]:
    keyword = _keyword(prompt.question)
    pieces: list[str] = []
    for n in range(1, LONG_REPLY_PIECES // 2 + 1):
        if zh:
            pieces += [f"{n}. 这是关于「{keyword}」", f"的长回复的第 {n} 行。\n"]
        else:
            pieces += [f"{n}. This is line {n} ", f"of a long reply about {keyword}.\n"]
    return pieces
