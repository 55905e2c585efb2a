"""A realistic ChatGPT data export, built here: the shapes ChatGPT's `conversations.json` uses.

Conversation "Trip" has a hidden system root, an edited user message (two branches, the
second current), and a code-interpreter exchange (assistant code to `python`, a tool's
execution output, a browsing quote). "Photo" has a multimodal user message (an image asset
pointer and text). Then the broken ones: a cycle, a missing parent (re-rooted), a malformed
item (mapping not an object) and an element that is not an object at all.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

T0 = 1_700_000_000.0


def message(
    node_id: str,
    role: str,
    content: dict[str, Any],
    *,
    at: float | None,
    model: str | None = None,
    name: str | None = None,
    hidden: bool = False,
    recipient: str = "all",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if model:
        metadata["model_slug"] = model
    if hidden:
        metadata["is_visually_hidden_from_conversation"] = True
    return {
        "id": node_id,
        "author": {"role": role, "name": name, "metadata": {}},
        "create_time": at,
        "update_time": None,
        "content": content,
        "status": "finished_successfully",
        "end_turn": True,
        "weight": 1.0,
        "metadata": metadata,
        "recipient": recipient,
    }


def text(*parts: Any) -> dict[str, Any]:
    return {"content_type": "text", "parts": list(parts)}


def conversation(
    conversation_id: str,
    title: str,
    nodes: list[tuple[str, str | None, dict[str, Any] | None]],
    current: str,
    *,
    model: str = "gpt-4o",
) -> dict[str, Any]:
    """``nodes``: (id, parent, message or None); children are derived from the parents."""
    mapping: dict[str, Any] = {
        node_id: {"id": node_id, "message": msg, "parent": parent, "children": []}
        for node_id, parent, msg in nodes
    }
    for node_id, parent, _ in nodes:
        if parent in mapping:
            mapping[parent]["children"].append(node_id)
    return {
        "title": title,
        "create_time": T0,
        "update_time": T0 + 600,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": current,
        "plugin_ids": None,
        "conversation_id": conversation_id,
        "conversation_template_id": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": model,
        "id": conversation_id,
    }


def trip() -> dict[str, Any]:
    hidden = message("sys", "system", text(""), at=None, hidden=True)
    return conversation(
        "conv-trip",
        "Trip to Lisbon",
        [
            ("root", None, None),
            ("sys", "root", hidden),
            ("u1", "sys", message("u1", "user", text("Plan a day in Lisbon"), at=T0 + 1)),
            (
                "a1",
                "u1",
                message("a1", "assistant", text("Start at Belem."), at=T0 + 2, model="gpt-4"),
            ),
            ("u1b", "sys", message("u1b", "user", text("Plan two days in Lisbon"), at=T0 + 10)),
            (
                "code",
                "u1b",
                message(
                    "code",
                    "assistant",
                    {"content_type": "code", "language": "python", "text": "print(2 * 24)"},
                    at=T0 + 11,
                    model="gpt-4o",
                    recipient="python",
                ),
            ),
            (
                "out",
                "code",
                message(
                    "out",
                    "tool",
                    {"content_type": "execution_output", "text": "48"},
                    at=T0 + 12,
                    name="python",
                ),
            ),
            (
                "quote",
                "out",
                message(
                    "quote",
                    "tool",
                    {
                        "content_type": "tether_quote",
                        "url": "https://example.com/lisbon",
                        "domain": "example.com",
                        "title": "Lisbon guide",
                        "text": "Alfama is the oldest district",
                    },
                    at=T0 + 13,
                    name="browser",
                ),
            ),
            (
                "a2",
                "quote",
                message(
                    "a2",
                    "assistant",
                    text("Day one: Alfama. Day two: Sintra."),
                    at=T0 + 14,
                    model="gpt-4o",
                ),
            ),
        ],
        "a2",
    )


def photo() -> dict[str, Any]:
    multimodal = {
        "content_type": "multimodal_text",
        "parts": [
            {
                "content_type": "image_asset_pointer",
                "asset_pointer": "file-service://file-abc123",
                "size_bytes": 12345,
                "width": 640,
                "height": 480,
            },
            "What bird is this?",
        ],
    }
    return conversation(
        "conv-photo",
        "Bird photo",
        [
            ("root", None, None),
            ("p1", "root", message("p1", "user", multimodal, at=T0 + 100)),
            (
                "p2",
                "p1",
                message("p2", "assistant", text("A kingfisher."), at=T0 + 101, model="gpt-4o"),
            ),
        ],
        "p2",
    )


def cycle() -> dict[str, Any]:
    return conversation(
        "conv-cycle",
        "Loop",
        [
            ("x", "y", message("x", "user", text("x"), at=T0)),
            ("y", "x", message("y", "assistant", text("y"), at=T0 + 1)),
        ],
        "y",
    )


def orphan() -> dict[str, Any]:
    return conversation(
        "conv-orphan",
        "Orphan",
        [
            ("o1", None, message("o1", "user", text("first"), at=T0)),
            ("o2", "ghost", message("o2", "assistant", text("lost parent"), at=T0 + 1)),
        ],
        "o2",
    )


def realistic() -> list[Any]:
    broken = {"id": "conv-broken", "title": "Broken", "mapping": ["not", "an", "object"]}
    return [trip(), photo(), cycle(), orphan(), broken, "not a conversation"]


def as_bytes(data: Any) -> bytes:
    return json.dumps(data).encode()


def as_zip(data: Any, *, folder: str = "") -> bytes:
    """ChatGPT's export zip: conversations.json next to chat.html and the user's files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}conversations.json", json.dumps(data))
        archive.writestr(f"{folder}chat.html", "<html></html>")
        archive.writestr(f"{folder}user.json", json.dumps({"email": "someone@example.com"}))
    return buffer.getvalue()
