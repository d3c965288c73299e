"""Tool-call pieces joined into whole calls: the one place that does it."""

from __future__ import annotations

from typing import Any

from .events import ToolCallDelta


class ToolCallAssembler:
    """Join ToolCallDelta pieces (same index: same call) into OpenAI-shaped calls."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call = self._calls.setdefault(
            delta.index,
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            call["function"]["name"] = delta.name
        call["function"]["arguments"] += delta.arguments

    def calls(self) -> list[dict[str, Any]] | None:
        """Return the calls in index order, or None when there were none."""
        return [self._calls[i] for i in sorted(self._calls)] or None
