"""Search over the caller's titles and messages: parse, query, shape hits with safe snippets."""

from __future__ import annotations

import html
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.search import repository
from convobase.search.query import parse
from convobase.search.schemas import SearchHit


def highlight(snippet: str) -> str:
    """Escape the user's text for HTML, then turn the engine's markers into <mark>."""
    escaped = html.escape(snippet, quote=True)
    return escaped.replace(repository.START, "<mark>").replace(repository.STOP, "</mark>")


async def search(
    db: AsyncSession,
    user_id: uuid.UUID,
    q: str,
    where: repository.SearchFilter,
    *,
    limit: int,
    after: tuple[float, int] | None,
) -> list[tuple[SearchHit, tuple[float, int]]]:
    query = parse(q)
    rows = await repository.search(db, user_id, query, where, limit=limit, after=after)
    return [
        (
            SearchHit(
                kind=r.kind,
                conversation_id=r.conversation_id,
                conversation_title=r.title,
                message_id=r.message_id,
                role=r.role,
                snippet=highlight(r.snippet),
                rank=-r.score,
                created_at=r.created_at,
            ),
            (r.score, r.doc_id),
        )
        for r in rows
    ]
