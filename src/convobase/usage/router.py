from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from starlette.responses import StreamingResponse

from convobase.auth.dependencies import AdminPrincipal, CurrentPrincipal, RuntimeDep
from convobase.db.pagination import PageCursor, PageLimit, id_from_cursor, page_of
from convobase.db.session import DbSession
from convobase.quotas import service as quotas
from convobase.timestamps import TimeFilter
from convobase.usage import repository, service
from convobase.usage.schemas import (
    ModelPriceIn,
    ModelPriceOut,
    Summary,
    UsageEventIn,
    UsageEventOut,
    UsageEventPage,
)

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])
admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

Start = Annotated[
    TimeFilter | None,
    Query(
        description=f"Default: the start of the last {service.DEFAULT_WINDOW_DAYS} UTC days "
        "ending with end's day (end's day included). Whole UTC days are counted."
    ),
]
End = Annotated[TimeFilter | None, Query(description="Default: now (its UTC day included).")]
Provider = Annotated[str | None, Query(max_length=100)]
ModelName = Annotated[str | None, Query(max_length=200)]
StatusFilter = Annotated[str | None, Query(max_length=32)]
_EXPORT_BATCH = 1000
_CSV_COLUMNS = [
    "id",
    "occurred_at",
    "endpoint",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "latency_ms",
    "status",
    "cost_usd",
    "price_source",
    "conversation_id",
    "message_id",
]


@router.post("/events", status_code=status.HTTP_201_CREATED, response_model=UsageEventOut)
async def record_event(
    data: UsageEventIn, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> UsageEventOut:
    event = await service.record(db, principal.user, data)
    quotas.count_after_commit(db, runtime, event)
    return UsageEventOut.model_validate(event)


def event_filter(
    runtime: RuntimeDep,
    start: Start = None,
    end: End = None,
    provider: Provider = None,
    model: ModelName = None,
    status: StatusFilter = None,
    conversation_id: uuid.UUID | None = None,
) -> repository.EventFilter:
    span = service.window(runtime.settings, start, end)
    return repository.EventFilter(
        start=span.start_at,
        end=span.end_at,
        provider=provider,
        model=model,
        status=status,
        conversation_id=conversation_id,
    )


EventFilterDep = Annotated[repository.EventFilter, Depends(event_filter)]


@router.get("/events", response_model=UsageEventPage)
async def list_events(
    where: EventFilterDep,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> UsageEventPage:
    before = id_from_cursor(runtime.secret, cursor)
    rows = await repository.list_events(
        db, principal.user.id, where, before=before, limit=limit + 1
    )
    rows, next_cursor = page_of(rows, limit, runtime.secret, lambda e: (e.id,))
    return UsageEventPage(
        data=[UsageEventOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/events/export",
    response_class=StreamingResponse,
    summary="The caller's events in the range as CSV (newest first)",
)
async def export_events(
    where: EventFilterDep, principal: CurrentPrincipal, runtime: RuntimeDep
) -> StreamingResponse:
    user_id = principal.user.id

    async def rows() -> AsyncIterator[str]:
        yield _csv_line(_CSV_COLUMNS)
        before: uuid.UUID | None = None
        while True:
            # Each batch in its own short read: the response may stream for a while.
            async with runtime.database.session(write=False) as db:
                batch = await repository.list_events(
                    db, user_id, where, before=before, limit=_EXPORT_BATCH
                )
            for event in batch:
                yield _csv_line([_cell(getattr(event, column)) for column in _CSV_COLUMNS])
            if len(batch) < _EXPORT_BATCH:
                return
            before = batch[-1].id

    last_day = (where.end - timedelta(days=1)).date()
    filename = f"usage-{where.start.date()}-{last_day}.csv"
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A cell starting with = + - @ is a formula to spreadsheets: neutralise it (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


@router.get("/summary", response_model=Summary)
async def my_summary(
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    start: Start = None,
    end: End = None,
) -> Summary:
    return await service.summary(
        db, principal.user.id, service.window(runtime.settings, start, end)
    )


@admin_router.get("/usage/summary", response_model=Summary)
async def system_summary(
    _: AdminPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    start: Start = None,
    end: End = None,
    top: Annotated[int, Query(ge=0, le=100)] = 10,
) -> Summary:
    span = service.window(runtime.settings, start, end)
    return await service.summary(db, None, span, top=top)


ModelPath = Annotated[str, Path(min_length=1, max_length=200)]


@admin_router.get("/model-prices", response_model=list[ModelPriceOut])
async def list_model_prices(_: AdminPrincipal, db: DbSession) -> list[ModelPriceOut]:
    return [ModelPriceOut.model_validate(row) for row in await service.list_prices(db)]


@admin_router.put("/model-prices/{model:path}", response_model=ModelPriceOut)
async def set_model_price(
    model: ModelPath, data: ModelPriceIn, _: AdminPrincipal, db: DbSession
) -> ModelPriceOut:
    return ModelPriceOut.model_validate(await service.set_price(db, model, data))


@admin_router.delete("/model-prices/{model:path}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_model_price(model: ModelPath, _: AdminPrincipal, db: DbSession) -> None:
    await service.delete_price(db, model)
