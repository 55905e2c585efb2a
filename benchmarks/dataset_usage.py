"""Bulk loader for the usage benchmark: users, usage events and the rollups the app derives.

10M events over 90 days for 1,000 users cannot go through the API (or even the ORM) in
reasonable time, so events are generated in Python, day by day in time order, and written
straight into the tables: SQLite through ``sqlite3.executemany`` in one transaction (journal
and fsync off, large cache), PostgreSQL through ``COPY`` (asyncpg ``copy_records_to_table``).
The usage_events secondary indexes and foreign key are dropped for the load and recreated from
their own DDL afterwards.

The rollups (``usage_daily`` per user and for ``SYSTEM_ID``, ``usage_latency_daily``) are
aggregated while generating, by the rules of ``repository.add_rollups``: same keys (UTC day of
``occurred_at``, provider/model or ``""``), same counters (any status but ``success`` is an
error, a missing cost adds 0 and counts as unpriced, whether the model has no price or none
was named, a missing latency adds nothing to the histogram), same ``latency_bucket``.
``usage_user_periods`` (per user and day, per user and month) is then summed from the users'
usage_daily rows in SQL (``fill_user_periods``). ``bench_usage.verify`` proves it all: the
same small set of events recorded through ``POST /api/v1/usage/events`` into one database and
loaded by this module into another leaves identical rows.

Costs follow ``pricing.from_override``: every priced model gets an admin price (written to
``model_prices`` too, so the server prices new events the same way) in thousandths of a dollar
per million tokens, so a cost is an exact number of nano-dollars, summed as an integer.
"""

from __future__ import annotations

import asyncio
import queue
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.dataset import BATCH, _insert
from convobase.db.base import new_id
from convobase.models import ModelPrice, User
from convobase.models.usage import SYSTEM_ID
from convobase.usage.repository import DAILY_COUNTERS, latency_bucket


@dataclass(frozen=True)
class ModelSpec:
    provider: str | None
    model: str | None
    popularity: float  # how likely a user picks it as one of their models
    # Admin price in $ per 1M tokens x 1000 (so costs are whole nano-dollars); None: unpriced.
    input_k: int | None
    output_k: int | None
    cache_read_k: int | None
    cache_write_k: int | None
    ttft_ms: float  # median time to first token
    ms_per_token: float
    endpoint: str | None


MODELS = [
    ModelSpec("openai", "gpt-4o", 14, 2500, 10000, 1250, None, 450, 12, "/v1/chat/completions"),
    ModelSpec("openai", "gpt-4o-mini", 22, 150, 600, 75, None, 350, 8, "/v1/chat/completions"),
    ModelSpec("openai", "gpt-4.1", 8, 2000, 8000, 500, None, 500, 11, "/v1/chat/completions"),
    ModelSpec("openai", "o3-mini", 5, 1100, 4400, 550, None, 2500, 9, "/v1/chat/completions"),
    ModelSpec(
        "anthropic", "claude-sonnet-4-20250514", 16, 3000, 15000, 300, 3750, 700, 14, "/v1/messages"
    ),
    ModelSpec(
        "anthropic", "claude-3-5-haiku-20241022", 7, 800, 4000, 80, 1000, 450, 9, "/v1/messages"
    ),
    ModelSpec(
        "anthropic",
        "claude-opus-4-20250514",
        3,
        15000,
        75000,
        1500,
        18750,
        1200,
        25,
        "/v1/messages",
    ),
    ModelSpec(
        "groq", "llama-3.3-70b-versatile", 5, 590, 790, None, None, 200, 4, "/openai/v1/chat"
    ),
    ModelSpec("groq", "llama-3.1-8b-instant", 4, 50, 80, None, None, 120, 1.5, "/openai/v1/chat"),
    ModelSpec("google", "gemini-2.5-flash", 10, 300, 2500, 75, None, 400, 5, "generateContent"),
    ModelSpec("google", "gemini-2.5-pro", 4, 1250, 10000, 310, None, 1500, 13, "generateContent"),
    # Self-hosted: no price anywhere, so its events are "unpriced".
    ModelSpec("ollama", "llama3.1:8b", 2, None, None, None, None, 300, 20, "/api/chat"),
]
# A client that reports no model (and no provider): rolled up under ("", "").
NO_MODEL = ModelSpec(None, None, 0, None, None, None, None, 400, 10, None)
SPECS = [*MODELS, NO_MODEL]
NO_MODEL_INDEX = len(MODELS)

STATUSES = ("success", "error", "timeout", "cancelled")
PICKS = 64  # per-user table of model picks: one random() chooses a model by the user's weights
SYSTEM = -1  # user index of the system-wide rollup rows

EVENT_COLUMNS = [
    "id",
    "user_id",
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
    "conversation_id",
    "message_id",
    "cost_usd",
    "price_source",
    "metadata",
]
DAILY_COLUMNS = ["user_id", "day", "provider", "model", *DAILY_COUNTERS]
LATENCY_COLUMNS = ["user_id", "day", "bucket", "count"]


@dataclass(frozen=True)
class Rates:
    """Shares of events per kind; ``verify`` raises the rare ones to see each of them."""

    error: float = 0.02
    timeout: float = 0.004
    cancelled: float = 0.01
    no_latency: float = 0.01
    no_model: float = 0.0005


@dataclass
class Day:
    """One UTC day of events (in time order) and the rollup rows they add up to."""

    day: date
    start_us: int  # the day's midnight, microseconds since the epoch
    # (offset_us, user, model, input, output, cached, cache_write, latency|None, status, nano$)
    events: list[tuple[Any, ...]]
    # (user|SYSTEM, model, requests, errors, input, output, cached, nano$, unpriced, lat_sum,
    #  lat_count)
    daily: list[tuple[int, ...]]
    latency: list[tuple[int, int, int]]  # (user|SYSTEM, bucket, count)


@dataclass
class Generator:
    """Deterministic events for ``users`` users over the ``days`` days before ``now``."""

    users: int
    events: int
    now: datetime
    days: int = 90
    seed: int = 17
    rates: Rates = field(default_factory=Rates)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.start_at = self.now - timedelta(days=self.days)
        # Activity is heavy-tailed: a few users make a large share of all requests.
        self.weights = [rng.lognormvariate(0, 1.1) for _ in range(self.users)]
        # 70% of the users were there from the start, the others signed up along the way.
        self.joined = [
            0.0 if rng.random() < 0.7 else rng.random() * self.days for _ in range(self.users)
        ]
        popularity = [spec.popularity for spec in MODELS]
        self.picks: list[list[int]] = []
        for _ in range(self.users):
            count = rng.choices((1, 2, 3), weights=(30, 45, 25))[0]
            chosen: list[int] = []
            while len(chosen) < count:
                pick = rng.choices(range(len(MODELS)), weights=popularity)[0]
                if pick not in chosen:
                    chosen.append(pick)
            shares = [0.7] + [0.3 / (count - 1)] * (count - 1) if count > 1 else [1.0]
            self.picks.append([chosen[i] for i in _spread(shares, PICKS)])
        self.per_user = [0] * self.users
        self._rng = rng

    def plan(self) -> list[tuple[date, int, int, int]]:
        """(day, first µs, last µs, events) per UTC day: weekends quieter, usage growing."""
        start, end = _us(self.start_at), _us(self.now)
        first = self.start_at.date()
        spans = []
        day = first
        while True:
            midnight = _us(datetime(day.year, day.month, day.day, tzinfo=UTC))
            low, high = max(start, midnight), min(end, midnight + 86_400_000_000)
            if low >= end:
                break
            if high > low:
                age = (day - first).days / max(self.days, 1)
                weight = (high - low) / 86_400_000_000 * (1 + 0.4 * age)
                weight *= 0.55 if day.weekday() >= 5 else 1.0
                spans.append((day, low, high, weight))
            day += timedelta(days=1)
        total = sum(w for *_, w in spans)
        exact = [self.events * w / total for *_, w in spans]
        counts = [int(x) for x in exact]
        by_remainder = sorted(range(len(spans)), key=lambda i: exact[i] - counts[i], reverse=True)
        for i in by_remainder[: self.events - sum(counts)]:
            counts[i] += 1
        return [(d, lo, hi, n) for (d, lo, hi, _), n in zip(spans, counts, strict=True)]

    def generate(self) -> Iterator[Day]:
        rng = self._rng
        rnd, lognorm, randint = rng.random, rng.lognormvariate, rng.randint
        rates = self.rates
        cut_error = rates.error
        cut_timeout = cut_error + rates.timeout
        cut_cancelled = cut_timeout + rates.cancelled
        specs = SPECS
        buckets = [latency_bucket(ms) for ms in range(130_000)]
        first = self.start_at.date()
        for day, low, high, count in self.plan():
            midnight = _us(datetime(day.year, day.month, day.day, tzinfo=UTC))
            offset = (day - first).days
            active = [u for u in range(self.users) if self.joined[u] <= offset + 1]
            active = active or list(range(self.users))
            who = rng.choices(active, weights=[self.weights[u] for u in active], k=count)
            span = high - low
            stamps = sorted(int(low - midnight + rnd() * span) for _ in range(count))
            events: list[tuple[Any, ...]] = []
            daily: dict[tuple[int, int], list[int]] = {}
            hist: dict[tuple[int, int], int] = {}
            per_user, picks = self.per_user, self.picks
            for at, user in zip(stamps, who, strict=True):
                per_user[user] += 1
                if rnd() < rates.no_model:
                    model = NO_MODEL_INDEX
                else:
                    model = picks[user][int(rnd() * PICKS)]
                spec = specs[model]
                cached = cache_write = 0
                roll = rnd()
                if roll < cut_timeout:  # provider error or timeout: nothing billed
                    status = 1 if roll < cut_error else 2
                    tokens_in = tokens_out = 0
                    latency: int | None = (
                        int(lognorm(5.5, 0.6)) if status == 1 else randint(60_000, 120_000)
                    )
                else:
                    status = 3 if roll < cut_cancelled else 0
                    tokens_in = min(int(lognorm(7.2, 1.1)) + 20, 200_000)
                    tokens_out = min(int(lognorm(5.6, 0.9)) + 1, 16_000)
                    if status == 3:
                        tokens_out = int(tokens_out * rnd())
                    if spec.cache_read_k is not None and rnd() < 0.35:
                        cached = int(tokens_in * (0.2 + 0.75 * rnd()))
                    if spec.cache_write_k is not None and rnd() < 0.15:
                        cache_write = int((tokens_in - cached) * (0.3 + 0.6 * rnd()))
                    latency = int(spec.ttft_ms * lognorm(0, 0.5) + tokens_out * spec.ms_per_token)
                if rnd() < rates.no_latency:
                    latency = None
                nano = None
                if spec.input_k is not None:  # pricing.from_override, in nano-dollars
                    uncached = tokens_in
                    nano = 0
                    if spec.cache_read_k is not None:
                        uncached -= cached
                        nano += cached * spec.cache_read_k
                    if spec.cache_write_k is not None:
                        uncached -= cache_write
                        nano += cache_write * spec.cache_write_k
                    nano += max(uncached, 0) * spec.input_k + tokens_out * (spec.output_k or 0)
                events.append(
                    (
                        at,
                        user,
                        model,
                        tokens_in,
                        tokens_out,
                        cached,
                        cache_write,
                        latency,
                        status,
                        nano,
                    )
                )
                # repository.add_rollups, for the user (the system rows are summed below).
                row = daily.get((user, model))
                if row is None:
                    row = daily[(user, model)] = [0] * 9
                row[0] += 1
                if status:
                    row[1] += 1
                row[2] += tokens_in
                row[3] += tokens_out
                row[4] += cached
                if nano is not None:
                    row[5] += nano
                else:
                    row[6] += 1
                if latency is not None:
                    row[7] += latency
                    row[8] += 1
                    key = (user, buckets[latency] if latency < 130_000 else latency_bucket(latency))
                    hist[key] = hist.get(key, 0) + 1
            system: dict[int, list[int]] = {}
            for (_, model), counters in daily.items():
                total = system.setdefault(model, [0] * 9)
                for i, value in enumerate(counters):
                    total[i] += value
            system_hist: dict[int, int] = {}
            for (_, bucket), n in hist.items():
                system_hist[bucket] = system_hist.get(bucket, 0) + n
            yield Day(
                day=day,
                start_us=midnight,
                events=events,
                daily=[(u, m, *c) for (u, m), c in daily.items()]
                + [(SYSTEM, m, *c) for m, c in system.items()],
                latency=[(u, b, n) for (u, b), n in hist.items()]
                + [(SYSTEM, b, n) for b, n in system_hist.items()],
            )


def _spread(shares: list[float], slots: int) -> list[int]:
    """``slots`` indexes into ``shares``, each appearing in proportion to its share."""
    out: list[int] = []
    for i, share in enumerate(shares):
        out += [i] * round(share * slots)
    return (out + [len(shares) - 1] * slots)[:slots]


def _us(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def price_rows() -> list[dict[str, Any]]:
    """The admin prices the generated costs are computed from (``model_prices``)."""

    def per_mtok(k: int | None) -> Decimal | None:
        return None if k is None else Decimal(k) / 1000

    return [
        {
            "model": spec.model,
            "provider": spec.provider,
            "input_per_mtok": per_mtok(spec.input_k),
            "output_per_mtok": per_mtok(spec.output_k),
            "cache_read_per_mtok": per_mtok(spec.cache_read_k),
            "cache_write_per_mtok": per_mtok(spec.cache_write_k),
            "updated_at": datetime.now(UTC),
        }
        for spec in MODELS
        if spec.input_k is not None
    ]


@dataclass
class People:
    users: list[tuple[uuid.UUID, str]]  # (id, email), by the generator's user index
    admin: tuple[uuid.UUID, str]


def make_people(users: int, password_hash: str) -> tuple[list[dict[str, Any]], People]:
    """User rows (shaped as dataset.py makes them) and one admin, all with ``password_hash``."""
    base = datetime.now(UTC) - timedelta(days=365)

    def user(i: int | None) -> dict[str, Any]:
        email = "usage-admin@example.com" if i is None else f"usage{i}@example.com"
        return {
            "id": new_id(),
            "email": email,
            "name": "Usage admin" if i is None else f"Usage {i}",
            "role": "admin" if i is None else "user",
            "disabled": False,
            "password_hash": password_hash,
            "created_at": base,
            "updated_at": base,
        }

    rows = [user(i) for i in range(users)]
    admin = user(None)
    people = People([(r["id"], r["email"]) for r in rows], (admin["id"], admin["email"]))
    return [*rows, admin], people


async def insert_people(url: str, rows: list[dict[str, Any]]) -> None:
    """The users and the admin prices (``model_prices``) the generated costs come from."""
    engine = create_async_engine(url)
    for start in range(0, len(rows), BATCH):
        await _insert(engine, User.__table__, rows[start : start + BATCH])
    await _insert(engine, ModelPrice.__table__, price_rows())
    await engine.dispose()


@dataclass
class Written:
    events: int = 0
    daily: int = 0
    system_daily: int = 0
    latency: int = 0
    seconds_rows: float = 0.0  # generating and writing events and rollups
    seconds_indexes: float = 0.0  # recreating usage_events' indexes and foreign key
    periods: int = 0  # usage_user_periods rows (day and month)
    seconds_periods: float = 0.0  # filling usage_user_periods from usage_daily


def write(url: str, days: Iterable[Day], user_ids: list[uuid.UUID]) -> Written:
    """Write ``days`` into the (migrated) database at ``url``; returns row counts and times.

    The writer runs in its own thread while this one generates the next day, so SQLite's
    B-tree work (sqlite3 releases the GIL while stepping) and PostgreSQL's COPY overlap with
    the generation.
    """
    parsed = make_url(url)
    sqlite_path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    written = Written()
    batches: queue.Queue[Day | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            if sqlite_path is not None:
                _write_sqlite(sqlite_path, batches, user_ids, written)
            else:
                dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
                asyncio.run(_write_postgres(dsn, batches, user_ids, written))
        except BaseException as exc:  # reported by the generating thread
            failure.append(exc)
            while batches.get() is not None:  # unblock the producer
                pass

    started = time.perf_counter()
    writer = threading.Thread(target=consume, name="usage-writer")
    writer.start()
    try:
        for day in days:
            if failure:
                break
            batches.put(day)
    finally:
        batches.put(None)
        writer.join()
    if failure:
        raise failure[0]
    written.seconds_rows = time.perf_counter() - started - written.seconds_indexes
    return written


def _encoders(
    user_ids: list[Any],
    system_id: Any,
    stamp: Callable[[int, int], Any],
    money: Callable[[int], Any],
    day_value: Callable[[date], Any],
) -> tuple[Callable[[Day], list[tuple[Any, ...]]], ...]:
    """Day -> rows for usage_events, usage_daily and usage_latency_daily, as stored."""
    providers = [spec.provider for spec in SPECS]
    models = [spec.model for spec in SPECS]
    endpoints = [spec.endpoint for spec in SPECS]
    sources = ["override" if spec.input_k is not None else None for spec in SPECS]

    getrandbits = random.Random(99).getrandbits

    def events(day: Day) -> list[tuple[Any, ...]]:
        base = day.start_us
        rows = []
        for at, user, model, t_in, t_out, cached, c_write, latency, status, nano in day.events:
            # A UUIDv7 of the event's own millisecond, as if recorded when it happened.
            ident = ((base + at) // 1000) << 80 | 0x7 << 76 | getrandbits(12) << 64
            ident |= 0x2 << 62 | getrandbits(62)
            rows.append(
                (
                    f"{ident:032x}",
                    user_ids[user],
                    stamp(base, at),
                    endpoints[model],
                    providers[model],
                    models[model],
                    t_in,
                    t_out,
                    cached,
                    c_write,
                    latency,
                    STATUSES[status],
                    None,
                    None,
                    None if nano is None else money(nano),
                    sources[model],
                    "{}",
                )
            )
        return rows

    def daily(day: Day) -> list[tuple[Any, ...]]:
        when = day_value(day.day)
        return [
            (
                system_id if user == SYSTEM else user_ids[user],
                when,
                providers[model] or "",
                models[model] or "",
                requests,
                errors,
                t_in,
                t_out,
                cached,
                money(nano),
                unpriced,
                lat_sum,
                lat_count,
            )
            for (
                user,
                model,
                requests,
                errors,
                t_in,
                t_out,
                cached,
                nano,
                unpriced,
                lat_sum,
                lat_count,
            ) in day.daily
        ]

    def latency(day: Day) -> list[tuple[Any, ...]]:
        when = day_value(day.day)
        return [
            (system_id if user == SYSTEM else user_ids[user], when, bucket, n)
            for user, bucket, n in day.latency
        ]

    return events, daily, latency


def _sqlite_stamp(base: int, at: int) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, naive UTC (UTCDateTime drops the zone).
    moment = datetime(1970, 1, 1) + timedelta(microseconds=base + at)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _write_sqlite(
    path: str, batches: queue.Queue[Day | None], user_ids: list[uuid.UUID], written: Written
) -> None:
    events, daily, latency = _encoders(
        [u.hex for u in user_ids],  # SQLAlchemy's Uuid on SQLite: 32 hex digits
        SYSTEM_ID.hex,
        _sqlite_stamp,
        lambda nano: nano / 1_000_000_000,  # Numeric on SQLite binds a float
        date.isoformat,  # SQLite DATE storage format
    )
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB
        conn.execute("PRAGMA temp_store=MEMORY")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'usage_events' AND sql IS NOT NULL"
        ).fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        insert_events = _sqlite_insert("usage_events", EVENT_COLUMNS)
        insert_daily = _sqlite_insert("usage_daily", DAILY_COLUMNS)
        insert_latency = _sqlite_insert("usage_latency_daily", LATENCY_COLUMNS)
        while (day := batches.get()) is not None:
            conn.executemany(insert_events, events(day))
            rows = daily(day)
            conn.executemany(insert_daily, rows)
            conn.executemany(insert_latency, latency(day))
            _count(written, day, rows, SYSTEM_ID.hex)
        started = time.perf_counter()
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        written.seconds_indexes = time.perf_counter() - started
        conn.execute("PRAGMA journal_mode=WAL")  # what the app runs in
    finally:
        conn.close()


def _sqlite_insert(table: str, columns: list[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"


def _count(written: Written, day: Day, daily_rows: list[tuple[Any, ...]], system: Any) -> None:
    written.events += len(day.events)
    written.daily += len(daily_rows)
    written.system_daily += sum(1 for row in daily_rows if row[0] == system)
    written.latency += len(day.latency)


async def _write_postgres(
    dsn: str, batches: queue.Queue[Day | None], user_ids: list[uuid.UUID], written: Written
) -> None:
    def stamp(base: int, at: int) -> datetime:
        return EPOCH + timedelta(microseconds=base + at)

    events, daily, latency = _encoders(
        user_ids, SYSTEM_ID, stamp, lambda nano: Decimal(nano).scaleb(-9), lambda day: day
    )
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit TO off")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_events' "
            "AND indexname <> 'pk_usage_events'"
        )
        foreign_keys = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
            "WHERE conrelid = 'usage_events'::regclass AND contype = 'f'"
        )
        for fk in foreign_keys:
            await conn.execute(f'ALTER TABLE usage_events DROP CONSTRAINT "{fk["conname"]}"')
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        loop = asyncio.get_running_loop()
        while (day := await loop.run_in_executor(None, batches.get)) is not None:
            await conn.copy_records_to_table(
                "usage_events", records=events(day), columns=EVENT_COLUMNS
            )
            rows = daily(day)
            await conn.copy_records_to_table("usage_daily", records=rows, columns=DAILY_COLUMNS)
            await conn.copy_records_to_table(
                "usage_latency_daily", records=latency(day), columns=LATENCY_COLUMNS
            )
            _count(written, day, rows, SYSTEM_ID)
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem TO '1GB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        for fk in foreign_keys:
            await conn.execute(
                f'ALTER TABLE usage_events ADD CONSTRAINT "{fk["conname"]}" {fk["definition"]}'
            )
        written.seconds_indexes = time.perf_counter() - started
    finally:
        await conn.close()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Loaded:
    people: People
    generator: Generator
    written: Written
    seconds_people: float

    @property
    def seconds(self) -> float:
        written = self.written
        return (
            self.seconds_people
            + written.seconds_rows
            + written.seconds_indexes
            + written.seconds_periods
        )


def load(
    url: str,
    *,
    users: int,
    events: int,
    password_hash: str,
    now: datetime | None = None,
    days: int = 90,
    seed: int = 17,
    progress: bool = True,
) -> Loaded:
    started = time.perf_counter()
    rows, people = make_people(users, password_hash)
    asyncio.run(insert_people(url, rows))
    seconds_people = time.perf_counter() - started
    generator = Generator(
        users=users, events=events, now=now or datetime.now(UTC), days=days, seed=seed
    )

    def days_with_progress() -> Iterator[Day]:
        done = 0
        for number, day in enumerate(generator.generate(), 1):
            done += len(day.events)
            if progress and number % 10 == 0:
                print(
                    f"  {done:,} events ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
            yield day

    written = write(url, days_with_progress(), [user_id for user_id, _ in people.users])
    started = time.perf_counter()
    written.periods = asyncio.run(fill_user_periods(url))
    written.seconds_periods = time.perf_counter() - started
    return Loaded(people, generator, written, seconds_people)


async def fill_user_periods(url: str) -> int:
    """usage_user_periods as the app writes it: per user and day, and per user and month,
    summed from the users' usage_daily rows (in SQL, once the load is in); returns its rows."""
    engine = create_async_engine(url)
    sqlite = make_url(url).get_backend_name() == "sqlite"
    system = SYSTEM_ID.hex if sqlite else str(SYSTEM_ID)
    month = "date(day, 'start of month')" if sqlite else "date_trunc('month', day)::date"
    try:
        async with engine.begin() as conn:
            for kind, start in (("d", "day"), ("m", month)):
                await conn.execute(
                    text(
                        "INSERT INTO usage_user_periods "
                        "(user_id, kind, start, requests, tokens, cost_usd) "
                        f"SELECT user_id, '{kind}', {start}, SUM(requests), "
                        "SUM(input_tokens + output_tokens), SUM(cost_usd) FROM usage_daily "
                        f"WHERE user_id != :system GROUP BY user_id, {start}"
                    ),
                    {"system": system},
                )
            rows = await conn.scalar(text("SELECT count(*) FROM usage_user_periods"))
    finally:
        await engine.dispose()
    return int(rows or 0)


if __name__ == "__main__":  # quick manual check: python benchmarks/dataset_usage.py N
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    gen = Generator(users=1000, events=count, now=datetime.now(UTC))
    clock = time.perf_counter()
    produced = sum(len(d.events) for d in gen.generate())
    print(f"{produced:,} events in {time.perf_counter() - clock:.1f} s")
