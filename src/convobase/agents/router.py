"""HTTP layer for tool runs and agent logs of a conversation."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from convobase.agents import service
from convobase.agents.schemas import (
    AgentLogCreate,
    AgentLogOut,
    AgentLogPage,
    LogFilter,
    ToolRunCreate,
    ToolRunOut,
    ToolRunPage,
    ToolRunUpdate,
    ToolStatus,
)
from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.db.pagination import PageCursor, PageLimit, id_from_cursor, page_of
from convobase.db.session import DbSession

router = APIRouter(prefix="/api/v1/conversations/{conversation_id}", tags=["agents"])


@router.post("/tool-runs", status_code=status.HTTP_201_CREATED, response_model=ToolRunOut)
async def create_tool_run(
    conversation_id: uuid.UUID, data: ToolRunCreate, principal: CurrentPrincipal, db: DbSession
) -> ToolRunOut:
    return ToolRunOut.model_validate(
        await service.create_tool_run(db, principal.user, conversation_id, data)
    )


@router.get("/tool-runs", response_model=ToolRunPage)
async def list_tool_runs(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    status: ToolStatus | None = None,
) -> ToolRunPage:
    rows = await service.list_tool_runs(
        db,
        principal.user,
        conversation_id,
        limit=limit + 1,
        after=id_from_cursor(runtime.secret, cursor),
        status=status,
    )
    rows, next_cursor = page_of(rows, limit, runtime.secret, lambda r: (r.id,))
    return ToolRunPage(data=[ToolRunOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/tool-runs/{run_id}", response_model=ToolRunOut)
async def get_tool_run(
    conversation_id: uuid.UUID, run_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> ToolRunOut:
    return ToolRunOut.model_validate(
        await service.get_tool_run(db, principal.user, conversation_id, run_id)
    )


@router.patch("/tool-runs/{run_id}", response_model=ToolRunOut)
async def update_tool_run(
    conversation_id: uuid.UUID,
    run_id: uuid.UUID,
    data: ToolRunUpdate,
    principal: CurrentPrincipal,
    db: DbSession,
) -> ToolRunOut:
    return ToolRunOut.model_validate(
        await service.update_tool_run(db, principal.user, conversation_id, run_id, data)
    )


@router.post("/logs", status_code=status.HTTP_201_CREATED, response_model=AgentLogOut)
async def add_log(
    conversation_id: uuid.UUID, data: AgentLogCreate, principal: CurrentPrincipal, db: DbSession
) -> AgentLogOut:
    return AgentLogOut.model_validate(
        await service.add_log(db, principal.user, conversation_id, data)
    )


@router.get("/logs", response_model=AgentLogPage)
async def list_logs(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    where: Annotated[LogFilter, Depends()],
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> AgentLogPage:
    rows = await service.list_logs(
        db,
        principal.user,
        conversation_id,
        limit=limit + 1,
        after=id_from_cursor(runtime.secret, cursor),
        where=where,
    )
    rows, next_cursor = page_of(rows, limit, runtime.secret, lambda r: (r.id,))
    return AgentLogPage(data=[AgentLogOut.model_validate(r) for r in rows], next_cursor=next_cursor)
