"""Conversation-level search: every positive term somewhere in a conversation (any of its
messages or its title), found through the index, then the best snippets of a page.

Each positive term is its own indexed query, reduced to (conversation, best score); the
conversations found by every term are the join of those sets on conversation_id. Nothing is
written for it: the per-message documents already hold every word, so an append stays O(1).

Score (lower is better, as in `repository`): the sum of each term's best document score, plus
the best score of a single message holding all the terms when there is one, so conversations
whose words meet in one message rank first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.search.query import (
    Query,
    Term,
    fts5_any,
    fts5_scope,
    fts5_terms,
    to_tsquery,
    tsquery_any,
    tsquery_of,
)
from convobase.search.repository import (
    PG_HEADLINE,
    START,
    STOP,
    Row,
    Scope,
    is_sqlite,
    pg_rank,
    row_of,
    same,
    sqlite_exact_bonus,
    sqlite_uuid,
    sqlite_uuid_or_none,
    statement,
)

SNIPPETS_PER_CONVERSATION = 3


@dataclass(frozen=True, slots=True)
class ConversationRow:
    conversation_id: uuid.UUID
    owner_id: uuid.UUID
    title: str | None
    last_message_at: datetime | None
    score: float


class _Dialect:
    """How one engine matches documents; every value is a bound parameter."""

    uuid_bind: Callable[[uuid.UUID], Any]
    as_uuid: Callable[[Any], uuid.UUID | None]

    def __init__(self, scope: Scope, params: dict[str, Any]) -> None:
        self.scope = scope
        self.params = params

    def scored(self, param: str, expression: str, terms: tuple[Term, ...] = ()) -> str:
        """SELECT cid, s: each matching document's conversation and score (``terms``: those of
        ``expression`` whose exact matches earn a bonus where the engine needs one)."""
        raise NotImplementedError

    def materialized(self) -> str:
        return ""


class _Sqlite(_Dialect):
    uuid_bind = staticmethod(sqlite_uuid)
    as_uuid = staticmethod(sqlite_uuid_or_none)

    def scored(self, param: str, expression: str, terms: tuple[Term, ...] = ()) -> str:
        self.params[param] = fts5_scope(self.scope.owner_tokens) + " AND " + expression
        owned = self.scope.sql(self.params, self.uuid_bind)
        bonus = sqlite_exact_bonus(self.params, param, terms, self.scope.owner_tokens)
        return f"""SELECT d.conversation_id AS cid, bm25(search_fts, 1.0, 0.0){bonus} AS s
            FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid
            WHERE search_fts MATCH :{param} AND {owned}"""

    def materialized(self) -> str:
        # FTS5's bm25() is only valid in the full-text query itself: the CTE must not be
        # flattened into the GROUP BY that reads it.
        return "MATERIALIZED "


class _Postgres(_Dialect):
    uuid_bind = staticmethod(same)
    as_uuid = staticmethod(same)

    def scored(self, param: str, expression: str, terms: tuple[Term, ...] = ()) -> str:
        self.params[param] = expression
        owned = self.scope.sql(self.params, self.uuid_bind)
        query = f"to_tsquery('simple', :{param})"
        rank = pg_rank(self.params, f"{param}_exact", terms, query)
        return f"""SELECT d.conversation_id AS cid, -{rank}::float8 AS s
            FROM search_docs d
            WHERE {owned} AND to_tsvector('simple', d.body) @@ {query}"""


def _dialect(db: AsyncSession, scope: Scope, params: dict[str, Any]) -> _Dialect:
    return _Sqlite(scope, params) if is_sqlite(db) else _Postgres(scope, params)


def _term(sqlite: bool, term: Term) -> str:
    single = Query((replace(term, negated=False),))
    return fts5_terms(single) if sqlite else tsquery_of(term)


async def conversations(
    db: AsyncSession,
    scope: Scope,
    query: Query,
    *,
    limit: int,
    after: tuple[float, uuid.UUID] | None,
) -> list[ConversationRow]:
    """A page of the conversations holding every positive term and no negative one."""
    params: dict[str, Any] = {"limit": limit}
    dialect = _dialect(db, scope, params)
    sqlite = isinstance(dialect, _Sqlite)
    ctes, joins = [], []
    for i, term in enumerate(query.positive):
        scored = dialect.scored(f"m{i}", _term(sqlite, term), (term,))
        ctes.append(f"t{i} AS {dialect.materialized()}({scored})")
        grouped = f"(SELECT cid, min(s) AS s FROM t{i} GROUP BY cid) g{i}"
        joins.append(grouped if i == 0 else f"JOIN {grouped} ON g{i}.cid = g0.cid")
    score = " + ".join(f"g{i}.s" for i in range(len(query.positive)))
    if len(query.positive) > 1:  # a message with every term at once
        whole = Query(query.positive)
        expression = fts5_terms(whole) if sqlite else to_tsquery(whole)
        together = dialect.scored("whole", expression, whole.terms)
        ctes.append(f"together AS {dialect.materialized()}({together})")
        joins.append(
            "LEFT JOIN (SELECT cid, min(s) AS s FROM together GROUP BY cid) gw ON gw.cid = g0.cid"
        )
        score += " + COALESCE(gw.s, 0)"
    excluded = ""
    if query.negative:
        positive = tuple(replace(t, negated=False) for t in query.negative)
        expression = fts5_any(positive) if sqlite else tsquery_any(positive)
        ctes.append(f"excluded AS {dialect.materialized()}({dialect.scored('neg', expression)})")
        excluded = " WHERE g0.cid NOT IN (SELECT cid FROM excluded)"
    keyset = ""
    if after is not None:
        params.update(after_score=after[0], after_id=dialect.uuid_bind(after[1]))
        keyset = " AND (h.score > :after_score OR (h.score = :after_score AND h.cid > :after_id))"
    # Only constant fragments are formatted in; every value is a bound parameter.
    sql = f"""
        WITH {", ".join(ctes)},
        hits AS (SELECT g0.cid, {score} AS score FROM {" ".join(joins)}{excluded})
        SELECT h.cid, h.score, c.user_id, c.title, c.last_message_at
        FROM hits h JOIN conversations c ON c.id = h.cid
        WHERE 1 = 1{keyset}
        ORDER BY h.score, h.cid LIMIT :limit"""
    result = await db.execute(statement(sql, params), params)
    return [
        ConversationRow(
            conversation_id=dialect.as_uuid(r["cid"]) or uuid.UUID(int=0),
            owner_id=dialect.as_uuid(r["user_id"]) or uuid.UUID(int=0),
            title=r["title"],
            last_message_at=_aware(r["last_message_at"]),
            score=float(r["score"]),
        )
        for r in result.mappings()
    ]


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def snippets(
    db: AsyncSession, scope: Scope, query: Query, conversation_ids: list[uuid.UUID]
) -> list[Row]:
    """The best-matching title and messages of each conversation (matching any positive
    term), best first; snippets are made for those documents only."""
    if not conversation_ids:
        return []
    params: dict[str, Any] = {"per": SNIPPETS_PER_CONVERSATION, "start_mark": START}
    params["stop_mark"] = STOP
    terms = query.positive
    if is_sqlite(db):
        params["any"] = fts5_scope(scope.owner_tokens) + " AND " + fts5_any(terms)
        params["page"] = [c.hex for c in conversation_ids]
        owned = scope.sql(params, sqlite_uuid)
        # One full-text pass over the caller's matches. `+d.conversation_id` keeps SQLite from
        # driving the join from the conversation index: FTS5 would then run the whole query
        # once per document. The page's filter runs before the select list, so snippets are
        # made for the page's documents only.
        sql = f"""
            WITH ranked AS MATERIALIZED (
                SELECT d.id AS doc_id, d.kind, d.conversation_id, d.message_id, d.role,
                       d.created_at, bm25(search_fts, 1.0, 0.0) AS score,
                       snippet(search_fts, 0, :start_mark, :stop_mark, '…', 16) AS snippet
                FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid
                WHERE search_fts MATCH :any AND {owned} AND +d.conversation_id IN :page
            )
            SELECT * FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY conversation_id, kind ORDER BY score, doc_id) AS n
                FROM ranked)
            WHERE n <= :per
            ORDER BY score, doc_id"""
        as_uuid: Callable[[Any], uuid.UUID | None] = sqlite_uuid_or_none
    else:
        params["any"] = tsquery_any(terms)
        params["page"] = list(conversation_ids)
        params["headline"] = PG_HEADLINE
        owned = scope.sql(params, same)
        rank = pg_rank(params, "exact", terms, "q.query")
        sql = f"""
            WITH q AS (SELECT to_tsquery('simple', :any) AS query),
            ranked AS (
                SELECT d.id AS doc_id, d.kind, d.conversation_id, d.message_id, d.role,
                       d.created_at, d.body,
                       -{rank}::float8 AS score
                FROM search_docs d, q
                WHERE {owned} AND d.conversation_id IN :page
                  AND to_tsvector('simple', d.body) @@ q.query
            ),
            best AS (
                SELECT *, row_number() OVER (
                    PARTITION BY conversation_id, kind ORDER BY score, doc_id) AS n
                FROM ranked
            )
            SELECT best.doc_id, best.kind, best.conversation_id, best.message_id, best.role,
                   best.created_at, best.score,
                   ts_headline('simple', best.body, q.query, :headline) AS snippet
            FROM best, q WHERE best.n <= :per
            ORDER BY best.score, best.doc_id"""
        as_uuid = same
    result = await db.execute(statement(sql, params), params)
    return [row_of(r, as_uuid) for r in result.mappings()]
