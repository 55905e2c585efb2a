"""Usage summaries at scale, on SQLite and PostgreSQL.

Bulk-loads 10M usage events over the last 90 days for 1,000 users with their rollups
(``dataset_usage.py``; ``--scale`` shrinks the events, never the users: the rollups a summary
reads grow with users x days x models, not with events), then over HTTP against
`convobase serve`, with one sequential keep-alive client, interleaved:
- p50/p95 of ``GET /api/v1/usage/summary`` for a 90-day range, for the heaviest user and for a
  typical (median) user, and of ``GET /api/v1/admin/usage/summary?top=10`` (target p95 <= 50 ms);
- the same for ``GET /api/v1/auth/me``, as a baseline of the stack and the machine's noise.

Before loading, ``verify`` records a few hundred events through ``POST /api/v1/usage/events``
into one fresh database and loads the very same events with the bulk loader into another, and
requires identical usage_events (but ids), usage_daily and usage_latency_daily rows and
identical summaries over HTTP. After measuring, each SQL statement of the slow summaries is
timed on its own and explained (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE), for the report.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, make_url, select
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks import dataset_usage, servers
from benchmarks.bench_conversations import PASSWORD, _login, database, p, timed
from benchmarks.dataset_usage import SPECS, STATUSES, Day, Generator, Rates
from convobase.auth.passwords import PasswordHasher
from convobase.config import Settings
from convobase.db.engine import Database
from convobase.models import UsageEvent
from convobase.models.usage import UsageDaily, UsageLatencyDaily, UsageUserPeriod
from convobase.usage import service
from convobase.usage.repository import Window

EVENTS = 10_000_000
USERS = 1_000
DAYS = 90
SAMPLES = 200
WARMUP = 20
TARGET_MS = 50.0
# The statements of service.summary, in the order it runs them.
QUERIES = [
    "totals",
    "latency histogram",
    "conversations created",
    "messages created",
    "files created",
    "by provider",
    "by model",
    "daily series",
    "top users",
    "top users' unpriced requests",
]


def run(*, engine: str, scale: float, samples: int = SAMPLES) -> dict[str, Any]:
    events = max(1_000, round(EVENTS * scale))
    password_hash = asyncio.run(
        PasswordHasher(time_cost=3, memory_kib=65536, parallelism=4).hash(PASSWORD)
    )
    print(f"[usage {engine}] verifying the bulk loader against the API ...", flush=True)
    verified = verify(engine, password_hash)
    print(
        f"[usage {engine}] verified: {verified['ok']} ({verified['events']} events, "
        f"{verified['daily_rows']} usage_daily, {verified['latency_rows']} "
        f"usage_latency_daily and {verified['periods_rows']} usage_user_periods rows compared)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with database(engine, tmp) as url:
            env = servers.convobase_env(tmp / "data", url)
            _upgrade(env)
            print(
                f"[usage {engine}] loading {events:,} events over {DAYS} days "
                f"for {USERS:,} users ...",
                flush=True,
            )
            loaded = dataset_usage.load(
                url, users=USERS, events=events, password_hash=password_hash, days=DAYS
            )
            started = time.perf_counter()
            asyncio.run(_settle(url))
            analyze_seconds = time.perf_counter() - started
            size_mb = _size_mb(url, tmp / "bench.db")
            print(
                f"[usage {engine}] loaded {loaded.written.events:,} events, "
                f"{loaded.written.daily:,} usage_daily, {loaded.written.latency:,} "
                f"usage_latency_daily and {loaded.written.periods:,} usage_user_periods rows "
                f"in {loaded.seconds:.0f} s "
                f"(+ {analyze_seconds:.0f} s VACUUM/ANALYZE)",
                flush=True,
            )
            per_user = loaded.generator.per_user
            ranked = sorted(range(USERS), key=lambda i: per_user[i])
            heavy, typical = ranked[-1], ranked[len(ranked) // 2]
            start_at = loaded.generator.start_at
            with (
                servers.convobase(env, migrate=False) as base,
                httpx.Client(base_url=base, timeout=60) as client,
            ):
                result = _measure(engine, client, loaded, heavy, typical, start_at, samples=samples)
            end_at = datetime.now(UTC)
            span = service.window(Settings(), start_at, end_at)
            result["queries"] = asyncio.run(
                _profile(
                    url,
                    {
                        "heavy user": loaded.people.users[heavy][0],
                        "typical user": loaded.people.users[typical][0],
                        "admin": None,
                    },
                    span,
                )
            )
    written = loaded.written
    result["verify"] = verified
    result["dataset"] = {
        "users": USERS,
        "admins": 1,
        "days": DAYS,
        "events": written.events,
        "usage_daily_rows": written.daily,
        "usage_daily_system_rows": written.system_daily,
        "usage_latency_daily_rows": written.latency,
        "usage_user_periods_rows": written.periods,
        "heavy_user_events": per_user[heavy],
        "typical_user_events": per_user[typical],
        "load_seconds": round(loaded.seconds, 1),
        "load_seconds_rows": round(written.seconds_rows, 1),
        "load_seconds_indexes": round(written.seconds_indexes, 1),
        "load_seconds_periods": round(written.seconds_periods, 1),
        "analyze_seconds": round(analyze_seconds, 1),
        "planner_statistics": engine == "postgres",  # see _settle
        "database_mb": size_mb,
    }
    slowest = {
        scope: max(queries, key=lambda q: q["median_ms"])
        for scope, queries in result["queries"].items()
    }
    for scope, query in slowest.items():
        result["rows"].append(
            {
                "metric": f"slowest SQL, {scope}: {query['name']} (direct)",
                "p50_ms": query["median_ms"],
                "p95_ms": query["p95_ms"],
                "max_ms": query["max_ms"],
            }
        )
    result["checks"].insert(
        0,
        {
            "check": "bulk-loaded rows = the API's (verify)",
            "value": f"{verified['events']} events, {len(verified['mismatches'])} mismatches",
            "target": "identical",
            "ok": verified["ok"],
        },
    )
    result["scale"] = scale
    return result


def _upgrade(env: dict[str, str]) -> None:
    subprocess.run(
        [str(servers.BIN / "convobase"), "db", "upgrade"], env=env, check=True, capture_output=True
    )


async def _settle(url: str) -> None:
    """Statistics as a live database would have them. PostgreSQL: what autovacuum does after
    a bulk load (planner statistics, and the visibility map of the rollup tables). SQLite: none,
    on purpose: the app never runs ANALYZE (or PRAGMA optimize), so a real database has no
    sqlite_stat1, and with it the planner picks other plans for the summaries (for the admin's
    top users a skip-scan of the primary key that is twice as slow here)."""
    if make_url(url).get_backend_name() == "sqlite":
        return
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("VACUUM (ANALYZE) usage_daily, usage_latency_daily, usage_user_periods")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _size_mb(url: str, sqlite_file: Path) -> int:
    if make_url(url).get_backend_name() == "sqlite":
        return round(sqlite_file.stat().st_size / 1e6)
    return round(asyncio.run(_pg_size(url)) / 1e6)


async def _pg_size(url: str) -> int:
    conn = await asyncpg.connect(_dsn(url))
    try:
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return int(size)


def _measure(
    engine: str,
    client: httpx.Client,
    loaded: dataset_usage.Loaded,
    heavy: int,
    typical: int,
    start_at: datetime,
    *,
    samples: int,
) -> dict[str, Any]:
    users = loaded.people.users
    heavy_auth = _login(client, users[heavy][1])
    typical_auth = _login(client, users[typical][1])
    admin_auth = _login(client, loaded.people.admin[1])
    client.cookies.clear()  # Bearer tokens only
    window = {"start": start_at.isoformat(), "end": datetime.now(UTC).isoformat()}
    per_user = loaded.generator.per_user
    calls = {
        "me": lambda: client.get("/api/v1/auth/me", headers=typical_auth),
        "heavy": lambda: client.get("/api/v1/usage/summary", params=window, headers=heavy_auth),
        "typical": lambda: client.get("/api/v1/usage/summary", params=window, headers=typical_auth),
        "admin": lambda: client.get(
            "/api/v1/admin/usage/summary", params={**window, "top": 10}, headers=admin_auth
        ),
    }
    # The summaries must count every generated event of the range.
    got = {name: calls[name]().json()["totals"]["requests"] for name in ("heavy", "typical")}
    admin = calls["admin"]().json()
    totals_ok = (
        got["heavy"] == per_user[heavy]
        and got["typical"] == per_user[typical]
        and admin["totals"]["requests"] == loaded.written.events
        and len(admin["top_users"]) == 10
    )
    for _ in range(WARMUP):
        for call in calls.values():
            timed(call)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(samples):  # interleaved, so noise falls on every measure alike
        for name, call in calls.items():
            times[name].append(timed(call))

    def row(metric: str, values: list[float]) -> dict[str, Any]:
        return {
            "metric": metric,
            "p50_ms": statistics.median(values),
            "p95_ms": p(values, 95),
            "max_ms": max(values),
        }

    rows = [
        row("GET /auth/me (baseline)", times["me"]),
        row(f"user summary, 90 d, heaviest user ({per_user[heavy]:,} events)", times["heavy"]),
        row(f"user summary, 90 d, median user ({per_user[typical]:,} events)", times["typical"]),
        row("admin summary, 90 d, top 10", times["admin"]),
    ]
    checks = [
        {
            "check": f"{label} summary p95 ms",
            "value": round(p(times[name], 95), 2),
            "target": f"<= {TARGET_MS:g}",
            "ok": p(times[name], 95) <= TARGET_MS,
        }
        for name, label in (
            ("heavy", "heaviest user"),
            ("typical", "median user"),
            ("admin", "admin"),
        )
    ]
    checks.append(
        {
            "check": "summary totals = generated events",
            "value": f"{got['heavy']}/{got['typical']}/{admin['totals']['requests']}",
            "target": f"{per_user[heavy]}/{per_user[typical]}/{loaded.written.events}",
            "ok": totals_ok,
        }
    )
    return {
        "name": f"usage_{engine}",
        "tool": "httpx (sequential keep-alive client)",
        "samples": samples,
        "warmup": WARMUP,
        "window": window,
        "rows": rows,
        "checks": checks,
        "raw_ms": {name: [round(v, 3) for v in values] for name, values in times.items()},
    }


# --- what each SQL statement of a summary costs, and its plan ----------------------------


async def _profile(
    url: str, scopes: dict[str, uuid.UUID | None], span: Window, repeats: int = 30
) -> dict[str, list[dict[str, Any]]]:
    database = Database(url)  # the app's engine setup (SQLite pragmas, pools)
    is_sqlite = database.is_sqlite
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    out: dict[str, list[dict[str, Any]]] = {}
    try:
        for scope, user_id in scopes.items():
            captured.clear()
            event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
            async with database.session(write=False) as db:
                await service.summary(db, user_id, span, top=10 if user_id is None else 0)
            event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
            statements = list(captured)
            names = QUERIES if user_id is None else QUERIES[:-1]
            queries = []
            # Reads as the app does them: on SQLite no BEGIN, statement by statement.
            async with database.engine.execution_options(sqlite_begin="").connect() as conn:
                for name, (statement, parameters) in zip(names, statements, strict=True):
                    times = []
                    for _ in range(repeats):
                        started = time.perf_counter()
                        await conn.exec_driver_sql(statement, parameters)
                        times.append((time.perf_counter() - started) * 1000)
                    prefix = "EXPLAIN QUERY PLAN " if is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
                    plan = await conn.exec_driver_sql(prefix + statement, parameters)
                    lines = [
                        " ".join(str(c) for c in r[-1:]) if is_sqlite else str(r[0])
                        for r in plan.all()
                    ]
                    await conn.rollback()
                    queries.append(
                        {
                            "name": name,
                            "median_ms": round(statistics.median(times), 3),
                            "p95_ms": round(p(times, 95), 3),
                            "max_ms": round(max(times), 3),
                            "sql": statement,
                            "plan": lines,
                        }
                    )
            out[scope] = queries
    finally:
        await database.dispose()
    return out


# --- the bulk loader against the app --------------------------------------------------------


def verify(engine: str, password_hash: str) -> dict[str, Any]:
    """Record a few hundred events through the API into database A, load the same events with
    dataset_usage into database B, and compare the tables and the summaries of A and B.

    The rare kinds of events (errors, timeouts, cancellations, no latency, no model, the
    unpriced model) are made frequent here so that each of them is seen, and the three days
    straddle the start of a month, so that usage_user_periods gets two month rows per user.
    """
    now = datetime.now(UTC)
    end = datetime(now.year, now.month, 2, 12, tzinfo=UTC)  # 1.5 days into this month
    if end > now - timedelta(minutes=1):  # not over yet: the month before
        last_month = end.replace(day=1) - timedelta(days=1)
        end = end.replace(year=last_month.year, month=last_month.month)
    rates = Rates(error=0.05, timeout=0.03, cancelled=0.05, no_latency=0.05, no_model=0.03)
    generator = Generator(users=5, events=400, now=end, days=3, seed=5, rates=rates)
    days = list(generator.generate())
    mismatches: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        with database(engine, tmp / "a") as url_a, database(engine, tmp / "b") as url_b:
            user_rows, people = dataset_usage.make_people(generator.users, password_hash)
            for url, where in ((url_a, tmp / "a"), (url_b, tmp / "b")):
                _upgrade(servers.convobase_env(where / "data", url))
                asyncio.run(dataset_usage.insert_people(url, user_rows))
            # A: through the API.
            env_a = servers.convobase_env(tmp / "a" / "data", url_a)
            with (
                servers.convobase(env_a, migrate=False) as base,
                httpx.Client(base_url=base, timeout=60) as client,
            ):
                auth = [_login(client, email) for _, email in people.users]
                admin = _login(client, people.admin[1])
                client.cookies.clear()
                for day in days:
                    for item in day.events:
                        mismatches += _record(client, auth, day, item)
                summaries_a = _summaries(client, auth, admin, generator.start_at)
            # B: the bulk loader.
            dataset_usage.write(url_b, days, [user_id for user_id, _ in people.users])
            asyncio.run(dataset_usage.fill_user_periods(url_b))
            env_b = servers.convobase_env(tmp / "b" / "data", url_b)
            with (
                servers.convobase(env_b, migrate=False) as base,
                httpx.Client(base_url=base, timeout=60) as client,
            ):
                auth = [_login(client, email) for _, email in people.users]
                admin = _login(client, people.admin[1])
                client.cookies.clear()
                summaries_b = _summaries(client, auth, admin, generator.start_at)
            if summaries_a != summaries_b:
                mismatches.append("summaries differ")
            tables_a = asyncio.run(_tables(url_a))
            tables_b = asyncio.run(_tables(url_b))
            compared = _compare(engine, tables_a, tables_b, mismatches)
    return {
        "ok": not mismatches,
        "events": sum(len(day.events) for day in days),
        "days": len(days),
        "users": generator.users,
        "daily_rows": len(tables_a["usage_daily"]),
        "latency_rows": len(tables_a["usage_latency_daily"]),
        "periods_rows": len(tables_a["usage_user_periods"]),
        "statuses": {
            status: sum(1 for d in days for e in d.events if STATUSES[e[8]] == status)
            for status in STATUSES
        },
        "without_latency": sum(1 for d in days for e in d.events if e[7] is None),
        "without_model": sum(1 for d in days for e in d.events if SPECS[e[2]].model is None),
        "unpriced": sum(1 for d in days for e in d.events if e[9] is None),
        "summaries_compared": len(summaries_a),
        **compared,
        "mismatches": mismatches[:20],
    }


def _record(
    client: httpx.Client, auth: list[dict[str, str]], day: Day, item: tuple[Any, ...]
) -> list[str]:
    at, user, model, t_in, t_out, cached, c_write, latency, status, nano = item
    spec = SPECS[model]
    occurred = dataset_usage.EPOCH + timedelta(microseconds=day.start_us + at)
    body = {
        "endpoint": spec.endpoint,
        "provider": spec.provider,
        "model": spec.model,
        "input_tokens": t_in,
        "output_tokens": t_out,
        "cached_tokens": cached,
        "cache_write_tokens": c_write,
        "latency_ms": latency,
        "status": STATUSES[status],
        "occurred_at": occurred.isoformat(),
    }
    response = client.post("/api/v1/usage/events", json=body, headers=auth[user])
    if response.status_code != 201:
        return [f"POST /usage/events {response.status_code}: {response.text}"]
    out = response.json()
    expected = None if nano is None else nano / 1_000_000_000
    if out["cost_usd"] != expected:
        return [f"cost of {body}: app {out['cost_usd']}, generator {expected}"]
    return []


def _summaries(
    client: httpx.Client, auth: list[dict[str, str]], admin: dict[str, str], start_at: datetime
) -> list[Any]:
    """Every user's and the admin's summary, from the first event on and from the first of
    its month on (so that the top users come from a whole month's rows plus days)."""
    out = []
    end = datetime.now(UTC).isoformat()
    for start in (start_at, start_at.replace(day=1, hour=0, minute=0, second=0)):
        window = {"start": start.isoformat(), "end": end}
        for headers in auth:
            response = client.get("/api/v1/usage/summary", params=window, headers=headers)
            response.raise_for_status()
            out.append(response.json())
        response = client.get(
            "/api/v1/admin/usage/summary", params={**window, "top": 100}, headers=admin
        )
        response.raise_for_status()
        out.append(response.json())
    return out


async def _tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The three usage tables as the app reads them (and, on SQLite, as stored: typeof)."""
    engine = create_async_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        daily = UsageDaily.__table__
        latency = UsageLatencyDaily.__table__
        events = UsageEvent.__table__
        out["usage_daily"] = [
            tuple(r) for r in await conn.execute(select(daily).order_by(*daily.primary_key))
        ]
        out["usage_latency_daily"] = [
            tuple(r) for r in await conn.execute(select(latency).order_by(*latency.primary_key))
        ]
        periods = UsageUserPeriod.__table__
        out["usage_user_periods"] = [
            tuple(r) for r in await conn.execute(select(periods).order_by(*periods.primary_key))
        ]
        columns = [c for c in events.c if c.name != "id"]
        out["usage_events"] = sorted(
            (tuple(r) for r in await conn.execute(select(*columns))),
            key=lambda r: tuple((v is None, str(v)) for v in r),
        )
        out["event_ids"] = [tuple(r) for r in await conn.execute(select(events.c.id))]
        if engine.dialect.name == "sqlite":
            for table, order in (
                ("usage_daily", "user_id, day, provider, model"),
                ("usage_latency_daily", "user_id, day, bucket"),
                ("usage_user_periods", "user_id, kind, start"),
                ("usage_events", "user_id, occurred_at, status, latency_ms, input_tokens"),
            ):
                names = [r[1] for r in await conn.exec_driver_sql(f"PRAGMA table_info({table})")]
                names = [n for n in names if n != "id"]
                typeofs = ", ".join(f'typeof("{n}")' for n in names)
                out[f"{table}:typeof"] = [
                    tuple(r)
                    for r in await conn.exec_driver_sql(
                        f"SELECT {typeofs} FROM {table} ORDER BY {order}"
                    )
                ]
    await engine.dispose()
    return out


def _compare(
    engine: str,
    a: dict[str, list[tuple[Any, ...]]],
    b: dict[str, list[tuple[Any, ...]]],
    mismatches: list[str],
) -> dict[str, Any]:
    """A (the app) against B (the loader). Costs on SQLite are floats that the app sums one
    upsert at a time, so they may differ from the loader's exact sum in the last bits."""
    costs = {
        model.__tablename__: [c.name for c in model.__table__.c].index("cost_usd")
        for model in (UsageDaily, UsageUserPeriod)
    }
    worst = Decimal(0)
    for table in ("usage_daily", "usage_user_periods", "usage_latency_daily", "usage_events"):
        rows_a, rows_b = a[table], b[table]
        if len(rows_a) != len(rows_b):
            mismatches.append(f"{table}: {len(rows_a)} rows via the API, {len(rows_b)} loaded")
            continue
        for row_a, row_b in zip(rows_a, rows_b, strict=True):
            if row_a == row_b:
                continue
            if table in costs and engine == "sqlite":
                cost = costs[table]
                same_but_cost = row_a[:cost] + row_a[cost + 1 :] == row_b[:cost] + row_b[cost + 1 :]
                drift = abs(Decimal(row_a[cost]) - Decimal(row_b[cost]))
                if same_but_cost and drift <= Decimal("1e-9"):
                    worst = max(worst, drift)
                    continue
            mismatches.append(f"{table}: app {row_a} != loader {row_b}")
    for key in a:
        if key.endswith(":typeof") and a[key] != b[key]:
            mismatches.append(f"{key}: stored types differ")
    versions = {uuid.UUID(str(r[0])).version for r in b["event_ids"]}
    if versions != {7}:
        mismatches.append(f"loaded event ids are UUID versions {versions}")
    return {"max_cost_drift_usd": float(worst), "stored_types_compared": engine == "sqlite"}
