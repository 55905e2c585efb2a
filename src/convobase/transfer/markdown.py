"""A conversation of the export as Markdown: the current branch, other branches noted.

For reading, not for importing back (the JSON next to it is the data). The path shown runs
from the root to ``current_leaf_id`` (else the newest message); where a message on it has
siblings (an edited question, a regenerated answer), a note says how many other versions the
JSON holds.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_ROLE = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def _part(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    if kind == "code":
        fence = "````" if "```" in str(part.get("code", "")) else "```"
        return f"{fence}{part.get('language') or ''}\n{part.get('code', '')}\n{fence}"
    if kind == "image":
        return f"![{part.get('alt') or 'image'}]({part.get('url') or ''})"
    if kind == "file":
        return f"[file: {part.get('name') or part.get('file_id') or 'attachment'}]"
    if kind == "tool_call":
        return f"*tool call* `{part.get('name')}`: `{part.get('arguments')!r}`"
    if kind == "tool_result":
        return f"*tool result* ({part.get('tool_call_id')}):\n\n```\n{part.get('content')}\n```"
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
    lines = [f"# {conversation.get('title') or 'Untitled conversation'}", ""]
    facts = [f"Created {conversation.get('created_at')}"]
    if conversation.get("model"):
        facts.append(f"model {conversation['model']}")
    facts.append(f"{len(messages)} messages, {len(path)} on the branch shown")
    lines += [", ".join(facts) + ".", ""]
    for m in path:
        heading = f"## {_ROLE.get(m['role'], m['role'])}"
        model = (m.get("metadata") or {}).get("model")
        if model:
            heading += f" ({model})"
        lines += [heading, "", f"*{m.get('created_at')}*", ""]
        others = children[m.get("parent_id")] - 1
        if others > 0:
            lines += [f"> {others} other version(s) of this message exist (see the JSON).", ""]
        lines += ["\n\n".join(filter(None, (_part(p) for p in m.get("parts") or []))), ""]
    return "\n".join(lines).rstrip() + "\n"
