"""The floor for Convobase's hot paths: the same database work, written by hand.

What this is. A plain FastAPI app on the same driver (aiosqlite or asyncpg), no ORM and no
dependency machinery, serving four of Convobase's hot paths against Convobase's own migrated
database (same tables, same indexes, same rows) with the SAME statements, in the SAME order and
the SAME transactions as Convobase runs them today. The statement lists were captured from
Convobase with the counter of tests/perf/counter.py (tests/perf/test_statement_budget.py
prints them when a budget breaks) and are written out below as SQL text. The answers have the
same JSON shapes. The hot-path benchmark (bench_hotpaths.py) serves it like Convobase (uvicorn,
one worker, no access log) and reports Convobase's throughput as a ratio to it: the gap is what
Convobase's own code (ORM, validation, dependencies, middleware) costs on top of the database
work, which this app shares.

- ``GET /api/v1/auth/me`` (session token or API key): the session (or key) joined with its
  user; the user's OAuth identities. One read transaction.
- ``POST /api/v1/conversations/{id}/messages``: in one write transaction, the session, the
  conversation (``FOR UPDATE`` on PostgreSQL), the message, its search document, the
  conversation's counters, the reply's siblings.
- ``POST /v1/chat/completions`` (plain and ``stream``; no ``conversation_id``, so every call
  starts a conversation): the session (read transaction); preferences, the user's provider key
  and the model's price (read transaction); the quota (read transaction); the upstream call
  (httpx, pooled); then in one write transaction the conversation and its title document, the
  conversation again (``FOR UPDATE`` on PostgreSQL), both messages (one executemany) and their
  search documents (one multi-row INSERT on PostgreSQL, two on SQLite, as SQLAlchemy sends them),
  the counters, the usage event and its three rollups (an executemany each).

What it leaves out, on purpose, so it stays a floor: no validation beyond what the statements
need (a bad body is a 500 here, not a clear 4xx), no error shapes, no request ids, no CSRF or
cookie handling, no throttled "last used" updates (Convobase skips them in the steady state
too), no quota arithmetic, the price is read but not applied, and answers are built as plain
dicts (no Pydantic models). Connections: SQLite gets Convobase's PRAGMAs, reads in autocommit
and writes in ``BEGIN IMMEDIATE``; PostgreSQL gets a plain queue of asyncpg connections (asyncpg's
own pool would send a reset query on every release) and, unlike Convobase's SQLAlchemy pool, NO
pre-ping: Convobase's pre-ping costs three round trips per checkout (``BEGIN; ; ROLLBACK``), part
of the gap this baseline shows. Its round trips per request are in ``STATS`` (counted here).

Configuration (environment): ``BASELINE_DATABASE_URL`` (a Convobase database URL,
``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``), ``BASELINE_UPSTREAM`` (the
OpenAI-compatible base URL, ending in ``/v1``), ``BASELINE_POOL_SIZE`` (default 10).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aiosqlite
import asyncpg
import httpx
import uuid6
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

URL = os.environ.get("BASELINE_DATABASE_URL", "sqlite+aiosqlite:///convobase.db")
UPSTREAM = os.environ.get("BASELINE_UPSTREAM", "http://127.0.0.1:9999/v1")
POOL_SIZE = int(os.environ.get("BASELINE_POOL_SIZE", "10"))
IS_SQLITE = URL.startswith("sqlite")
GLOBAL_SCOPE = uuid.UUID(int=0)  # usage rollups' all-users row, as Convobase writes it
# Statements and round trips sent, for the benchmark to read in-process (never served).
STATS = {"statements": 0, "round_trips": 0}
_STORING: set[asyncio.Future[None]] = set()  # streams' stores in flight (held against GC)

# --- The statements (Convobase's, as SQLAlchemy renders them; $n become ? on SQLite). ---

USER_COLUMNS = (
    "users.email, users.name, users.avatar_url, users.role, users.disabled, "
    "users.password_hash, users.last_active_at, users.id, users.created_at, users.updated_at"
)
SESSION_USER = (
    "SELECT sessions.user_id, sessions.token_hash, sessions.created_at, sessions.last_seen_at, "
    "sessions.expires_at, sessions.user_agent, sessions.ip, sessions.active_conversation_id, "
    f"sessions.id, {USER_COLUMNS} FROM sessions JOIN users ON users.id = sessions.user_id "
    "WHERE sessions.token_hash = $1 AND sessions.expires_at > $2"
)
API_KEY_USER = (
    "SELECT api_keys.user_id, api_keys.name, api_keys.prefix, api_keys.key_hash, "
    "api_keys.created_at, api_keys.last_used_at, api_keys.expires_at, api_keys.revoked_at, "
    f"api_keys.id, {USER_COLUMNS} FROM api_keys JOIN users ON users.id = api_keys.user_id "
    "WHERE api_keys.key_hash = $1 AND api_keys.revoked_at IS NULL "
    "AND (api_keys.expires_at IS NULL OR api_keys.expires_at > $2)"
)
USER_OFFSET = 9  # both joins put the user's columns after nine of their own
IDENTITIES = (
    "SELECT oauth_accounts.user_id, oauth_accounts.provider, oauth_accounts.subject, "
    "oauth_accounts.email, oauth_accounts.email_verified, oauth_accounts.created_at, "
    "oauth_accounts.id FROM oauth_accounts WHERE oauth_accounts.user_id = $1 "
    "ORDER BY oauth_accounts.provider, oauth_accounts.created_at"
)
CONVERSATION_COLUMNS = (
    "conversations.user_id, conversations.title, conversations.domain, conversations.language, "
    "conversations.model, conversations.system_prompt, conversations.settings, "
    "conversations.tags, conversations.pinned, conversations.archived, "
    "conversations.message_count, conversations.last_message_at, "
    "conversations.last_activity_at, conversations.current_leaf_id, conversations.id, "
    "conversations.created_at, conversations.updated_at"
)
OWNED_CONVERSATION = (
    f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
    "WHERE conversations.user_id = $1 AND conversations.id = $2"
    + ("" if IS_SQLITE else " FOR UPDATE OF conversations")
)
LEAF = 13  # current_leaf_id in CONVERSATION_COLUMNS
INSERT_CONVERSATION = (
    "INSERT INTO conversations (user_id, title, domain, language, model, system_prompt, "
    "settings, tags, pinned, archived, message_count, last_message_at, last_activity_at, "
    "current_leaf_id, id, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, user_id, parent_id, author_id, role, parts, "
    "content, metadata, status, edit_count, created_at, updated_at, id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)
DOC_COLUMNS = "ref_id, kind, user_id, owner, conversation_id, message_id, role, created_at, body"
INSERT_DOC = f"INSERT INTO search_docs ({DOC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
INSERT_DOC_RETURNING = INSERT_DOC + " RETURNING id"
INSERT_TWO_DOCS = (  # PostgreSQL: SQLAlchemy sends the two message documents as one statement
    f"INSERT INTO search_docs ({DOC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9), "
    "($10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id"
)
BUMP_CONVERSATION = (
    "UPDATE conversations SET message_count=(conversations.message_count + $1), "
    "last_message_at=$2, last_activity_at=$3, current_leaf_id=$4, updated_at=$5 "
    "WHERE conversations.id = $6"
)
SIBLINGS = (
    "SELECT messages.id, messages.parent_id FROM messages WHERE messages.conversation_id = $1 "
    "AND messages.parent_id IN ($2) ORDER BY messages.id"
)
PREFERENCES = (
    "SELECT preferences.user_id, preferences.data, preferences.version, preferences.updated_at, "
    "preferences.id FROM preferences WHERE preferences.user_id = $1"
)
PROVIDER_KEY = (
    "SELECT provider_keys.user_id, provider_keys.provider, provider_keys.ciphertext, "
    "provider_keys.nonce, provider_keys.key_version, provider_keys.last4, "
    "provider_keys.created_at, provider_keys.updated_at, provider_keys.id FROM provider_keys "
    "WHERE provider_keys.user_id = $1 AND provider_keys.provider = $2"
)
PRICE = (
    "SELECT model_prices.model, model_prices.provider, model_prices.input_per_mtok, "
    "model_prices.output_per_mtok, model_prices.cache_read_per_mtok, "
    "model_prices.cache_write_per_mtok, model_prices.updated_at FROM model_prices "
    "WHERE model_prices.model = $1"
)
QUOTA = (
    "SELECT user_quotas.user_id, user_quotas.requests_per_day, user_quotas.tokens_per_month, "
    "user_quotas.cost_per_month_usd, user_quotas.unlimited, user_quotas.updated_at "
    "FROM user_quotas WHERE user_quotas.user_id = $1"
)
INSERT_USAGE = (
    "INSERT INTO usage_events (user_id, occurred_at, endpoint, provider, model, input_tokens, "
    "output_tokens, cached_tokens, cache_write_tokens, latency_ms, status, conversation_id, "
    "message_id, cost_usd, price_source, metadata, id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
)
_ADD = "{0} = (usage_daily.{0} + excluded.{0})"
UPSERT_DAILY = (
    "INSERT INTO usage_daily (user_id, day, provider, model, requests, errors, input_tokens, "
    "output_tokens, cached_tokens, cost_usd, unpriced, latency_ms_sum, latency_count) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    "ON CONFLICT (user_id, day, provider, model) DO UPDATE SET "
    + ", ".join(
        _ADD.format(column)
        for column in (
            "requests errors input_tokens output_tokens cached_tokens cost_usd unpriced "
            "latency_ms_sum latency_count"
        ).split()
    )
)
UPSERT_LATENCY = (
    "INSERT INTO usage_latency_daily (user_id, day, bucket, count) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (user_id, day, bucket) DO UPDATE SET "
    "count = (usage_latency_daily.count + excluded.count)"
)
UPSERT_PERIODS = (
    "INSERT INTO usage_user_periods (user_id, kind, start, requests, tokens, cost_usd) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, kind, start) DO UPDATE SET "
    "requests = (usage_user_periods.requests + excluded.requests), "
    "tokens = (usage_user_periods.tokens + excluded.tokens), "
    "cost_usd = (usage_user_periods.cost_usd + excluded.cost_usd)"
)


def _sqlite(sql: str) -> str:
    for n in range(18, 0, -1):  # $18 before $1
        sql = sql.replace(f"${n}", "?")
    return sql


# --- Values as each driver stores them (SQLAlchemy's SQLite forms: hex UUIDs, naive text). ---


def _id(value: uuid.UUID) -> Any:
    return value.hex if IS_SQLITE else value


def _when(value: datetime) -> Any:
    return (
        value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        if IS_SQLITE
        else value
    )


def _day(value: date) -> Any:
    return value.isoformat() if IS_SQLITE else value


def _money(value: Decimal) -> Any:
    return float(value) if IS_SQLITE else value


def _uuid_out(value: Any) -> str | None:
    if value is None:
        return None
    return str(uuid.UUID(value) if isinstance(value, str) else value)


def _time_out(value: Any) -> str:
    if isinstance(value, str):  # SQLite: naive UTC text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=None).isoformat() + "Z"


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


# --- Connections and transactions. ---


class Tx:
    """One transaction's connection: fetch/execute/executemany, counted in STATS."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        STATS["statements"] += 1
        STATS["round_trips"] += 1
        if IS_SQLITE:
            async with self.conn.execute(_sqlite(sql), args) as cursor:
                return list(await cursor.fetchall())
        return list(await self.conn.fetch(sql, *args))

    async def execute(self, sql: str, *args: Any) -> None:
        STATS["statements"] += 1
        STATS["round_trips"] += 1
        if IS_SQLITE:
            await self.conn.execute(_sqlite(sql), args)
        else:
            await self.conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        STATS["statements"] += 1
        STATS["round_trips"] += 1
        if IS_SQLITE:
            await self.conn.executemany(_sqlite(sql), rows)
        else:
            await self.conn.executemany(sql, rows)


class Database:
    def __init__(self) -> None:
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        self.opened = 0

    async def _connect(self) -> Any:
        if IS_SQLITE:
            path = URL.split(":///", 1)[1]
            conn = await aiosqlite.connect(path, timeout=10, isolation_level=None)
            for pragma in (
                "journal_mode=WAL",
                "foreign_keys=ON",
                "busy_timeout=10000",
                "synchronous=NORMAL",
            ):
                await conn.execute(f"PRAGMA {pragma}")
            return conn
        dsn = URL.replace("postgresql+asyncpg://", "postgresql://", 1)
        return await asyncpg.connect(dsn)

    async def _take(self) -> Any:
        if self.idle.empty() and self.opened < POOL_SIZE:
            self.opened += 1
            return await self._connect()
        return await self.idle.get()

    @asynccontextmanager
    async def transaction(self, *, write: bool, commit: bool = True) -> AsyncIterator[Tx]:
        """Convobase's boundaries: on SQLite reads run in autocommit (no BEGIN) and writes in
        BEGIN IMMEDIATE; on PostgreSQL every session is a transaction, committed by a request's
        own session, rolled back (``commit=False``) by the gateway's short read sessions."""
        conn = await self._take()
        healthy = False
        try:
            if IS_SQLITE and not write:
                yield Tx(conn)
                healthy = True
                return
            control = (lambda sql: conn.execute(sql)) if IS_SQLITE else conn.execute
            STATS["round_trips"] += 1
            await control("BEGIN IMMEDIATE" if IS_SQLITE else "BEGIN")
            if IS_SQLITE:
                STATS["statements"] += 1  # issued as SQL, as Convobase does
            try:
                yield Tx(conn)
            except BaseException:
                STATS["round_trips"] += 1
                await control("ROLLBACK")
                healthy = True
                raise
            STATS["round_trips"] += 1
            await control("COMMIT" if commit else "ROLLBACK")
            healthy = True
        finally:
            if healthy:
                self.idle.put_nowait(conn)
            else:  # interrupted mid-transaction: never hand a half-open one (a held lock) on
                self.opened -= 1
                await asyncio.shield(conn.close())

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()


# --- The app. ---


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.db = Database()
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    app.state.http = httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10), limits=limits)
    yield
    await app.state.http.aclose()
    await app.state.db.close()


app = FastAPI(lifespan=lifespan)


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").partition(" ")[2].strip()


def _unauthorized() -> JSONResponse:
    return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)


async def _principal(tx: Tx, token: str) -> Sequence[Any] | None:
    """The caller's user row (Convobase's columns order), from a session token or an API key."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = _when(datetime.now(UTC))
    rows = await tx.fetch(API_KEY_USER if token.startswith("cbk_") else SESSION_USER, digest, now)
    if not rows or rows[0][USER_OFFSET + 4]:  # users.disabled
        return None
    return rows[0][USER_OFFSET:]


@app.get("/api/v1/auth/me")
async def me(request: Request) -> Response:
    async with request.app.state.db.transaction(write=False) as tx:
        user = await _principal(tx, _bearer(request))
        if user is None:
            return _unauthorized()
        identities = await tx.fetch(IDENTITIES, user[7])
    email, name, avatar, role, disabled, password_hash, _, user_id, created, updated = user
    return JSONResponse(
        {
            "id": _uuid_out(user_id),
            "email": email,
            "name": name,
            "avatar_url": avatar,
            "role": role,
            "disabled": bool(disabled),
            "has_password": password_hash is not None,
            "created_at": _time_out(created),
            "updated_at": _time_out(updated),
            "identities": [
                {
                    "id": _uuid_out(row[6]),
                    "provider": row[1],
                    "subject": row[2],
                    "email": row[3],
                    "email_verified": bool(row[4]),
                    "created_at": _time_out(row[5]),
                }
                for row in identities
            ],
        }
    )


def _message_row(
    conversation: uuid.UUID, user: uuid.UUID, parent: uuid.UUID | None, role: str, text: str,
    metadata: dict[str, Any], now: datetime, message_id: uuid.UUID,
) -> tuple[Any, ...]:  # fmt: skip
    parts = json.dumps([{"type": "text", "text": text}])
    stamp = _when(now)
    return (
        _id(conversation), _id(user), parent and _id(parent), None, role, parts, text,
        json.dumps(metadata), "complete", 0, stamp, stamp, _id(message_id),
    )  # fmt: skip


def _doc_row(
    ref: uuid.UUID, kind: str, user: uuid.UUID, conversation: uuid.UUID,
    message: uuid.UUID | None, role: str | None, now: datetime, body: str,
) -> tuple[Any, ...]:  # fmt: skip
    return (
        _id(ref), kind, _id(user), "u" + user.hex, _id(conversation),
        message and _id(message), role, _when(now), body,
    )  # fmt: skip


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


@app.post("/api/v1/conversations/{conversation_id}/messages", status_code=201)
async def append(conversation_id: uuid.UUID, request: Request) -> Response:
    body = await request.json()
    role, text = body["role"], body["content"]
    async with request.app.state.db.transaction(write=True) as tx:
        user = await _principal(tx, _bearer(request))
        if user is None:
            return _unauthorized()
        user_id = _as_uuid(user[7])
        found = await tx.fetch(OWNED_CONVERSATION, _id(user_id), _id(conversation_id))
        if not found:
            return JSONResponse({"error": {"code": "not_found"}}, status_code=404)
        leaf = found[0][LEAF]
        parent = _as_uuid(leaf) if leaf is not None else None
        now, message_id = datetime.now(UTC), new_id()
        row = _message_row(conversation_id, user_id, parent, role, text, {}, now, message_id)
        await tx.execute(INSERT_MESSAGE, *row)
        doc = _doc_row(message_id, "message", user_id, conversation_id, message_id, role, now, text)
        await tx.execute(INSERT_DOC_RETURNING if not IS_SQLITE else INSERT_DOC, *doc)
        stamp = _when(now)
        await tx.execute(
            BUMP_CONVERSATION, 1, stamp, stamp, _id(message_id), _when(datetime.now(UTC)),
            _id(conversation_id),
        )  # fmt: skip
        siblings = await tx.fetch(SIBLINGS, _id(conversation_id), parent and _id(parent))
    sibling_ids = [_uuid_out(r[0]) for r in siblings] or [str(message_id)]
    return JSONResponse(
        {
            "id": str(message_id),
            "conversation_id": str(conversation_id),
            "parent_id": _uuid_out(parent),
            "author_id": None,
            "role": role,
            "parts": [{"type": "text", "text": text}],
            "content": text,
            "metadata": {},
            "status": "complete",
            "edit_count": 0,
            "sibling_ids": sibling_ids,
            "sibling_index": sibling_ids.index(str(message_id))
            if str(message_id) in sibling_ids
            else 0,
            "created_at": _time_out(now),
            "updated_at": _time_out(now),
        },
        status_code=201,
    )


# --- The gateway. ---


def _latency_bucket(latency_ms: int) -> int:
    return int(math.log(latency_ms + 1, 1.25))  # Convobase's histogram: growth 1.25


async def _persist(
    db: Database, user_id: uuid.UUID, model: str, prompt: str, answer: str,
    usage: dict[str, Any], finish: str | None, latency_ms: int,
    conversation_id: uuid.UUID, answer_id: uuid.UUID,
) -> None:  # fmt: skip
    """Convobase's write transaction after an exchange, statement for statement."""
    asked_id = new_id()
    now = datetime.now(UTC)
    title = prompt[:80]
    tokens_in, tokens_out = (
        int(usage.get("prompt_tokens", 0)),
        int(usage.get("completion_tokens", 0)),
    )
    async with db.transaction(write=True) as tx:
        stamp = _when(now)
        await tx.execute(
            INSERT_CONVERSATION, _id(user_id), title, None, None, model, None, "{}", "[]",
            False, False, 0, None, stamp, None, _id(conversation_id), stamp, stamp,
        )  # fmt: skip
        title_doc = _doc_row(
            conversation_id, "title", user_id, conversation_id, None, None, now, title
        )
        await tx.execute(INSERT_DOC if IS_SQLITE else INSERT_DOC_RETURNING, *title_doc)
        await tx.fetch(OWNED_CONVERSATION, _id(user_id), _id(conversation_id))
        answered = datetime.now(UTC)
        meta = {
            "model": model, "provider": "openai", "input_tokens": tokens_in,
            "output_tokens": tokens_out, "latency_ms": latency_ms, "finish_reason": finish,
        }  # fmt: skip
        rows = [
            _message_row(conversation_id, user_id, None, "user", prompt, {}, now, asked_id),
            _message_row(
                conversation_id, user_id, asked_id, "assistant", answer, meta, answered, answer_id
            ),
        ]
        await tx.executemany(INSERT_MESSAGE, rows)
        docs = [
            _doc_row(asked_id, "message", user_id, conversation_id, asked_id, "user", now, prompt),
            _doc_row(
                answer_id, "message", user_id, conversation_id, answer_id, "assistant", answered,
                answer,
            ),
        ]  # fmt: skip
        if IS_SQLITE:
            for doc in docs:
                await tx.fetch(INSERT_DOC_RETURNING, *doc)
        else:
            await tx.fetch(INSERT_TWO_DOCS, *docs[0], *docs[1])
        stamp = _when(answered)
        await tx.execute(
            BUMP_CONVERSATION, 2, stamp, stamp, _id(answer_id), _when(datetime.now(UTC)),
            _id(conversation_id),
        )  # fmt: skip
        occurred = datetime.now(UTC)
        await tx.execute(
            INSERT_USAGE, _id(user_id), _when(occurred), "/v1/chat/completions", "openai", model,
            tokens_in, tokens_out, 0, 0, latency_ms, "success", _id(conversation_id),
            _id(answer_id), None, None, "{}", _id(new_id()),
        )  # fmt: skip
        day, zero = occurred.date(), _money(Decimal(0))
        await tx.executemany(
            UPSERT_DAILY,
            [
                (_id(scope), _day(day), "openai", model, 1, 0, tokens_in, tokens_out, 0, zero,
                 1, latency_ms, 1)
                for scope in (user_id, GLOBAL_SCOPE)
            ],
        )  # fmt: skip
        bucket = _latency_bucket(latency_ms)
        await tx.executemany(
            UPSERT_LATENCY,
            [(_id(scope), _day(day), bucket, 1) for scope in (user_id, GLOBAL_SCOPE)],
        )
        tokens = tokens_in + tokens_out
        await tx.executemany(
            UPSERT_PERIODS,
            [
                (_id(user_id), "d", _day(day), 1, tokens, zero),
                (_id(user_id), "m", _day(day.replace(day=1)), 1, tokens, zero),
            ],
        )


@app.post("/v1/chat/completions", response_model=None)
async def chat_completions(request: Request) -> Response:
    db: Database = request.app.state.db
    body = await request.json()
    async with db.transaction(write=False, commit=False) as tx:
        user = await _principal(tx, _bearer(request))
    if user is None:
        return _unauthorized()
    user_id = _as_uuid(user[7])
    model = body["model"]
    async with db.transaction(write=False, commit=False) as tx:
        await tx.fetch(PREFERENCES, _id(user_id))
        await tx.fetch(PROVIDER_KEY, _id(user_id), "openai")
        await tx.fetch(PRICE, model)
    async with db.transaction(write=False, commit=False) as tx:
        await tx.fetch(QUOTA, _id(user_id))
    prompt = str(body["messages"][-1]["content"])
    conversation_id, answer_id = new_id(), new_id()  # Convobase names them before the call
    started = time.perf_counter()
    http: httpx.AsyncClient = request.app.state.http
    url = f"{UPSTREAM}/chat/completions"
    if not body.get("stream"):
        answered = await http.post(url, json=body)
        answer = answered.json()
        latency_ms = int((time.perf_counter() - started) * 1000)
        choice = answer["choices"][0]
        await _persist(
            db, user_id, model, prompt, choice["message"]["content"] or "", answer["usage"],
            choice.get("finish_reason"), latency_ms, conversation_id, answer_id,
        )  # fmt: skip
        return JSONResponse(answer, headers=_ids_headers(conversation_id, answer_id))
    upstream_body = {**body, "stream_options": {"include_usage": True}}
    request_out = http.build_request("POST", url, json=upstream_body)
    upstream = await http.send(request_out, stream=True)

    async def relay() -> AsyncIterator[bytes]:
        text: list[str] = []
        usage: dict[str, Any] = {}
        finish = None
        try:
            async for line in upstream.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                for choice in chunk.get("choices") or []:
                    text.append((choice.get("delta") or {}).get("content") or "")
                    finish = choice.get("finish_reason") or finish
                usage = chunk.get("usage") or usage
                yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        finally:
            # Like Convobase, store what arrived even when the client went away (the relay is
            # cancelled then): the storing runs as a task of its own that cancelling cannot stop.

            async def store() -> None:
                await upstream.aclose()
                latency_ms = int((time.perf_counter() - started) * 1000)
                await _persist(
                    db, user_id, model, prompt, "".join(text), usage, finish, latency_ms,
                    conversation_id, answer_id,
                )  # fmt: skip

            task = asyncio.ensure_future(store())
            _STORING.add(task)
            task.add_done_callback(_STORING.discard)
            await asyncio.shield(task)

    headers = {**_ids_headers(conversation_id, answer_id), "Cache-Control": "no-cache"}
    return StreamingResponse(relay(), media_type="text/event-stream", headers=headers)


def _ids_headers(conversation_id: uuid.UUID, answer_id: uuid.UUID) -> dict[str, str]:
    return {"X-Convobase-Conversation": str(conversation_id), "X-Convobase-Message": str(answer_id)}
