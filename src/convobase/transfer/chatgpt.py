"""ChatGPT's data export (`conversations.json`): one conversation at a time into an `Item`.

The export is a list of conversations, each a tree in ``mapping`` (node id -> ``{id, message,
parent, children}``) with ``current_node`` the message shown last. Kept: every branch, roles
(user, assistant, system, tool), times (``create_time`` floats, possibly null), the model
(``metadata.model_slug``), titles. Content types become our parts: text and multimodal text
(strings; images and audio become placeholder parts without bytes, which the export holds
apart), code, execution output and other tool results, quotes and browsing results as text.
Nodes without a message, hidden messages and empty system messages are dropped (their children
move up). Pure: no database, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from convobase.messages.schemas import MAX_CONTENT
from convobase.transfer.tree import Item, ItemInvalid, Node, timestamp

SOURCE = "chatgpt"
_ROLES = {"user", "assistant", "system", "tool"}
_STATUS = {
    "finished_successfully": "complete",
    "finished_partial_completion": "incomplete",
    "in_progress": "incomplete",
    "cancelled": "cancelled",
}
_MAX_ID = 200


def _text_parts(text: str) -> list[dict[str, Any]]:
    """One text part, split where it exceeds a part's limit."""
    if not text:
        return []
    step = MAX_CONTENT
    return [{"type": "text", "text": text[i : i + step]} for i in range(0, len(text), step)]


def _placeholder(part: dict[str, Any]) -> dict[str, Any]:
    """An image or other asset of the export: a part naming it, without its bytes."""
    kind = str(part.get("content_type") or "asset")
    pointer = str(part.get("asset_pointer") or "")[:500]
    if kind == "image_asset_pointer":
        size = ""
        if isinstance(part.get("width"), int) and isinstance(part.get("height"), int):
            size = f" {part['width']}x{part['height']}"
        return {"type": "image", "alt": f"[image{size} not included: {pointer or 'no pointer'}]"}
    name = f"[{kind} not included{': ' + pointer if pointer else ''}]"
    return {"type": "file", "name": name[:255]}


# Parts whose text may be shortened, and the field holding it.
_CUTTABLE = {"text": "text", "code": "code", "tool_result": "content"}


def _chunk(part: dict[str, Any]) -> str | None:
    """What `messages.schemas.flatten` takes from a part (None: nothing)."""
    kind = part.get("type")
    if kind in ("text", "code"):
        return str(part.get(kind) or "")
    if kind in ("image", "file"):
        return str(part.get("alt" if kind == "image" else "name") or "") or None
    content = part.get("content")
    return content if kind == "tool_result" and isinstance(content, str) else None


def cap_text(parts: list[dict[str, Any]], limit: int = MAX_CONTENT) -> bool:
    """Cut ``parts`` in place so their flattened text fits ``limit`` (what an append takes);
    True when something was cut. ChatGPT holds messages far longer than that (a pasted
    document): the message is kept, shortened, rather than its whole conversation refused."""
    used = chunks = 0
    for index, part in enumerate(parts):
        chunk = _chunk(part)
        if chunk is None:
            continue
        joiner = 1 if chunks else 0  # flatten joins the chunks with newlines
        if used + joiner + len(chunk) <= limit:
            used, chunks = used + joiner + len(chunk), chunks + 1
            continue
        room = limit - used - joiner
        key = _CUTTABLE.get(str(part.get("type")))
        if key is not None and room > 0:
            part[key] = chunk[:room]
            index += 1
        del parts[index:]
        return True
    return False


def _string_fields(content: dict[str, Any]) -> str:
    chunks: list[str] = []
    for key in ("text", "result", "summary", "content", "user_profile", "user_instructions"):
        value = content.get(key)
        if isinstance(value, str) and value.strip():
            chunks.append(value)
    for thought in content.get("thoughts") or []:
        if isinstance(thought, dict):
            chunks.extend(str(thought[k]) for k in ("summary", "content") if thought.get(k))
    return "\n\n".join(chunks)


def content_parts(content: Any, author_name: str | None) -> list[dict[str, Any]]:
    """Our parts for a ChatGPT ``message.content``; [] when nothing is in it."""
    if not isinstance(content, dict):
        raise ItemInvalid("invalid_message", "A message's content is not an object")
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text") or "parts" in content:
        parts: list[dict[str, Any]] = []
        raw = content.get("parts") or []
        if not isinstance(raw, list):
            raise ItemInvalid("invalid_message", "A message's parts are not a list")
        for part in raw:
            if isinstance(part, str):
                parts.extend(_text_parts(part))
            elif isinstance(part, dict):
                text = part.get("text")
                if part.get("content_type") == "audio_transcription" and isinstance(text, str):
                    parts.extend(_text_parts(text))
                else:
                    parts.append(_placeholder(part))
            elif part is not None:
                parts.extend(_text_parts(json.dumps(part)))
        return parts
    if kind == "code":
        code = content.get("text")
        if not isinstance(code, str) or not code:
            return []
        language = content.get("language")
        code_part: dict[str, Any] = {"type": "code", "code": code}
        if isinstance(language, str) and language and language != "unknown":
            code_part["language"] = language[:50]
        return [code_part]
    if kind == "execution_output":
        text = content.get("text")
        if not isinstance(text, str):
            return []
        call = (author_name or "python")[:_MAX_ID]
        return [{"type": "tool_result", "tool_call_id": call, "content": text}]
    if kind == "tether_quote":
        quote = "\n".join(
            str(content[k]) for k in ("title", "url", "text") if isinstance(content.get(k), str)
        )
        return _text_parts(quote)
    return _text_parts(_string_fields(content))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _has_text(part: dict[str, Any]) -> bool:
    return bool(str(part.get("text") or "").strip())


def _node(node_id: str, raw: Any) -> Node:
    if not isinstance(raw, dict):
        raise ItemInvalid("invalid_node", f"Node {node_id!r} is not an object")
    parent = raw.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise ItemInvalid("invalid_node", f"Node {node_id!r} has a parent that is not an id")
    node = Node(key=node_id, parent=parent)
    message = raw.get("message")
    if message is None:
        node.drop = "no_message"
        return node
    if not isinstance(message, dict):
        raise ItemInvalid("invalid_node", f"Node {node_id!r} has a message that is not an object")
    author: dict[str, Any] = _dict(message.get("author"))
    role = author.get("role")
    if role not in _ROLES:
        raise ItemInvalid("invalid_role", f"Node {node_id!r} has an unknown role {role!r}")
    metadata: dict[str, Any] = _dict(message.get("metadata"))
    name = author.get("name") if isinstance(author.get("name"), str) else None
    node.role = role
    node.parts = content_parts(message.get("content"), name)
    truncated = cap_text(node.parts)
    node.created_at = timestamp(message.get("create_time"))
    node.updated_at = timestamp(message.get("update_time"))
    node.status = _STATUS.get(str(message.get("status")), "complete")
    meta: dict[str, Any] = {"source": SOURCE, "source_id": node_id[:_MAX_ID]}
    if isinstance(metadata.get("model_slug"), str):
        meta["model"] = metadata["model_slug"][:200]
    if name:
        meta["author_name"] = name[:200]
    recipient = message.get("recipient")
    if isinstance(recipient, str) and recipient != "all":
        meta["recipient"] = recipient[:200]
    if truncated:
        meta["truncated"] = True  # shortened to the text limit on import
    kind = _dict(message.get("content")).get("content_type")
    if isinstance(kind, str) and kind not in ("text",):
        meta["content_type"] = kind[:64]
    node.meta = meta
    if metadata.get("is_visually_hidden_from_conversation"):
        node.drop = "hidden"
    elif not node.parts or (role == "system" and not any(_has_text(p) for p in node.parts)):
        node.drop = "empty"
    return node


def parse(raw: Any, *, max_messages: int) -> Item:
    """One element of ``conversations.json`` as an unarranged `Item` (ItemInvalid if broken)."""
    if not isinstance(raw, dict):
        raise ItemInvalid("not_an_object", "The conversation is not a JSON object")
    source_id = raw.get("conversation_id") or raw.get("id")
    if not isinstance(source_id, str) or not 0 < len(source_id) <= _MAX_ID:
        raise ItemInvalid("missing_id", "The conversation has no id")
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise ItemInvalid("invalid_mapping", "The conversation has no `mapping` object")
    if len(mapping) > max_messages * 2 + 10:
        raise ItemInvalid(
            "too_many_messages", f"The conversation has {len(mapping)} nodes; too many"
        )
    title = raw.get("title")
    model = raw.get("default_model_slug")
    item = Item(
        source=SOURCE,
        source_id=source_id,
        title=title[:500] if isinstance(title, str) and title.strip() else None,
        created_at=timestamp(raw.get("create_time")),
        updated_at=timestamp(raw.get("update_time")),
        model=model[:200] if isinstance(model, str) and model else None,
        current=raw.get("current_node") if isinstance(raw.get("current_node"), str) else None,
    )
    for node_id, node in mapping.items():
        if not 0 < len(node_id) <= _MAX_ID:
            raise ItemInvalid("invalid_node", "A node id is empty or too long")
        item.nodes.append(_node(node_id, node))
    if item.model is None:  # the last model that answered
        models = [n.meta["model"] for n in item.nodes if n.drop is None and "model" in n.meta]
        item.model = models[-1] if models else None
    return item
