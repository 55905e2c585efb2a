"""Rules on tool runs (a lifecycle that only moves forward) and agent logs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.agents.schemas import (
    TERMINAL,
    AgentLogCreate,
    LogFilter,
    ToolRunCreate,
    ToolRunUpdate,
)
from convobase.conversations import repository as conversations
from convobase.db.base import utcnow
from convobase.db.tenancy import owned_by
from convobase.errors import Conflict, NotFound, ValidationFailed
from convobase.messages import repository as messages
from convobase.models import AgentLog, ToolRun, User

# Allowed moves; a finished run is final.
_NEXT: dict[str, set[str]] = {
    "pending": {"pending", "running", "completed", "failed", "cancelled"},
    "running": {"running", "completed", "failed", "cancelled"},
}


async def create_tool_run(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, data: ToolRunCreate
) -> ToolRun:
    conversation = await conversations.get(db, user.id, conversation_id)
    if data.message_id is not None and not await messages.exists_in(
        db, conversation.id, data.message_id
    ):
        raise ValidationFailed(
            "message_id is not a message of this conversation", code="invalid_message"
        )
    now = utcnow()
    run = ToolRun(
        conversation_id=conversation.id,
        user_id=user.id,
        message_id=data.message_id,
        name=data.name,
        input=data.input,
        status=data.status,
        created_at=now,
        updated_at=now,
        started_at=now if data.status == "running" else None,
        finished_at=now if data.status in TERMINAL else None,
    )
    db.add(run)
    await db.flush()
    return run


async def get_tool_run(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, run_id: uuid.UUID
) -> ToolRun:
    stmt = owned_by(select(ToolRun), ToolRun, user.id).where(
        ToolRun.id == run_id, ToolRun.conversation_id == conversation_id
    )
    run = (await db.execute(stmt)).scalar_one_or_none()
    if run is None:
        raise NotFound("Tool run not found")
    return run


async def update_tool_run(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, run_id: uuid.UUID, data: ToolRunUpdate
) -> ToolRun:
    run = await get_tool_run(db, user, conversation_id, run_id)
    fields = data.model_fields_set
    if data.status is not None and data.status != run.status:
        if data.status not in _NEXT.get(run.status, set()):
            raise Conflict(
                f"A {run.status} tool run cannot become {data.status}", code="invalid_transition"
            )
        now = utcnow()
        if data.status == "running":
            run.started_at = now
        if data.status in TERMINAL:
            run.finished_at = now
            if run.duration_ms is None and "duration_ms" not in fields:
                run.duration_ms = int(
                    (now - (run.started_at or run.created_at)).total_seconds() * 1000
                )
        run.status = data.status
    elif run.status in TERMINAL and fields - {"status"}:
        raise Conflict(f"A {run.status} tool run is final", code="invalid_transition")
    values: dict[str, Any] = {
        k: getattr(data, k) for k in ("output", "error", "duration_ms", "tokens") if k in fields
    }
    for key, value in values.items():
        setattr(run, key, value)
    run.updated_at = utcnow()
    await db.flush()
    return run


async def list_tool_runs(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    status: str | None,
) -> list[ToolRun]:
    conversation = await conversations.get(db, user.id, conversation_id)
    stmt = owned_by(select(ToolRun), ToolRun, user.id).where(
        ToolRun.conversation_id == conversation.id
    )
    if status is not None:
        stmt = stmt.where(ToolRun.status == status)
    if after is not None:
        stmt = stmt.where(ToolRun.id > after)
    return list((await db.execute(stmt.order_by(ToolRun.id).limit(limit))).scalars())


async def add_log(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, data: AgentLogCreate
) -> AgentLog:
    conversation = await conversations.get(db, user.id, conversation_id)
    row = AgentLog(
        conversation_id=conversation.id,
        user_id=user.id,
        level=data.level,
        type=data.type,
        message=data.message,
        details=data.details,
    )
    db.add(row)
    await db.flush()
    return row


async def list_logs(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    where: LogFilter,
) -> list[AgentLog]:
    conversation = await conversations.get(db, user.id, conversation_id)
    stmt = owned_by(select(AgentLog), AgentLog, user.id).where(
        AgentLog.conversation_id == conversation.id
    )
    if where.level is not None:
        stmt = stmt.where(AgentLog.level == where.level)
    if where.type is not None:
        stmt = stmt.where(AgentLog.type == where.type)
    if where.since is not None:
        stmt = stmt.where(AgentLog.created_at >= where.since)
    if after is not None:
        stmt = stmt.where(AgentLog.id > after)
    return list((await db.execute(stmt.order_by(AgentLog.id).limit(limit))).scalars())
