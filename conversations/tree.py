"""A conversation's messages as a tree: edits and regenerates branch it.

Each message has a parent (null for a first turn); an edited user message and a
regenerated reply are siblings of the message they replace, under the same parent.
The conversation's `active_leaf` says which branch is on screen and sent upstream:
the path from that leaf up to a first turn (`branch`).

Pure Python over a list of already loaded messages (one query loads them all), so
the models, services, exports and the tests share one walk.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conversations.models import Message


def order_key(message: Message) -> tuple:
    return (message.created_at, message.pk)


class MessageTree:
    """The messages of one conversation, with the active leaf's branch."""

    def __init__(self, messages: list[Message], active_leaf_id: int | None) -> None:
        self.messages = sorted(messages, key=order_key)
        self.by_id = {m.pk: m for m in self.messages}
        self.children: dict[int | None, list[Message]] = defaultdict(list)
        for message in self.messages:
            parent = message.parent_id if message.parent_id in self.by_id else None
            self.children[parent].append(message)
        self.active_leaf_id = active_leaf_id

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.by_id

    def leaf(self) -> Message | None:
        """Return the active leaf; without one, the newest message's branch's end."""
        if self.active_leaf_id in self.by_id:
            return self.by_id[self.active_leaf_id]
        if not self.messages:
            return None
        return self.newest_leaf_under(self.messages[-1].pk)

    def branch(self, leaf_id: int | None = None) -> list[Message]:
        """Return the path from a first turn down to `leaf_id` (default: active)."""
        leaf = self.by_id.get(leaf_id) if leaf_id is not None else self.leaf()
        path: list[Message] = []
        seen: set[int] = set()
        while leaf is not None and leaf.pk not in seen:
            seen.add(leaf.pk)
            path.append(leaf)
            leaf = self.by_id.get(leaf.parent_id)
        path.reverse()
        for message in path:
            self.annotate(message)
        return path

    def siblings(self, message: Message) -> list[int]:
        """Return the ids of the versions of this turn (same parent and role)."""
        parent = message.parent_id if message.parent_id in self.by_id else None
        return [m.pk for m in self.children[parent] if m.role == message.role]

    def annotate(self, message: Message) -> Message:
        """Set `sibling_ids` on the message (frames.message_json reads it)."""
        message.sibling_ids = self.siblings(message)
        return message

    def newest_leaf_under(self, message_id: int) -> Message:
        """Return the most recent message with no children below `message_id`."""
        newest = None
        stack = [self.by_id[message_id]]
        seen: set[int] = set()
        while stack:
            message = stack.pop()
            if message.pk in seen:
                continue
            seen.add(message.pk)
            below = self.children.get(message.pk, [])
            if not below and (newest is None or order_key(message) > order_key(newest)):
                newest = message
            stack.extend(below)
        return newest
