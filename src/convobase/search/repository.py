"""Full-text queries: FTS5 on SQLite, tsvector + GIN on PostgreSQL.

Both return rows ordered best first with a numeric ``score`` (lower is better) and a snippet
whose matches are wrapped in \\x02 ... \\x03 (escaped into HTML by the service).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, TextClause, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.tenancy import shared_with
from convobase.models import Conversation
from convobase.search.index import owner_token
from convobase.search.query import (
    Query,
    Term,
    fts5_exact,
    fts5_scope,
    to_fts5,
    to_tsquery,
    tsquery_exact,
)

START, STOP = "\x02", "\x03"
# ts_headline's options for every PostgreSQL snippet (message and conversation search alike).
PG_HEADLINE = (
    f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=8, "
    "MaxFragments=2, FragmentDelimiter=…"
)


async def shared_conversations(
    db: AsyncSession, user_id: uuid.UUID, now: datetime
) -> dict[uuid.UUID, uuid.UUID]:
    """The conversations shared with ``user_id`` (the tenancy helper's live user shares), each
    with its owner: the search index is keyed by owner, so a search names them."""
    dialect = db.get_bind().dialect.name
    shared = shared_with(select(Conversation), user_id, now, dialect=dialect)
    stmt = shared.with_only_columns(Conversation.id, Conversation.user_id)
    return {conversation_id: owner for conversation_id, owner in await db.execute(stmt)}


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose documents a search reads: the caller's, and the conversations shared with them
    (`shared_conversations`: conversation id -> owner)."""

    user_id: uuid.UUID
    shared: dict[uuid.UUID, uuid.UUID]

    @property
    def owner_tokens(self) -> tuple[str, ...]:
        mine = owner_token(self.user_id)
        return (mine, *sorted({owner_token(o) for o in self.shared.values()} - {mine}))

    def sql(self, params: dict[str, Any], uuid_bind: Callable[[uuid.UUID], Any]) -> str:
        """The SQL condition on ``search_docs d``; shared conversations only by their ids, so
        the rest of a sharer's history never shows."""
        params["user_id"] = uuid_bind(self.user_id)
        if not self.shared:
            return "d.user_id = :user_id"
        params["shared"] = [uuid_bind(c) for c in self.shared]
        return "(d.user_id = :user_id OR d.conversation_id IN :shared)"


def pg_rank(params: dict[str, Any], name: str, terms: tuple[Term, ...], tsquery: str) -> str:
    """Rank of ``search_docs d`` for ``tsquery`` (SQL), plus the rank of the exact words of its
    prefix terms: an exact match scores above a longer word with the same prefix."""
    vector = "to_tsvector('simple', d.body)"
    rank = f"ts_rank_cd({vector}, {tsquery})"
    exact = tsquery_exact(terms)
    if exact is None:
        return rank
    params[name] = exact
    return f"({rank} + ts_rank_cd({vector}, to_tsquery('simple', :{name})))"


# Lower is better: a document holding a prefix term's word exactly ranks above every document
# that only holds longer words (bm25 alone would favour the rarer, longer word).
SQLITE_EXACT_BONUS = 1000.0


def sqlite_exact_bonus(
    params: dict[str, Any], name: str, terms: tuple[Term, ...], owners: tuple[str, ...]
) -> str:
    """SQL added to the bm25 score of ``search_docs d`` (``""`` when no term needs it): minus
    the bonus per prefix term read through its completions whose own words ``d`` holds. Each
    set is an owner-scoped exact match: one posting list, intersected with the owner's."""
    bonus = ""
    for i, term in enumerate(t for t in terms if t.prefix and t.completions and not t.negated):
        params[f"{name}_x{i}"] = fts5_scope(owners) + " AND " + fts5_exact(term)
        bonus += (
            f" - (CASE WHEN d.id IN (SELECT rowid FROM search_fts"
            f" WHERE search_fts MATCH :{name}_x{i}) THEN {SQLITE_EXACT_BONUS} ELSE 0 END)"
        )
    return bonus


def statement(sql: str, params: dict[str, Any]) -> TextClause:
    """``sql`` with every list parameter bound as an expanding ``IN`` list."""
    lists: list[BindParameter[Any]] = [
        bindparam(name, expanding=True) for name, value in params.items() if isinstance(value, list)
    ]
    return text(sql).bindparams(*lists)


def is_sqlite(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "sqlite"


def sqlite_uuid(value: uuid.UUID) -> str:
    return value.hex


def sqlite_uuid_or_none(value: Any) -> uuid.UUID | None:
    return uuid.UUID(hex=value) if value else None


def same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class SearchFilter:
    conversation_id: uuid.UUID | None = None
    role: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Row:
    doc_id: int
    kind: str
    conversation_id: uuid.UUID
    message_id: uuid.UUID | None
    role: str | None
    created_at: datetime
    score: float
    snippet: str
    title: str | None


def _filters(
    where: SearchFilter,
    params: dict[str, Any],
    uuid_bind: Callable[[uuid.UUID], Any],
    time_bind: Callable[[datetime], Any],
) -> str:
    clauses = []
    if where.conversation_id is not None:
        clauses.append("d.conversation_id = :conversation_id")
        params["conversation_id"] = uuid_bind(where.conversation_id)
    if where.role is not None:
        clauses.append("d.role = :role")
        params["role"] = where.role
    if where.start is not None:
        clauses.append("d.created_at >= :start")
        params["start"] = time_bind(where.start)
    if where.end is not None:
        clauses.append("d.created_at < :end")
        params["end"] = time_bind(where.end)
    return "".join(f" AND {c}" for c in clauses)


async def search(
    db: AsyncSession,
    scope: Scope,
    query: Query,
    where: SearchFilter,
    *,
    limit: int,
    after: tuple[float, int] | None,
) -> list[Row]:
    if is_sqlite(db):
        return await _sqlite(db, scope, query, where, limit=limit, after=after)
    return await _postgres(db, scope, query, where, limit=limit, after=after)


def _keyset(after: tuple[float, int] | None, params: dict[str, Any]) -> str:
    """Rows after (score, doc_id), the sort key of the last hit served."""
    if after is None:
        return ""
    params.update(after_score=after[0], after_id=after[1])
    return " AND (score > :after_score OR (score = :after_score AND doc_id > :after_id))"


def _sqlite_time(value: datetime | None) -> str | None:
    """The text form SQLAlchemy stores SQLite timestamps in (UTC, naive)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if value else None


async def _sqlite(
    db: AsyncSession,
    scope: Scope,
    query: Query,
    where: SearchFilter,
    *,
    limit: int,
    after: tuple[float, int] | None,
) -> list[Row]:
    params: dict[str, Any] = {
        "match": to_fts5(query, scope.owner_tokens),
        "limit": limit,
        "start_mark": START,
        "stop_mark": STOP,
    }
    extra = _filters(where, params, sqlite_uuid, _sqlite_time)
    owned = scope.sql(params, sqlite_uuid)
    keyset = _keyset(after, params)
    bonus = sqlite_exact_bonus(params, "match", query.positive, scope.owner_tokens)
    # Only constant fragments are formatted in; every value is a bound parameter.
    sql = f"""
        SELECT * FROM (
            SELECT d.id AS doc_id, d.kind, d.conversation_id, d.message_id, d.role,
                   d.created_at, bm25(search_fts, 1.0, 0.0){bonus} AS score,
                   snippet(search_fts, 0, :start_mark, :stop_mark, '…', 16) AS snippet,
                   c.title AS title
            FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid
            JOIN conversations c ON c.id = d.conversation_id
            WHERE search_fts MATCH :match AND {owned}{extra}
        ) WHERE 1 = 1{keyset}
        ORDER BY score, doc_id LIMIT :limit"""
    result = await db.execute(statement(sql, params), params)
    return [row_of(r, sqlite_uuid_or_none) for r in result.mappings()]


async def _postgres(
    db: AsyncSession,
    scope: Scope,
    query: Query,
    where: SearchFilter,
    *,
    limit: int,
    after: tuple[float, int] | None,
) -> list[Row]:
    params: dict[str, Any] = {
        "tsq": to_tsquery(query),
        "limit": limit,
        "headline": PG_HEADLINE,
    }
    extra = _filters(where, params, same, same)
    owned = scope.sql(params, same)
    rank = pg_rank(params, "exact", query.positive, "q.query")
    keyset = _keyset(after, params)
    # Score is the negated rank (lower is better on both engines). The headline is computed
    # for the page only.
    sql = f"""
        WITH q AS (SELECT to_tsquery('simple', :tsq) AS query),
        hits AS (
            SELECT d.id AS doc_id, d.kind, d.conversation_id, d.message_id, d.role,
                   d.created_at, d.body,
                   -{rank}::float8 AS score
            FROM search_docs d, q
            WHERE {owned} AND to_tsvector('simple', d.body) @@ q.query{extra}
        ),
        page AS (SELECT * FROM hits WHERE true{keyset} ORDER BY score, doc_id LIMIT :limit)
        SELECT page.doc_id, page.kind, page.conversation_id, page.message_id, page.role,
               page.created_at, page.score,
               ts_headline('simple', page.body, q.query, :headline) AS snippet,
               c.title AS title
        FROM page, q, conversations c WHERE c.id = page.conversation_id
        ORDER BY page.score, page.doc_id"""
    result = await db.execute(statement(sql, params), params)
    return [row_of(r, same) for r in result.mappings()]


def row_of(r: Any, as_uuid: Callable[[Any], uuid.UUID | None]) -> Row:
    created = r["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Row(
        doc_id=int(r["doc_id"]),
        kind=r["kind"],
        conversation_id=as_uuid(r["conversation_id"]) or uuid.UUID(int=0),
        message_id=as_uuid(r["message_id"]),
        role=r["role"],
        created_at=created,
        score=float(r["score"]),
        snippet=r["snippet"] or "",
        title=r.get("title"),
    )
