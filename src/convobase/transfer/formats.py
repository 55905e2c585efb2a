"""Convobase's export format and the local-chats shape: rows to JSON, JSON to `Item`.

A conversation file (``conversations/<id>.json``) holds the conversation's fields, every
message of every branch (``parent_id`` links them; parts, content, metadata, status, times,
edit history, feedback), its tool runs and agent logs. Ids are the exporting server's; an
import chooses new ones and keeps the links.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from convobase.models import AgentLog, Conversation, Feedback, Message, MessageEdit, ToolRun
from convobase.transfer.schemas import (
    CONVERSATION_FORMAT,
    FORMAT_VERSION,
    ExportedConversation,
    LocalConversation,
)
from convobase.transfer.tree import Item, ItemInvalid, Node, timestamp


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def message_json(m: Message, edits: list[MessageEdit], feedback: Feedback | None) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "parent_id": _id(m.parent_id),
        "role": m.role,
        "parts": m.parts,
        "content": m.content,
        "metadata": m.meta,
        "status": m.status,
        "edit_count": m.edit_count,
        "created_at": _iso(m.created_at),
        "updated_at": _iso(m.updated_at),
        "edits": [
            {
                "parts": e.parts,
                "content": e.content,
                "metadata": e.meta,
                "edited_at": _iso(e.edited_at),
            }
            for e in edits
        ],
        "feedback": None
        if feedback is None
        else {
            "rating": feedback.rating,
            "comment": feedback.comment,
            "created_at": _iso(feedback.created_at),
            "updated_at": _iso(feedback.updated_at),
        },
    }


def tool_run_json(r: ToolRun) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "message_id": _id(r.message_id),
        "name": r.name,
        "input": r.input,
        "output": r.output,
        "status": r.status,
        "error": r.error,
        "duration_ms": r.duration_ms,
        "tokens": r.tokens,
        "created_at": _iso(r.created_at),
        "updated_at": _iso(r.updated_at),
        "started_at": _iso(r.started_at),
        "finished_at": _iso(r.finished_at),
    }


def log_json(log: AgentLog) -> dict[str, Any]:
    return {
        "id": str(log.id),
        "level": log.level,
        "type": log.type,
        "message": log.message,
        "details": log.details,
        "created_at": _iso(log.created_at),
    }


def conversation_json(
    c: Conversation,
    messages: list[dict[str, Any]],
    tool_runs: list[dict[str, Any]],
    logs: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format": CONVERSATION_FORMAT,
        "version": FORMAT_VERSION,
        "id": str(c.id),
        "title": c.title,
        "domain": c.domain,
        "language": c.language,
        "model": c.model,
        "system_prompt": c.system_prompt,
        "settings": c.settings,
        "tags": c.tags,
        "pinned": c.pinned,
        "archived": c.archived,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "last_activity_at": _iso(c.last_activity_at),
        "current_leaf_id": _id(c.current_leaf_id),
        "messages": messages,
        "tool_runs": tool_runs,
        "logs": logs,
    }


def _errors(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[:3]
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in first)


def convobase_item(raw: Any) -> Item:
    """A conversation file of Convobase's format as an unarranged `Item`."""
    try:
        data = ExportedConversation.model_validate(raw)
    except ValidationError as exc:
        raise ItemInvalid("invalid_conversation", _errors(exc)) from exc
    item = Item(
        source="convobase",
        source_id=data.id,
        title=data.title,
        created_at=data.created_at,
        updated_at=data.last_activity_at or data.updated_at,
        model=data.model,
        fields={
            "domain": data.domain,
            "language": data.language,
            "system_prompt": data.system_prompt,
            "settings": data.settings,
            "tags": data.tags,
            "pinned": data.pinned,
            "archived": data.archived,
        },
        current=data.current_leaf_id,
        tool_runs=[r.model_dump() for r in data.tool_runs],
        logs=[log.model_dump() for log in data.logs],
    )
    for m in data.messages:
        item.nodes.append(
            Node(
                key=m.id,
                parent=m.parent_id,
                role=m.role,
                parts=m.parts,
                content=m.content,
                meta=m.metadata,
                status=m.status,
                created_at=m.created_at,
                updated_at=m.updated_at,
                edit_count=m.edit_count,
                edits=[e.model_dump() for e in m.edits],
                feedback=m.feedback.model_dump() if m.feedback else None,
            )
        )
    return item


def local_item(raw: Any) -> Item:
    """One conversation of the local-chats shape (README: "Local chats")."""
    try:
        data = LocalConversation.model_validate(raw)
    except ValidationError as exc:
        raise ItemInvalid("invalid_conversation", _errors(exc)) from exc
    item = Item(
        source="local",
        source_id=data.id,
        title=data.title,
        created_at=timestamp(_raw_time(data.created_at)),
    )
    previous: str | None = None
    for m in data.messages:
        parent = m.parent_id if "parent_id" in m.model_fields_set else previous
        meta: dict[str, Any] = {"source": "local", "source_id": m.id}
        if m.model:
            meta["model"] = m.model
        parts = [{"type": "text", "text": m.content}] if m.content else []
        item.nodes.append(
            Node(
                key=m.id,
                parent=parent,
                role=m.role,
                parts=parts,
                meta=meta,
                created_at=timestamp(_raw_time(m.created_at)),
                drop=None if m.content.strip() else "empty",
            )
        )
        previous = m.id
    return item


def _raw_time(value: datetime | float | None) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
