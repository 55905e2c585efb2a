from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.db.pagination import cursor_float, decode_cursor, encode_cursor
from convobase.db.session import DbSession
from convobase.messages.schemas import Role
from convobase.search import service
from convobase.search.query import MAX_QUERY_LENGTH
from convobase.search.repository import SearchFilter
from convobase.search.schemas import SearchPage
from convobase.timestamps import TimeFilter

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("", response_model=SearchPage)
async def search(
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_LENGTH,
            description='Words, "phrases", -exclusions, prefix*',
        ),
    ],
    conversation_id: uuid.UUID | None = None,
    role: Role | None = None,
    start: TimeFilter | None = None,
    end: TimeFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SearchPage:
    after = None
    if cursor:
        score, doc_id = decode_cursor(runtime.secret, cursor, 2)
        after = (cursor_float(score), int(cursor_float(doc_id)))
    hits = await service.search(
        db,
        principal.user.id,
        q,
        SearchFilter(conversation_id, role, start, end),
        limit=limit + 1,
        after=after,
    )
    next_cursor = encode_cursor(runtime.secret, *hits[limit - 1][1]) if len(hits) > limit else None
    return SearchPage(data=[hit for hit, _ in hits[:limit]], next_cursor=next_cursor)
