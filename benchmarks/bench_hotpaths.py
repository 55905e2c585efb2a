"""The hot paths at the cost of the work they do: Convobase next to a hand-written baseline.

For each engine (a fresh SQLite file or PostgreSQL database, migrated by `convobase serve`),
three servers run as their own processes, each uvicorn with one worker and no access log:
`convobase serve` (its gateway pointed at `fake_upstream.py`), `baseline_app.py` (plain FastAPI,
the same driver, the same statements and transactions, on the same database) and, for auth/me,
the bare `echo_app.py`. For every hot path, wrk drives Convobase and the baseline in alternating
rounds (16 connections) and this process reads each server's CPU time from /proc/<pid>/stat
(utime + stime, all threads) around every round:

- `auth_me_session`, `auth_me_api_key`: `GET /api/v1/auth/me` with a session token / API key;
- `append_message`: `POST /api/v1/conversations/{id}/messages`, four conversations (one per wrk
  thread), each append continuing the current branch;
- `list_messages_current`: `GET .../messages?leaf_id=current` on a 10-message conversation
  (Convobase only: the baseline does not implement it);
- `chat_completions` / `chat_completions_stream`: `POST /v1/chat/completions` without a
  conversation id (each request stores a new conversation, both messages and a usage event),
  plain and streamed (the fake upstream sends 20 one-word chunks 5 ms apart).

Statements and round trips per request come from running the same requests in this process
through each app with counters on (tests/perf/hotpaths.py and counter.py for Convobase: SQL
statements, and asyncpg round trips including BEGIN/COMMIT/ROLLBACK and the pool's pre-ping;
the baseline counts its own). A check fails when the baseline's statement count differs from
Convobase's, i.e. when the baseline no longer does the same work.

Columns: rps (wrk, median of the rounds), ratio = Convobase / baseline (or / echo), p50/p99 ms
(median of the rounds), cpu_ms = server CPU ms per request, stmts and trips per request.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from tests.perf import hotpaths

from benchmarks import servers
from benchmarks.bench_conversations import database
from benchmarks.bench_files import _children, _serving_pid
from benchmarks.bench_gateway import _cpu_seconds, _postgres_available, _upstream
from benchmarks.loadgen import WrkResult, run_wrk

CONNECTIONS = 16
WRK_TIMEOUT_S = 30  # a streamed answer under 16 connections can take seconds
APPEND_CONVERSATIONS = 4
BASELINE_PATHS = (
    "auth_me_session",
    "auth_me_api_key",
    "append_message",
    "chat_completions",
    "chat_completions_stream",
)


@contextmanager
def baseline(database_url: str, upstream: str) -> Iterator[str]:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.baseline_app:app",
        "--host",
        "127.0.0.1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(servers.ROOT),
        "BASELINE_DATABASE_URL": database_url,
        "BASELINE_UPSTREAM": f"{upstream}/v1",
    }
    with servers._process(args, env, "/api/v1/auth/me") as base:
        yield base


def _uvicorn_pid(base: str, module: bytes) -> int:
    port = str(urlsplit(base).port).encode()
    for pid in _children(os.getpid()):
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if module in args and port in args:
            return pid
    raise RuntimeError(f"no child process serves {base}")


# What wrk sends for each path: (method, path or per-thread paths, headers, body).


def _requests(caller: hotpaths.Caller, appended: list[str], listed: str) -> dict[str, Any]:
    json_type = {"Content-Type": "application/json"}
    session = {**caller.session_headers, **json_type}
    messages = "/api/v1/conversations/{}/messages"
    return {
        "auth_me_session": ("GET", "/api/v1/auth/me", None, caller.session_headers, None),
        "auth_me_api_key": ("GET", "/api/v1/auth/me", None, caller.key_headers, None),
        "append_message": (
            "POST",
            messages.format(appended[0]),
            [messages.format(c) for c in appended],
            session,
            hotpaths.MESSAGE_BODY,
        ),
        "list_messages_current": (
            "GET",
            messages.format(listed) + "?leaf_id=current",
            None,
            caller.session_headers,
            None,
        ),
        "chat_completions": ("POST", "/v1/chat/completions", None, session, hotpaths.CHAT_BODY),
        "chat_completions_stream": (
            "POST",
            "/v1/chat/completions",
            None,
            session,
            hotpaths.STREAM_BODY,
        ),
    }


def _wrk(base: str, pid: int, spec: Any, seconds: int) -> dict[str, Any]:
    method, path, paths, headers, body = spec
    before = _cpu_seconds(pid)
    result: WrkResult = run_wrk(
        base + path,
        seconds=seconds,
        connections=CONNECTIONS,
        method=method,
        headers=headers,
        body=json.dumps(body) if body is not None else None,
        paths=paths,
        timeout_s=WRK_TIMEOUT_S,
    )
    cpu = _cpu_seconds(pid) - before
    return {**result.as_dict(), "cpu_ms_per_request": cpu * 1000 / max(result.requests, 1)}


def _median(rounds: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rounds))


# Setting up the data, over HTTP against the served Convobase.


def _setup(base: str) -> tuple[hotpaths.Caller, list[str], str]:
    with httpx.Client(base_url=base, timeout=30) as client:
        signed = client.post(
            "/api/v1/auth/signup",
            json={"email": "hotpaths@example.com", "password": hotpaths.PASSWORD},
        )
        signed.raise_for_status()
        token = signed.json()["session"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        client.cookies.clear()
        key = client.post("/api/v1/api-keys", json={"name": "bench"}, headers=headers)
        key.raise_for_status()

        def conversation(messages: int) -> str:
            made = client.post("/api/v1/conversations", json={}, headers=headers)
            made.raise_for_status()
            for _ in range(messages):
                client.post(
                    f"/api/v1/conversations/{made.json()['id']}/messages",
                    json=hotpaths.MESSAGE_BODY,
                    headers=headers,
                ).raise_for_status()
            client.cookies.clear()
            return str(made.json()["id"])

        appended = [conversation(1) for _ in range(APPEND_CONVERSATIONS)]
        listed = conversation(10)
    return hotpaths.Caller(token, key.json()["key"], listed), appended, listed


# Counting statements in this process.


async def _count_convobase(url: str, upstream: str, data_dir: Path) -> dict[str, Any]:
    from convobase.app import create_app
    from convobase.config import Settings

    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        providers=hotpaths.providers(upstream),
        access_log=False,
        log_level="warning",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        counted = await hotpaths.count_hot_paths(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            caller = await hotpaths.sign_up(client)
            shapes = {p: await _shape(client, caller, p) for p in BASELINE_PATHS}
    return {
        "counts": {p: c.worst for p, c in counted.items()},
        "round_trip_kinds": {p: c.round_trip_kinds for p, c in counted.items()},
        "sql": {p: c.sql for p, c in counted.items()},
        "caller": caller,
        "shapes": shapes,
    }


async def _shape(client: httpx.AsyncClient, caller: hotpaths.Caller, path: str) -> Any:
    """The keys of an answer (nested), to check the baseline answers alike."""
    response = await hotpaths.send(client, caller, path)
    if path == "chat_completions_stream":
        return sorted(k for k in response.headers if k.startswith("x-convobase"))
    body = response.json()
    return sorted(body) if isinstance(body, dict) else type(body).__name__


async def _count_baseline(url: str, upstream: str, caller: hotpaths.Caller) -> dict[str, Any]:
    os.environ["BASELINE_DATABASE_URL"] = url
    os.environ["BASELINE_UPSTREAM"] = f"{upstream}/v1"
    from benchmarks import baseline_app

    module = importlib.reload(baseline_app)  # reads its environment at import
    counts: dict[str, dict[str, int]] = {}
    shapes: dict[str, Any] = {}
    async with module.app.router.lifespan_context(module.app):
        transport = httpx.ASGITransport(app=module.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in BASELINE_PATHS:
                for _ in range(3):
                    await hotpaths.send(client, caller, path)
                seen = []
                for _ in range(3):
                    before = dict(module.STATS)
                    await hotpaths.send(client, caller, path)
                    seen.append({k: module.STATS[k] - before[k] for k in before})
                counts[path] = {k: max(s[k] for s in seen) for k in seen[0]}
                shapes[path] = await _shape(client, caller, path)
    return {"counts": counts, "shapes": shapes}


# The suite.


def _run_engine(engine: str, *, seconds: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="convobase-bench-hotpaths-") as tmp_name:
        tmp = Path(tmp_name)
        with database(engine, tmp) as url, _upstream() as upstream:
            env = servers.convobase_env(tmp / "data", url)
            env["CONVOBASE_PROVIDERS"] = json.dumps(hotpaths.providers(upstream))
            with servers.convobase(env) as convobase:
                caller, appended, listed = _setup(convobase)
                load_before = os.getloadavg()
                with baseline(url, upstream) as floor, servers.echo() as echo:
                    pids = {
                        "convobase": _serving_pid(convobase),
                        "baseline": _uvicorn_pid(floor, b"benchmarks.baseline_app:app"),
                        "echo": _uvicorn_pid(echo, b"benchmarks.echo_app:app"),
                    }
                    measured = _measure(
                        engine, caller, appended, listed, pids, convobase, floor, echo,
                        seconds=seconds, rounds=rounds,
                    )  # fmt: skip
                load_after = os.getloadavg()
            print(f"[hotpaths {engine}] counting statements in-process ...", flush=True)
            ours = asyncio.run(_count_convobase(url, upstream, tmp / "data-inprocess"))
            floor_counts = asyncio.run(_count_baseline(url, upstream, ours["caller"]))
    return _report(engine, measured, ours, floor_counts, load_before, load_after)


def _measure(
    engine: str,
    caller: hotpaths.Caller,
    appended: list[str],
    listed: str,
    pids: dict[str, int],
    convobase: str,
    floor: str,
    echo: str,
    *,
    seconds: int,
    rounds: int,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    specs = _requests(caller, appended, listed)
    echo_spec = ("GET", "/echo", None, {}, None)
    measured: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in hotpaths.PATHS:
        sides = [("convobase", convobase, specs[path])]
        if path in BASELINE_PATHS:
            sides.append(("baseline", floor, specs[path]))
        if path == "auth_me_session":
            sides.append(("echo", echo, echo_spec))
        print(f"[hotpaths {engine}] {path}: {' / '.join(s[0] for s in sides)} ...", flush=True)
        for name, base, spec in sides:  # warm up: pools, caches, prepared statements
            _wrk(base, pids[name], spec, 2)
        out: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in sides}
        for i in range(rounds):  # alternate, so the machine's noise falls on every side alike
            for name, base, spec in sides if i % 2 == 0 else sides[::-1]:
                out[name].append(_wrk(base, pids[name], spec, seconds))
        measured[path] = out
    return measured


def _report(
    engine: str,
    measured: dict[str, dict[str, list[dict[str, Any]]]],
    ours: dict[str, Any],
    floor: dict[str, Any],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    rows, checks = [], []
    for path, sides in measured.items():
        cb = sides["convobase"]
        row: dict[str, Any] = {
            "metric": path,
            "cb_rps": _median(cb, "requests_per_second"),
            "base_rps": float("nan"),
            "ratio": float("nan"),
            "cb_p50": _median(cb, "p50_ms"),
            "cb_p99": _median(cb, "p99_ms"),
            "base_p50": float("nan"),
            "base_p99": float("nan"),
            "cb_cpu_ms": _median(cb, "cpu_ms_per_request"),
            "base_cpu_ms": float("nan"),
            "cb_stmts": ours["counts"][path]["statements"],
            "cb_trips": ours["counts"][path]["round_trips"] if engine == "postgres" else "-",
            "base_stmts": "-",
            "base_trips": "-",
        }
        if "baseline" in sides:
            base = sides["baseline"]
            row.update(
                base_rps=_median(base, "requests_per_second"),
                base_p50=_median(base, "p50_ms"),
                base_p99=_median(base, "p99_ms"),
                base_cpu_ms=_median(base, "cpu_ms_per_request"),
                base_stmts=floor["counts"][path]["statements"],
                base_trips=floor["counts"][path]["round_trips"] if engine == "postgres" else "-",
            )
            row["ratio"] = row["cb_rps"] / row["base_rps"] if row["base_rps"] else float("nan")
            same = row["base_stmts"] == row["cb_stmts"]
            checks.append(
                {
                    "check": f"{engine} {path}: baseline runs Convobase's statements",
                    "value": f"{row['base_stmts']} vs {row['cb_stmts']}",
                    "target": "equal",
                    "ok": same and ours["shapes"][path] == floor["shapes"][path],
                }
            )
        rows.append(row)
        if "echo" in sides:
            echo = sides["echo"]
            echo_rps = _median(echo, "requests_per_second")
            rows.append(
                {
                    **{k: "-" for k in row},
                    "metric": "echo (GET /echo)",
                    "cb_rps": echo_rps,
                    "ratio": row["cb_rps"] / echo_rps,
                    "cb_p50": _median(echo, "p50_ms"),
                    "cb_p99": _median(echo, "p99_ms"),
                    "cb_cpu_ms": _median(echo, "cpu_ms_per_request"),
                }
            )
    failures = sum(
        r["non_2xx"] + r["errors"]
        for sides in measured.values()
        for rs in sides.values()
        for r in rs
    )
    checks.append(
        {
            "check": f"{engine}: failed requests",
            "value": failures,
            "target": "0",
            "ok": failures == 0,
        }
    )
    return {
        "name": f"hotpaths_{engine}",
        "engine": engine,
        "connections": CONNECTIONS,
        "columns": "rps: wrk requests/s (median of rounds); ratio: Convobase / baseline (echo row: "
        "auth/me session / echo); p50/p99 ms; cpu_ms: server CPU ms per request (/proc utime+"
        "stime); stmts/trips: SQL statements / driver round trips per request (PostgreSQL "
        "trips include BEGIN/COMMIT/ROLLBACK and pre-ping; not counted on SQLite)",
        "loadavg": {"before": load_before, "after": load_after},
        "rows": rows,
        "checks": checks,
        "round_trip_kinds": ours["round_trip_kinds"],
        "statements": ours["sql"],
        "shapes": {"convobase": ours["shapes"], "baseline": floor["shapes"]},
        "raw": measured,
    }


def run(*, engines: list[str] | None, seconds: int, rounds: int) -> list[dict[str, Any]]:
    results = []
    for engine in engines or ["sqlite", "postgres"]:
        if engine == "postgres" and not _postgres_available():
            print("[hotpaths] skipping postgres: no PostgreSQL at 127.0.0.1:5432", flush=True)
            continue
        results.append(_run_engine(engine, seconds=seconds, rounds=rounds))
    return results
