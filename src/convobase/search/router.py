from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.db.pagination import cursor_float, cursor_uuid, decode_cursor, encode_cursor
from convobase.db.session import DbSession
from convobase.messages.schemas import Role
from convobase.search import service
from convobase.search.query import MAX_QUERY_LENGTH
from convobase.search.repository import SearchFilter
from convobase.search.schemas import ConversationSearchPage, SearchPage
from convobase.timestamps import TimeFilter

router = APIRouter(prefix="/api/v1/search", tags=["search"])

QUERY_HELP = (
    'Words, "phrases", -exclusions, prefix*. The last word also matches as a prefix '
    "(search as you type: `lisb` finds Lisbon) unless the query ends in a space or punctuation."
)
SearchText = Annotated[
    str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description=QUERY_HELP)
]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("", response_model=SearchPage)
async def search(
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    q: SearchText,
    conversation_id: uuid.UUID | None = None,
    role: Role | None = None,
    start: TimeFilter | None = None,
    end: TimeFilter | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> SearchPage:
    """Messages and titles holding every word, best first (your conversations and those
    shared with you)."""
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


@router.get("/conversations", response_model=ConversationSearchPage)
async def search_conversations(
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    q: SearchText,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ConversationSearchPage:
    """Conversations holding every word somewhere (any message or the title), best first,
    each with its best-matching message snippets."""
    after = None
    if cursor:
        score, conversation_id = decode_cursor(runtime.secret, cursor, 2)
        after = (cursor_float(score), cursor_uuid(conversation_id))
    hits = await service.search_conversations(
        db, principal.user.id, q, limit=limit + 1, after=after
    )
    next_cursor = encode_cursor(runtime.secret, *hits[limit - 1][1]) if len(hits) > limit else None
    return ConversationSearchPage(data=[hit for hit, _ in hits[:limit]], next_cursor=next_cursor)
