"""A conversation of the export as Markdown: the current branch, other branches noted.

For reading, not for importing back (the JSON next to it is the data). The path shown runs
from the root to ``current_leaf_id`` (else the newest message); where a message on it has
siblings (an edited question, a regenerated answer), a note says how many other versions the
JSON holds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

_ROLE = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}
_SPECIAL = re.compile(r"([\\`*_\[\]()#<>!|~])")


def _inline(value: Any) -> str:
    """User text on one line with Markdown's special characters escaped: a title, a name or
    alt text cannot open a heading, a link or HTML."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _ticks(text: str, least: int) -> str:
    """A backtick fence longer than any run of backticks inside ``text`` (CommonMark)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(least, longest + 1)


def _block(text: str, language: str = "") -> str:
    fence = _ticks(text, 3)
    return f"{fence}{_inline(language)}\n{text}\n{fence}"


def _code(text: str) -> str:
    fence = _ticks(text, 1)
    return f"{fence} {text} {fence}"


def _part(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    if kind == "code":
        return _block(str(part.get("code", "")), str(part.get("language") or ""))
    if kind == "image":
        return f"[image: {_inline(part.get('alt') or 'image')}]"
    if kind == "file":
        return f"[file: {_inline(part.get('name') or part.get('file_id') or 'attachment')}]"
    if kind == "tool_call":
        name = " ".join(str(part.get("name")).split())
        return f"*tool call* {_code(name)}: {_code(repr(part.get('arguments')))}"
    if kind == "tool_result":
        return f"*tool result* ({_inline(part.get('tool_call_id'))}):\n\n" + _block(
            str(part.get("content"))
        )
    return ""


def current_path(messages: list[dict[str, Any]], leaf: str | None) -> list[dict[str, Any]]:
    by_id = {m["id"]: m for m in messages}
    node = by_id.get(leaf or "") or (messages[-1] if messages else None)
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    while node is not None and node["id"] not in seen:
        seen.add(node["id"])
        path.append(node)
        node = by_id.get(node.get("parent_id") or "")
    return path[::-1]


def render(conversation: dict[str, Any]) -> str:
    messages: list[dict[str, Any]] = conversation["messages"]
    children: dict[str | None, int] = defaultdict(int)
    for m in messages:
        children[m.get("parent_id")] += 1
    path = current_path(messages, conversation.get("current_leaf_id"))
    lines = [f"# {_inline(conversation.get('title') or 'Untitled conversation')}", ""]
    facts = [f"Created {conversation.get('created_at')}"]
    if conversation.get("model"):
        facts.append(f"model {conversation['model']}")
    facts.append(f"{len(messages)} messages, {len(path)} on the branch shown")
    lines += [", ".join(facts) + ".", ""]
    for m in path:
        heading = f"## {_ROLE.get(m['role'], m['role'])}"
        model = (m.get("metadata") or {}).get("model")
        if model:
            heading += f" ({_inline(model)})"
        lines += [heading, "", f"*{m.get('created_at')}*", ""]
        others = children[m.get("parent_id")] - 1
        if others > 0:
            lines += [f"> {others} other version(s) of this message exist (see the JSON).", ""]
        lines += ["\n\n".join(filter(None, (_part(p) for p in m.get("parts") or []))), ""]
    return "\n".join(lines).rstrip() + "\n"
