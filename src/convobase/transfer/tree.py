"""What every importer produces: a conversation and its message tree, checked and ordered.

The parsers (ChatGPT, Convobase's own format, a client's local chats) turn their input into an
`Item`; `arrange` then repairs and orders its tree the same way for all of them: messages that
are dropped (hidden, empty) hand their children to their nearest kept ancestor, a parent that
does not exist makes its child a root (an orphan, counted), and a cycle refuses the whole
conversation. Nothing here touches the database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from convobase.timestamps import to_utc


class ItemInvalid(Exception):
    """This conversation cannot be imported; ``reason`` is a short code, the text says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class Node:
    """One message as read: ``key`` and ``parent`` are ids of the source, unique per item."""

    key: str
    parent: str | None
    role: str = "user"
    parts: list[dict[str, Any]] = field(default_factory=list)
    content: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    status: str = "complete"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    edit_count: int = 0
    edits: list[dict[str, Any]] = field(default_factory=list)
    feedback: dict[str, Any] | None = None
    # Why it is not imported (the tree keeps its place: its children move up), or None.
    drop: str | None = None


@dataclass(slots=True)
class Item:
    """One conversation as read, before any id of ours is chosen."""

    source: str
    source_id: str
    title: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    model: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # domain, language, tags, settings...
    nodes: list[Node] = field(default_factory=list)
    current: str | None = None  # the key of the message shown last (ChatGPT's current_node)
    tool_runs: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    # Filled by `arrange`:
    kept: list[Node] = field(default_factory=list)  # parents before children
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    orphans: int = 0
    current_leaf: str | None = None


def timestamp(value: Any) -> datetime | None:
    """A Unix time (float seconds, as ChatGPT writes) or ISO-8601 string; None when unusable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0 or seconds > 253_402_300_799:
            return None
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            # Naive is UTC; an offset near the calendar's ends has no UTC time (ValueError).
            return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def arrange(item: Item, *, max_messages: int) -> Item:
    """Repair and order ``item``'s tree in place (see the module's docstring)."""
    by_key: dict[str, Node] = {}
    for node in item.nodes:
        if node.key in by_key:
            raise ItemInvalid("duplicate_id", f"Message id {node.key!r} appears twice")
        by_key[node.key] = node
    children: dict[str | None, list[Node]] = defaultdict(list)
    for node in item.nodes:
        parent = node.parent
        if parent is not None and parent not in by_key:
            item.orphans += 1
            parent = node.parent = None
        children[parent].append(node)
    # Walk from the roots; whatever is never reached hangs on a cycle.
    order: list[Node] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(reversed(children.get(node.key, [])))
    if len(order) != len(item.nodes):
        raise ItemInvalid(
            "cycle", f"The message tree has a cycle ({len(item.nodes) - len(order)} messages)"
        )
    kept_parent: dict[str, str | None] = {}
    for node in order:  # parents come first, so a parent's kept ancestor is known
        up = node.parent
        ancestor = None if up is None else (up if by_key[up].drop is None else kept_parent[up])
        kept_parent[node.key] = ancestor
        if node.drop is None:
            node.parent = ancestor
            item.kept.append(node)
        else:
            item.dropped[node.drop] = item.dropped.get(node.drop, 0) + 1
    if len(item.kept) > max_messages:
        raise ItemInvalid(
            "too_many_messages",
            f"The conversation has {len(item.kept)} messages; at most {max_messages} are taken",
        )
    current = item.current if item.current in by_key else None
    if current is not None and by_key[current].drop is not None:
        current = kept_parent[current]
    item.current_leaf = current or (item.kept[-1].key if item.kept else None)
    _fill_times(item)
    return item


def _fill_times(item: Item) -> None:
    """A message without a time takes its parent's (else the conversation's)."""
    times: dict[str, datetime | None] = {}
    for node in item.kept:
        if node.created_at is None:
            node.created_at = times.get(node.parent) if node.parent else None
            node.created_at = node.created_at or item.created_at
        times[node.key] = node.created_at
