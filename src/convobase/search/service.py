"""Search over the caller's titles and messages, and the conversations shared with them:
parse, query, shape hits with safe snippets; by message, or grouped by conversation."""

from __future__ import annotations

import html
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.base import utcnow
from convobase.search import conversation_repository, repository, vocabulary
from convobase.search.query import parse
from convobase.search.schemas import ConversationSearchHit, SearchHit


def highlight(snippet: str) -> str:
    """Escape the user's text for HTML, then turn the engine's markers into <mark>."""
    escaped = html.escape(snippet, quote=True)
    return escaped.replace(repository.START, "<mark>").replace(repository.STOP, "</mark>")


async def _scope(db: AsyncSession, user_id: uuid.UUID) -> repository.Scope:
    return repository.Scope(user_id, await repository.shared_conversations(db, user_id, utcnow()))


def _hit(row: repository.Row, title: str | None) -> SearchHit:
    return SearchHit(
        kind=row.kind,
        conversation_id=row.conversation_id,
        conversation_title=title,
        message_id=row.message_id,
        role=row.role,
        snippet=highlight(row.snippet),
        rank=-row.score,
        created_at=row.created_at,
    )


async def search(
    db: AsyncSession,
    user_id: uuid.UUID,
    q: str,
    where: repository.SearchFilter,
    *,
    limit: int,
    after: tuple[float, int] | None,
) -> list[tuple[SearchHit, tuple[float, int]]]:
    query = await vocabulary.expand(db, parse(q))
    scope = await _scope(db, user_id)
    rows = await repository.search(db, scope, query, where, limit=limit, after=after)
    return [(_hit(r, r.title), (r.score, r.doc_id)) for r in rows]


async def search_conversations(
    db: AsyncSession,
    user_id: uuid.UUID,
    q: str,
    *,
    limit: int,
    after: tuple[float, uuid.UUID] | None,
) -> list[tuple[ConversationSearchHit, tuple[float, uuid.UUID]]]:
    """Conversations holding every word of ``q`` (in any of their messages or the title),
    best first, each with its best-matching message snippets."""
    query = await vocabulary.expand(db, parse(q))
    scope = await _scope(db, user_id)
    found = await conversation_repository.conversations(db, scope, query, limit=limit, after=after)
    docs = await conversation_repository.snippets(
        db, scope, query, [c.conversation_id for c in found]
    )
    titles: dict[uuid.UUID, str] = {}
    messages: dict[uuid.UUID, list[repository.Row]] = {}
    for doc in docs:  # best first
        if doc.kind == "title":
            titles[doc.conversation_id] = highlight(doc.snippet)
        else:
            messages.setdefault(doc.conversation_id, []).append(doc)
    return [
        (
            ConversationSearchHit(
                conversation_id=c.conversation_id,
                title=c.title,
                title_snippet=titles.get(c.conversation_id),
                shared=c.owner_id != user_id,
                rank=-c.score,
                last_message_at=c.last_message_at,
                messages=[_hit(m, c.title) for m in messages.get(c.conversation_id, [])],
            ),
            (c.score, c.conversation_id),
        )
        for c in found
    ]
