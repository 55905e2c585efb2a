"""The conversation store at scale, on SQLite and PostgreSQL.

Loads 100k conversations / 1M messages across 1,000 users (``--scale`` shrinks it), plus one
heavy user owning 50,000 conversations with 200 of the others' shared with them, then over
HTTP against `convobase serve`:
- append latency at message 1,000 vs message 10 (interleaved; target ratio <= 1.2);
- append throughput with 16 concurrent clients, as a ratio to a POST echo (target >= 40%);
- p50/p95 of a conversation list page, the last 50 messages and a search
  (targets p95 <= 10 ms, 10 ms, 50 ms); the search as typed (the last word cut short, read as a
  prefix) and the conversation-level search (words anywhere in a conversation) against the same
  50 ms;
- p50/p95 of the heavy user's list pages: the first, one deep in (cursor), pinned only and
  archived only (target p95 <= 10 ms each).
Latencies are taken by one sequential keep-alive client, so they include its own overhead.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks import dataset, servers
from benchmarks.loadgen import run_wrk
from convobase.auth.passwords import PasswordHasher

PASSWORD = "benchmark password"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SAMPLES = 300
HEAVY_CONVERSATIONS = 50_000
HEAVY_SHARED = 200
DEEP_PAGES = 100  # the cursor page is this many pages of 50 down the heavy user's list


@contextmanager
def database(engine: str, tmp: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        return
    name = f"convobase_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def analyze(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return elapsed


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(*, engine: str, scale: float, seconds: int, rounds: int) -> dict[str, Any]:
    users = max(20, round(1000 * scale))
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with database(engine, tmp) as url:
            env = servers.convobase_env(tmp / "data", url)
            subprocess.run(
                [str(servers.BIN / "convobase"), "db", "upgrade"],
                env=env,
                check=True,
                capture_output=True,
            )
            password_hash = asyncio.run(
                PasswordHasher(time_cost=3, memory_kib=65536, parallelism=4).hash(PASSWORD)
            )
            print(
                f"[{engine}] loading {users} users x 100 conversations x 10 messages ...",
                flush=True,
            )
            loaded = asyncio.run(
                dataset.load(
                    url,
                    users=users,
                    conversations_per_user=100,
                    messages_per_conversation=10,
                    password_hash=password_hash,
                )
            )
            heavy = asyncio.run(
                dataset.load_heavy_user(
                    url,
                    conversations=max(1_000, round(HEAVY_CONVERSATIONS * scale)),
                    shared=HEAVY_SHARED,
                    password_hash=password_hash,
                )
            )
            asyncio.run(analyze(url))
            print(
                f"[{engine}] loaded {loaded.messages:,} messages in {loaded.seconds:.0f} s, "
                f"a user with {heavy.conversations:,} conversations (+{heavy.shared} shared) "
                f"in {heavy.seconds:.0f} s",
                flush=True,
            )
            with (
                servers.convobase(env, migrate=False) as base,
                servers.echo() as echo_base,
                httpx.Client(base_url=base, timeout=30) as client,
            ):
                load_before = os.getloadavg()
                result = _measure(
                    engine, client, base, echo_base, loaded, rng, seconds=seconds, rounds=rounds
                )
                baseline = _login(client, loaded.users[0][1])
                load_between = os.getloadavg()
                heavy_rows, heavy_checks = _measure_heavy_lists(client, heavy, baseline, rng)
                load_after = os.getloadavg()
    result["rows"][3:3] = heavy_rows  # after the other reads
    # The machine is shared: its 1/5/15-minute load averages tell how noisy the rounds were.
    result["load_average"] = {
        "before_measuring": load_before,
        "before_heavy_user_lists": load_between,
        "after_heavy_user_lists": load_after,
    }
    result["checks"] += heavy_checks
    result["dataset"] = {
        "users": users,
        "conversations": loaded.conversations,
        "messages": loaded.messages,
        "load_seconds": round(loaded.seconds, 1),
        "heavy_user": {
            "conversations": heavy.conversations,
            "shared_with_them": heavy.shared,
            "pinned": heavy.pinned,
            "archived": heavy.archived,
            "load_seconds": round(heavy.seconds, 1),
        },
    }
    return result


def _login(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['session']['token']}"}


def _measure_heavy_lists(
    client: httpx.Client,
    heavy: dataset.HeavyUser,
    baseline: dict[str, str],
    rng: random.Random,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The heavy user's list pages, the kinds taken in turn (so noise spreads over all), with
    a 100-conversation user's first page in the same turns as the baseline."""
    headers = _login(client, heavy.email)
    url = "/api/v1/conversations"
    cursor = None
    for _ in range(DEEP_PAGES):
        page = client.get(
            url, params={"limit": 50, **({"cursor": cursor} if cursor else {})}, headers=headers
        ).json()
        cursor = page["next_cursor"]
    queries: dict[str, dict[str, Any]] = {
        "heavy user: list page (50)": {"limit": 50},
        f"heavy user: page {DEEP_PAGES + 1} (cursor)": {"limit": 50, "cursor": cursor},
        "heavy user: pinned (50)": {"limit": 50, "pinned": "true"},
        "heavy user: archived (50)": {"limit": 50, "archived": "true"},
    }
    shared_seen = 0
    for params in queries.values():  # warm-up, and a check that pages are filled and mixed
        data = client.get(url, params=params, headers=headers).json()["data"]
        if not data:
            raise RuntimeError(f"{params}: an empty page")
        shared_seen += sum(c["shared"] for c in data)
    if not shared_seen:
        raise RuntimeError("no shared conversation on the heavy user's pages")
    requests = [(name, params, headers) for name, params in queries.items()]
    baseline_name = "baseline: 100-conversation user, list page (50), same turns"
    requests.append((baseline_name, {"limit": 50}, baseline))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in requests}
    for _ in range(SAMPLES):
        for name, params, who in rng.sample(requests, len(requests)):
            samples[name].append(
                timed(lambda p=params, h=who: client.get(url, params=p, headers=h))
            )
    rows = [
        {
            "metric": name,
            "p50_ms": statistics.median(values),
            "p95_ms": p(values, 95),
            "rps": float("nan"),
        }
        for name, values in samples.items()
    ]
    checks = [
        {
            "check": f"{name} p95 ms",
            "value": round(p(values, 95), 2),
            "target": "<= 10",
            "ok": p(values, 95) <= 10,
        }
        for name, values in samples.items()
        if name != baseline_name
    ]
    return rows, checks


def _measure(
    engine: str,
    client: httpx.Client,
    base: str,
    echo_base: str,
    loaded: dataset.Loaded,
    rng: random.Random,
    *,
    seconds: int,
    rounds: int,
) -> dict[str, Any]:
    sessions = [_login(client, email) for _, email in rng.sample(loaded.users, 16)]
    conversations: list[tuple[dict[str, str], str]] = []
    for headers in sessions:
        page = client.get("/api/v1/conversations?limit=100", headers=headers).json()["data"]
        conversations += [(headers, c["id"]) for c in page]

    # Reads on the loaded history.
    list_ms = [
        timed(
            lambda h=rng.choice(sessions): client.get("/api/v1/conversations?limit=50", headers=h)
        )
        for _ in range(SAMPLES)
    ]
    last50_ms = []
    for _ in range(SAMPLES):
        headers, cid = rng.choice(conversations)
        last50_ms.append(
            timed(
                lambda h=headers, c=cid: client.get(
                    f"/api/v1/conversations/{c}/messages?order=desc&limit=50", headers=h
                )
            )
        )
    search_ms = []
    for _ in range(SAMPLES):
        words = " ".join(rng.sample(dataset.WORDS, rng.choice((1, 2))))
        search_ms.append(
            timed(
                lambda h=rng.choice(sessions), q=words: client.get(
                    "/api/v1/search", params={"q": q, "limit": 20}, headers=h
                )
            )
        )

    typed_ms, grouped_ms = [], []
    for _ in range(SAMPLES):  # interleaved, so both see the same machine
        words = rng.sample(dataset.WORDS, rng.choice((1, 2)))
        typing = " ".join([*words[:-1], words[-1][: max(2, len(words[-1]) // 2)]])
        headers = rng.choice(sessions)
        typed_ms.append(
            timed(
                lambda h=headers, q=typing: client.get(
                    "/api/v1/search", params={"q": q, "limit": 20}, headers=h
                )
            )
        )
        grouped_ms.append(
            timed(
                lambda h=headers, q=" ".join(words): client.get(
                    "/api/v1/search/conversations", params={"q": q, "limit": 20}, headers=h
                )
            )
        )

    # Append latency, long vs short conversation, interleaved.
    writer = sessions[0]
    long_id = client.post("/api/v1/conversations", headers=writer, json={}).json()["id"]
    body = {"role": "user", "content": "a benchmark message about kubernetes latency"}
    for _ in range(995):
        client.post(f"/api/v1/conversations/{long_id}/messages", headers=writer, json=body)
    short_ids = []
    for _ in range(100):
        cid = client.post("/api/v1/conversations", headers=writer, json={}).json()["id"]
        for _ in range(9):
            client.post(f"/api/v1/conversations/{cid}/messages", headers=writer, json=body)
        short_ids.append(cid)
    at_1000, at_10 = [], []
    for cid in short_ids:  # each short append is that conversation's 10th message
        at_1000.append(
            timed(
                lambda: client.post(
                    f"/api/v1/conversations/{long_id}/messages", headers=writer, json=body
                )
            )
        )
        at_10.append(
            timed(
                lambda c=cid: client.post(
                    f"/api/v1/conversations/{c}/messages", headers=writer, json=body
                )
            )
        )
    growth = statistics.median(at_1000) / statistics.median(at_10)

    # Append throughput vs a POST echo, 16 connections over 16 conversations.
    paths = [f"/api/v1/conversations/{cid}/messages" for cid in short_ids[:16]]
    post = {
        "headers": {"Content-Type": "application/json", **writer},
        "body": json.dumps(body),
        "method": "POST",
    }
    echo_paths = ["/echo"] * len(paths)  # the same 16 threads x 1 connection as the appends
    run_wrk(f"{echo_base}/echo", seconds=2, connections=16, paths=echo_paths, **post)  # type: ignore[arg-type]
    echo_runs, append_runs = [], []
    for _ in range(rounds):
        echo_runs.append(
            run_wrk(f"{echo_base}/echo", seconds=seconds, connections=16, paths=echo_paths, **post)  # type: ignore[arg-type]
        )
        append_runs.append(
            run_wrk(base + paths[0], seconds=seconds, connections=16, paths=paths, **post)
        )  # type: ignore[arg-type]
    failures = sum(r.non_2xx + r.errors for r in append_runs + echo_runs)
    echo_rps = statistics.median(r.requests_per_second for r in echo_runs)
    append_rps = statistics.median(r.requests_per_second for r in append_runs)

    def row(metric: str, values: list[float]) -> dict[str, Any]:
        return {
            "metric": metric,
            "p50_ms": statistics.median(values),
            "p95_ms": p(values, 95),
            "rps": float("nan"),
        }

    rows = [
        row("list page (50)", list_ms),
        row("last 50 messages", last50_ms),
        row("search (20 hits)", search_ms),
        row("search as typed (prefix)", typed_ms),
        row("conversation search (20)", grouped_ms),
        row("append at message ~10", at_10),
        row("append at message ~1,000", at_1000),
        {
            "metric": "echo POST, 16 conns",
            "p50_ms": statistics.median(r.p50_ms for r in echo_runs),
            "p95_ms": float("nan"),
            "rps": echo_rps,
        },
        {
            "metric": "append POST, 16 conns",
            "p50_ms": statistics.median(r.p50_ms for r in append_runs),
            "p95_ms": float("nan"),
            "rps": append_rps,
        },
    ]
    checks = [
        {
            "check": "append latency @1000 / @10",
            "value": round(growth, 3),
            "target": "<= 1.2",
            "ok": growth <= 1.2,
        },
        {
            "check": "append / echo throughput",
            "value": round(append_rps / echo_rps, 3),
            "target": ">= 0.4",
            "ok": append_rps / echo_rps >= 0.4 and failures == 0,
        },
        {
            "check": "list page p95 ms",
            "value": round(p(list_ms, 95), 2),
            "target": "<= 10",
            "ok": p(list_ms, 95) <= 10,
        },
        {
            "check": "last 50 messages p95 ms",
            "value": round(p(last50_ms, 95), 2),
            "target": "<= 10",
            "ok": p(last50_ms, 95) <= 10,
        },
        {
            "check": "search p95 ms",
            "value": round(p(search_ms, 95), 2),
            "target": "<= 50",
            "ok": p(search_ms, 95) <= 50,
        },
        {
            "check": "search as typed p95 ms",
            "value": round(p(typed_ms, 95), 2),
            "target": "<= 50",
            "ok": p(typed_ms, 95) <= 50,
        },
        {
            "check": "conversation search p95 ms",
            "value": round(p(grouped_ms, 95), 2),
            "target": "<= 50",
            "ok": p(grouped_ms, 95) <= 50,
        },
    ]
    return {
        "name": f"conversations_{engine}",
        "rows": rows,
        "checks": checks,
        "failures": failures,
        "raw": {
            "echo": [r.as_dict() for r in echo_runs],
            "append": [r.as_dict() for r in append_runs],
        },
    }


# Branch pages (issue 17): a page of a conversation's current branch must cost the same at
# 200 and at 20,000 messages. Each conversation's branch crosses BRANCH_FORKS forks (an
# answer regenerated: the old continuation runs on BRANCH_ABANDONED messages, the branch
# follows the new one), spread evenly along it.
BRANCH_LENGTHS = (200, 20_000)
BRANCH_FORKS = 3
BRANCH_ABANDONED = 5
BRANCH_SAMPLES = 200


async def load_branched(url: str, user_id: uuid.UUID, length: int) -> uuid.UUID:
    """A conversation whose current branch is ``length`` messages long, rows shaped as the
    services write them (depth, segment: a first reply continues its parent's segment)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from convobase.db.base import new_id
    from convobase.models import Conversation, Message

    rng = random.Random(length)
    now = datetime.now(UTC) - timedelta(days=1)
    conversation_id = new_id()
    forks = {length * k // (BRANCH_FORKS + 1) for k in range(1, BRANCH_FORKS + 1)}
    rows: list[dict[str, Any]] = []

    def message(parent: uuid.UUID | None, depth: int, segment: uuid.UUID | None) -> uuid.UUID:
        message_id = new_id()
        content = dataset.sentence(rng)
        rows.append(
            {
                "id": message_id,
                "conversation_id": conversation_id,
                "user_id": user_id,
                "parent_id": parent,
                "depth": depth,
                "segment_id": segment or message_id,
                "role": "user" if depth % 2 == 0 else "assistant",
                "parts": [{"type": "text", "text": content}],
                "content": content,
                "meta": {},
                "created_at": now,
                "updated_at": now,
            }
        )
        return message_id

    parent, segment = None, None
    for depth in range(length):
        if depth in forks:  # the first answer and what followed it, then the branch's fork
            below = parent
            for extra in range(BRANCH_ABANDONED):
                below = message(below, depth + extra, segment)
            parent = message(parent, depth, None)
            segment = parent
        else:
            parent = message(parent, depth, segment)
            segment = segment or parent
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(Conversation),
                [
                    {
                        "id": conversation_id,
                        "user_id": user_id,
                        "settings": {},
                        "tags": [],
                        "message_count": len(rows),
                        "last_message_at": now,
                        "last_activity_at": now,
                        "current_leaf_id": parent,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            for start in range(0, len(rows), 2_000):
                await conn.execute(insert(Message), rows[start : start + 2_000])
    finally:
        await engine.dispose()
    return conversation_id


def _branch_cursor(
    client: httpx.Client, headers: dict[str, str], cid: str, skip: int, order: str
) -> str:
    """The cursor after the first ``skip`` messages of the current branch in ``order``."""
    cursor = None
    while skip > 0:
        params: dict[str, Any] = {"leaf_id": "current", "order": order, "limit": min(500, skip)}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"/api/v1/conversations/{cid}/messages", params=params, headers=headers)
        cursor = page.json()["next_cursor"]
        skip -= params["limit"]
    assert cursor is not None
    return cursor


def _measure_branch_pages(
    client: httpx.Client, headers: dict[str, str], conversations: dict[int, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """p50/p95 of four branch pages of 50 on each conversation, interleaved: the first and
    the last, and a next page each way that crosses a fork."""
    kinds: dict[str, dict[int, dict[str, Any]]] = {
        "first 50": {},
        "last 50 (desc)": {},
        "next 50 across a fork": {},
        "next 50 across a fork (desc)": {},
    }
    for length, cid in conversations.items():
        quarter = length // (BRANCH_FORKS + 1)
        kinds["first 50"][length] = {}
        kinds["last 50 (desc)"][length] = {"order": "desc"}
        kinds["next 50 across a fork"][length] = {
            "cursor": _branch_cursor(client, headers, cid, quarter - 25, "asc")
        }
        kinds["next 50 across a fork (desc)"][length] = {
            "order": "desc",
            "cursor": _branch_cursor(client, headers, cid, quarter - 25, "desc"),
        }
    times: dict[tuple[str, int], list[float]] = {(k, n): [] for k in kinds for n in conversations}
    for _ in range(BRANCH_SAMPLES):
        for kind, by_length in kinds.items():
            for length, cid in conversations.items():
                params = {"leaf_id": "current", "limit": 50, **by_length[length]}
                times[kind, length].append(
                    timed(
                        lambda c=cid, q=params: client.get(
                            f"/api/v1/conversations/{c}/messages", params=q, headers=headers
                        )
                    )
                )
    short, long = BRANCH_LENGTHS
    rows, checks = [], []
    for kind in kinds:
        for length in conversations:
            values = times[kind, length]
            rows.append(
                {
                    "metric": f"branch page: {kind}, {length:,} messages",
                    "p50_ms": statistics.median(values),
                    "p95_ms": p(values, 95),
                    "rps": float("nan"),
                }
            )
        ratio = statistics.median(times[kind, long]) / statistics.median(times[kind, short])
        checks.append(
            {
                "check": f"branch page {kind}: p50 at {long:,} / {short:,} messages",
                "value": round(ratio, 3),
                "target": "<= 1.2",
                "ok": ratio <= 1.2,
            }
        )
    return rows, checks


def run_branch_pages(*, engine: str) -> dict[str, Any]:
    """The branch-page measure on its own: a fresh database, one user, one conversation of
    each length in BRANCH_LENGTHS, over HTTP against `convobase serve`."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with database(engine, tmp) as url:
            env = servers.convobase_env(tmp / "data", url)
            subprocess.run(
                [str(servers.BIN / "convobase"), "db", "upgrade"],
                env=env,
                check=True,
                capture_output=True,
            )
            password_hash = asyncio.run(
                PasswordHasher(time_cost=3, memory_kib=65536, parallelism=4).hash(PASSWORD)
            )
            loaded = asyncio.run(
                dataset.load(
                    url,
                    users=20,
                    conversations_per_user=10,
                    messages_per_conversation=10,
                    password_hash=password_hash,
                )
            )
            user_id, email = loaded.users[0]
            conversations = {
                n: str(asyncio.run(load_branched(url, user_id, n))) for n in BRANCH_LENGTHS
            }
            asyncio.run(analyze(url))
            with (
                servers.convobase(env, migrate=False) as base,
                httpx.Client(base_url=base, timeout=30) as client,
            ):
                rows, checks = _measure_branch_pages(client, _login(client, email), conversations)
    return {"name": f"branch_pages_{engine}", "rows": rows, "checks": checks}
