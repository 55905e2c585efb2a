"""Between OpenAI messages and Convobase's stored ones: conversion and "what is new".

Clients send the whole history with every call. The request's messages are matched, in order,
against the path from the conversation's root to its current leaf; those that match are
already stored, the rest are appended under the last match. A client that edits an earlier
message therefore starts a branch, just as an edit in the API does.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from convobase.gateway.errors import GatewayError
from convobase.gateway.schemas import ChatMessage
from convobase.gateway.upstream import Outcome
from convobase.messages.schemas import MAX_CONTENT, MessageCreate, flatten
from convobase.models import Message

_MAX_URL = 8192


def _parts(message: ChatMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    content = message.content
    if isinstance(content, str):
        if content:
            parts.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for item in content:
            kind = item.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": str(item.get("text", ""))})
            elif kind == "image_url":
                url = str((item.get("image_url") or {}).get("url", ""))
                # Inline (data:) images are not kept in the transcript: upload them as files.
                parts.append(
                    {"type": "image", "url": url}
                    if len(url) <= _MAX_URL and not url.startswith("data:")
                    else {"type": "image", "alt": "(inline image)"}
                )
    for call in message.tool_calls or []:
        function = call.get("function") or {}
        parts.append(
            {
                "type": "tool_call",
                "id": str(call.get("id") or "call"),
                "name": str(function.get("name") or "function"),
                "arguments": _arguments(function.get("arguments")),
            }
        )
    if message.role == "tool":
        text = "".join(p.get("text", "") for p in parts if p.get("type") == "text")
        return [
            {
                "type": "tool_result",
                "tool_call_id": message.tool_call_id or "call",
                "content": text,
            }
        ]
    return parts


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def to_create(message: ChatMessage, index: int) -> MessageCreate:
    """A request message as an append, or a 400 naming the message that cannot be stored."""
    role = "system" if message.role == "developer" else message.role
    parts = _parts(message)
    if not parts:
        raise GatewayError(
            400, f"messages[{index}] has no content", "invalid_request", details={"index": index}
        )
    try:
        return MessageCreate.model_validate({"role": role, "parts": parts})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise GatewayError(
            400, f"messages[{index}]: {first['msg']}", "invalid_request", details={"index": index}
        ) from exc


def key(role: str, content: str) -> tuple[str, str]:
    return ("system" if role == "developer" else role, content.strip())


def new_messages(
    requested: list[MessageCreate], stored_path: list[Message]
) -> tuple[int, Message | None]:
    """How many leading request messages are already stored, and the last stored match."""
    matched = 0
    parent: Message | None = None
    for create, stored in zip(requested, stored_path, strict=False):
        if key(create.role, flatten(create.resolved_parts() or [])) != key(
            stored.role, stored.content
        ):
            break
        matched += 1
        parent = stored
    return matched, parent


def answer_create(outcome: Outcome, metadata: dict[str, Any], status: str) -> MessageCreate | None:
    """The model's answer as an assistant message (None when it said nothing at all)."""
    parts: list[dict[str, Any]] = []
    if outcome.text:
        parts.append({"type": "text", "text": outcome.text[:MAX_CONTENT]})
    for call in outcome.tool_calls:
        function = call.get("function") or {}
        parts.append(
            {
                "type": "tool_call",
                "id": str(call.get("id") or "call"),
                "name": str(function.get("name") or "function"),
                "arguments": _arguments(function.get("arguments")),
            }
        )
    if not parts:
        return None
    return MessageCreate.model_validate(
        {"role": "assistant", "parts": parts, "metadata": metadata, "status": status}
    )


def title_of(requested: list[MessageCreate]) -> str | None:
    for create in requested:
        if create.role == "user":
            text = " ".join(flatten(create.resolved_parts() or []).split())
            return (text[:77] + "...") if len(text) > 80 else (text or None)
    return None
