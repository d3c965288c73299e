"""Split M2.x `<think>...</think>` reasoning out of the answer text.

On `/v1/chat/completions` the M2.x models put their reasoning inline, as a
`<think>\\n...\\n</think>\\n\\n` prefix of `content` (docs/minimax-protocol.md
§6). Deltas are cut anywhere, also inside a tag ("<thi" + "nk>"), so the
splitter holds back any tail that could still become a tag. Some templates leave
out the opener and send only `</think>`; see `expect_think`.

A piece is ("text", s), ("reasoning", s), or ("to_reasoning", ""): all the text
given so far was reasoning after all (a `</think>` came with no opener before it).
"""

from __future__ import annotations

from typing import Literal

OPEN = "<think>"
CLOSE = "</think>"

Kind = Literal["reasoning", "text", "to_reasoning"]
Piece = tuple[Kind, str]


def _partial_suffix(text: str, tag: str) -> int:
    """Return the length of the longest end of `text` that begins `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed content deltas; get ("reasoning" | "text", piece) pairs back.

    `expect_think=True` (a reasoning model): text that starts without `<think>` is
    given as text as it comes (the reader sees it at once); if a `</think>` then
    turns up, a ("to_reasoning", "") piece says the text so far was reasoning and
    what precedes the tag follows as reasoning. `False`: such text is the answer
    and a stray `</think>` is dropped.
    """

    def __init__(self, *, expect_think: bool = True) -> None:
        self._expect_think = expect_think
        self._state: Literal["start", "think", "untagged", "answer"] = "start"
        self._pending = ""
        self._strip_newlines = False
        self._untagged_shown = False  # text given before a `</think>` with no opener

    def feed(self, delta: str) -> list[Piece]:
        """Return the pieces `delta` completes (possibly none, while a tag is open)."""
        self._pending += delta
        pieces: list[Piece] = []
        while self._pending:
            before = (self._state, len(self._pending))
            self._step(pieces)
            if (self._state, len(self._pending)) == before:
                break  # waiting for more input
        return [piece for piece in pieces if piece[1] or piece[0] == "to_reasoning"]

    def flush(self) -> list[Piece]:
        """Return whatever is still held back once the reply has ended."""
        text, self._pending = self._pending, ""
        if self._strip_newlines:
            text = text.lstrip("\r\n")
        if self._state == "think":
            return [("reasoning", text)] if text else []
        if self._state == "start":
            text = text.lstrip()
        return [("text", text)] if text else []

    def _step(self, pieces: list[Piece]) -> None:
        if self._state == "start":
            self._step_start()
        elif self._state == "think":
            self._step_until_close(pieces, "reasoning")
        elif self._state == "untagged":
            self._step_until_close(pieces, "text")
        else:
            self._step_answer(pieces)

    def _step_start(self) -> None:
        head = self._pending.lstrip()
        if head.startswith(OPEN):
            self._pending = head[len(OPEN) :]
            self._state = "think"
            self._strip_newlines = True
        elif not head or OPEN.startswith(head):
            return  # only whitespace or "<thi" so far
        else:
            self._pending = head
            self._state = "untagged" if self._expect_think else "answer"

    def _step_until_close(self, pieces: list[Piece], kind: Kind) -> None:
        """Give `kind` pieces up to `</think>`; past it, the answer.

        `kind` is "reasoning" after a `<think>`, "text" without one: then the tag
        says the text given so far was reasoning ("to_reasoning")."""
        text = self._take_pending()
        end = text.find(CLOSE)
        if end != -1:
            if kind == "text" and self._untagged_shown:
                pieces.append(("to_reasoning", ""))
            pieces.append(("reasoning", text[:end].rstrip("\r\n")))
            self._pending = text[end + len(CLOSE) :]
            self._state = "answer"
            self._strip_newlines = True
        else:
            # Hold back a possible "</thi" and the newlines that precede </think>.
            body = text[: len(text) - _partial_suffix(text, CLOSE)]
            shown = body.rstrip("\r\n")
            if shown:
                pieces.append((kind, shown))
                self._untagged_shown = True
            self._pending = text[len(shown) :]

    def _step_answer(self, pieces: list[Piece]) -> None:
        # A stray closing tag in the answer is markup, not text for the reader.
        text = self._take_pending().replace(CLOSE, "")
        keep = _partial_suffix(text, CLOSE)
        pieces.append(("text", text[: len(text) - keep]))
        self._pending = text[len(text) - keep :]

    def _take_pending(self) -> str:
        """Return the held text, minus the newlines that follow a tag."""
        text = self._pending
        if self._strip_newlines:
            text = text.lstrip("\r\n")
            self._strip_newlines = not text
        return text


def split_think(content: str, *, expect_think: bool = True) -> tuple[str, str]:
    """Return (reasoning, answer) for a whole message's content."""
    splitter = ThinkSplitter(expect_think=expect_think)
    reasoning = answer = ""
    for kind, text in splitter.feed(content) + splitter.flush():
        if kind == "to_reasoning":
            reasoning, answer = reasoning + answer, ""
        elif kind == "reasoning":
            reasoning += text
        else:
            answer += text
    return reasoning, answer
