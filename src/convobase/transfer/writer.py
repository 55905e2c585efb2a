"""Arranged `Item`s to rows, and rows to the database in bulk.

`prepare` is pure: it checks every message against the same part and metadata schemas as
`POST .../messages` (so an import can store nothing an API client could not), flattens the
searchable text with the same `flatten`, and builds the search documents with the same
`search.index` builders the services use. `write` then inserts a whole batch of conversations
with one multi-row INSERT per table (parents before children, so the `parent_id` foreign key
holds within the statement), instead of one unit of work per message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.conversations.schemas import ConversationFields
from convobase.db.base import utcnow
from convobase.messages.schemas import (
    MAX_CONTENT,
    MAX_PARTS,
    MessageMetadata,
    Part,
    Status,
    flatten,
    json_size,
)
from convobase.models import (
    AgentLog,
    Conversation,
    ConversationTag,
    Feedback,
    ImportedConversation,
    Message,
    MessageEdit,
    SearchDoc,
    ToolRun,
)
from convobase.search import vocabulary
from convobase.search.index import owner_token
from convobase.search.plain import plain_text
from convobase.transfer.ids import Sequence, millis, uuid7_at
from convobase.transfer.tree import Item, ItemInvalid

_PARTS: TypeAdapter[list[Any]] = TypeAdapter(list[Part])
_STATUS: TypeAdapter[str] = TypeAdapter(Status)
_MAX_METADATA = 16_384


@dataclass(slots=True)
class Rows:
    """Everything one conversation inserts."""

    source: str
    source_id: str
    conversation: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    tool_runs: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    # Source message id -> our id, only for those `wanted` (files of a Convobase export).
    message_ids: dict[str, uuid.UUID] = field(default_factory=dict)


def _parts(raw: list[dict[str, Any]], files: dict[str, uuid.UUID], key: str) -> list[Any]:
    """Checked parts; a file id is replaced by ours, or dropped when not imported with it (an
    import must never point at files it did not bring, someone else's above all)."""
    cleaned = []
    for part in raw:
        if isinstance(part, dict) and "file_id" in part:
            part = dict(part)
            mapped = files.get(str(part.pop("file_id")))
            if mapped is not None:
                part["file_id"] = str(mapped)
        cleaned.append(part)
    if len(cleaned) > MAX_PARTS:  # long texts were split: keep them whole in fewer parts
        raise ItemInvalid("invalid_message", f"Message {key!r} has more than {MAX_PARTS} parts")
    try:
        return _PARTS.validate_python(cleaned)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"]))
        raise ItemInvalid(
            "invalid_message", f"Message {key!r}: parts.{where}: {first['msg']}"
        ) from exc


def _metadata(raw: dict[str, Any], key: str) -> dict[str, Any]:
    try:
        meta = MessageMetadata.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise ItemInvalid("invalid_message", f"Message {key!r} has invalid metadata") from exc
    if json_size(meta) > _MAX_METADATA:
        raise ItemInvalid("invalid_message", f"Message {key!r} has metadata over 16 KB")
    return meta


def _fields(item: Item) -> dict[str, Any]:
    values = {k: v for k, v in item.fields.items() if v is not None}
    values.update(title=item.title, model=item.model)
    try:
        data = ConversationFields.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise ItemInvalid(
            "invalid_conversation", f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from exc
    return {
        "title": data.title,
        "domain": data.domain,
        "language": data.language,
        "model": data.model,
        "system_prompt": data.system_prompt,
        "settings": data.settings.model_dump(exclude_none=True) if data.settings else {},
        "tags": data.tags or [],
        "pinned": bool(data.pinned),
        "archived": bool(data.archived),
    }


def prepare(
    item: Item,
    user_id: uuid.UUID,
    *,
    files: dict[str, uuid.UUID] | None = None,
    wanted: set[str] | None = None,
) -> Rows:
    """The rows of an arranged item (ItemInvalid when a message breaks our rules)."""
    files = files or {}
    now = utcnow()
    fields = _fields(item)
    first = min((n.created_at for n in item.kept if n.created_at), default=None)
    created = item.created_at or first or now
    conversation_id = uuid7_at(millis(created))
    owner = owner_token(user_id)
    # Ids in time order (UUIDv7 from each message's own time), so listings stay chronological.
    ids: dict[str, uuid.UUID] = {}
    sequence = Sequence()
    position = {node.key: i for i, node in enumerate(item.kept)}
    for node in sorted(item.kept, key=lambda n: (n.created_at or created, position[n.key])):
        ids[node.key] = sequence.next(node.created_at or created)
    rows = Rows(item.source, item.source_id, conversation={})
    last = None
    # Each message's place in the tree as `messages.service` gives it: a first reply continues
    # its parent's segment, a later one (a fork) and a root start their own.
    placed: dict[str, tuple[uuid.UUID, int]] = {}
    continued: set[str] = set()
    for node in item.kept:  # parents first
        parts = _parts(node.parts, files, node.key)
        content = flatten(parts)
        if len(content) > MAX_CONTENT:
            raise ItemInvalid("invalid_message", f"Message {node.key!r} is over the text limit")
        message_id = ids[node.key]
        when = node.created_at or created
        last = when if last is None or when > last else last
        status = node.status if node.status in _STATUS_VALUES else "complete"
        if node.parent is None:
            placed[node.key] = (message_id, 0)
        else:
            segment, depth = placed[node.parent]
            if node.parent in continued:
                segment = message_id
            continued.add(node.parent)
            placed[node.key] = (segment, depth + 1)
        rows.messages.append(
            {
                "id": message_id,
                "conversation_id": conversation_id,
                "user_id": user_id,
                "parent_id": ids[node.parent] if node.parent else None,
                "segment_id": placed[node.key][0],
                "depth": placed[node.key][1],
                "role": node.role,
                "parts": [p.model_dump(mode="json", exclude_none=True) for p in parts],
                "content": content,
                "meta": _metadata(node.meta, node.key),
                "status": status,
                "edit_count": node.edit_count,
                "created_at": when,
                "updated_at": node.updated_at or when,
            }
        )
        rows.docs.append(
            _doc(user_id, owner, conversation_id, message_id, node.role, when, plain_text(content))
        )
        for edit in node.edits:
            old = _parts(edit.get("parts") or [], files, node.key)
            rows.edits.append(
                {
                    "message_id": message_id,
                    "user_id": user_id,
                    "parts": [p.model_dump(mode="json", exclude_none=True) for p in old],
                    "content": flatten(old),
                    "meta": edit.get("metadata") or {},
                    "edited_at": edit.get("edited_at") or when,
                }
            )
        if node.feedback:
            rows.feedback.append(
                {
                    "message_id": message_id,
                    "user_id": user_id,
                    "rating": node.feedback["rating"],
                    "comment": node.feedback.get("comment"),
                    "created_at": node.feedback.get("created_at") or when,
                    "updated_at": node.feedback.get("updated_at") or when,
                }
            )
        if wanted is not None and node.key in wanted:
            rows.message_ids[node.key] = message_id
    activity = max(filter(None, [item.updated_at, last, created]))
    rows.conversation = {
        "id": conversation_id,
        "user_id": user_id,
        **fields,
        "message_count": len(item.kept),
        "last_message_at": last,
        "last_activity_at": activity,
        "current_leaf_id": ids.get(item.current_leaf) if item.current_leaf else None,
        "created_at": created,
        "updated_at": item.updated_at or activity,
    }
    rows.docs.append(
        _doc(user_id, owner, conversation_id, None, None, created, fields["title"] or "")
    )
    rows.tags = [
        {"conversation_id": conversation_id, "tag": t, "user_id": user_id} for t in fields["tags"]
    ]
    for run in item.tool_runs:
        rows.tool_runs.append(
            {
                **{k: v for k, v in run.items() if k not in ("id", "message_id")},
                "id": uuid7_at(millis(run["created_at"])),
                "conversation_id": conversation_id,
                "user_id": user_id,
                "message_id": ids.get(run.get("message_id") or ""),
                "updated_at": run.get("updated_at") or run["created_at"],
            }
        )
    for log in item.logs:
        rows.logs.append(
            {
                **{k: v for k, v in log.items() if k != "id"},
                "id": uuid7_at(millis(log["created_at"])),
                "conversation_id": conversation_id,
                "user_id": user_id,
            }
        )
    return rows


_STATUS_VALUES = {"pending", "streaming", "complete", "incomplete", "error", "cancelled"}


def _doc(
    user_id: uuid.UUID,
    owner: str,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID | None,
    role: str | None,
    when: Any,
    body: str,
) -> dict[str, Any]:
    """A search document, as `search.index.message_doc` / `title_doc` build it."""
    return {
        "ref_id": message_id or conversation_id,
        "kind": "message" if message_id else "title",
        "user_id": user_id,
        "owner": owner,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "role": role,
        "created_at": when,
        "body": body,
    }


async def already_imported(
    db: AsyncSession, user_id: uuid.UUID, source: str, source_ids: list[str]
) -> dict[str, uuid.UUID]:
    """Which of ``source_ids`` this user imported before (source id -> our conversation)."""
    found: dict[str, uuid.UUID] = {}
    for start in range(0, len(source_ids), 500):
        stmt = select(ImportedConversation.source_id, ImportedConversation.conversation_id).where(
            ImportedConversation.user_id == user_id,
            ImportedConversation.source == source,
            ImportedConversation.source_id.in_(source_ids[start : start + 500]),
        )
        found.update({row[0]: row[1] for row in await db.execute(stmt)})
    return found


async def write(db: AsyncSession, batch: list[Rows]) -> None:
    """Insert a batch: one multi-row INSERT per table, in foreign-key order."""
    if not batch:
        return
    now = utcnow()
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (Conversation, [r.conversation for r in batch]),
        (Message, [m for r in batch for m in r.messages]),
        (SearchDoc, [d for r in batch for d in r.docs]),
        (ConversationTag, [t for r in batch for t in r.tags]),
        (MessageEdit, [e for r in batch for e in r.edits]),
        (Feedback, [f for r in batch for f in r.feedback]),
        (ToolRun, [t for r in batch for t in r.tool_runs]),
        (AgentLog, [log for r in batch for log in r.logs]),
        (
            ImportedConversation,
            [
                {
                    "user_id": r.conversation["user_id"],
                    "source": r.source,
                    "source_id": r.source_id,
                    "conversation_id": r.conversation["id"],
                    "imported_at": now,
                }
                for r in batch
            ],
        ),
    ]
    for model, values in tables:
        # Chunks keep each statement under the engines' bound-parameter limits.
        for start in range(0, len(values), 1000):
            await db.execute(insert(model), values[start : start + 1000])
    await vocabulary.add(db, (d["body"] for r in batch for d in r.docs))
