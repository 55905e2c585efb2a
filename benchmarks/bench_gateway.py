"""The gateway's added latency over calling the same local upstream directly.

Target (from the issue): with persistence on, the gateway adds <= 3 ms at p50, non-streamed and
at 50 concurrent streams.

Three processes: the fake OpenAI-compatible upstream (`fake_upstream.py`, uvicorn, one worker),
`convobase serve` (one worker; SQLite by default, then a PostgreSQL database made for the run)
configured with that upstream as its `openai` provider, and this process as the load generator:
asyncio on uvloop, one httpx client with a single keep-alive connection per worker (a shared
50-connection httpx pool costs milliseconds of client CPU a request), the same pre-encoded body
sent either straight to the upstream's `/v1/chat/completions` ("direct") or to the gateway's
with a Bearer session ("gateway"). No `conversation_id` is sent, so every gateway request takes
the full persistence path: a new conversation, the user's message, the answer and a usage event
(with its daily rollups), in one transaction. The run checks that every request was stored.

Measures, each direct and through the gateway (all times in ms):
- non-streamed, sequential (one connection per side, direct and gateway alternating);
- non-streamed, 50 concurrent workers (closed loop), direct and gateway rounds alternating;
- streamed (the upstream sends a role chunk, then 20 one-word chunks 5 ms apart, then finish,
  usage and [DONE]): time to the first body bytes (TTFB) and to the end of the stream,
  sequentially and with 50 concurrent streams, rounds alternating.
Added = gateway quantile minus direct quantile. `gw_cpu_per_req` is the CPU time (all threads,
from /proc) the gateway process spent per gateway request over that phase: the part of the
overhead that machine noise does not move. With 50 closed-loop workers, once the gateway is
CPU-bound its latency is about 50 x that service time (queueing), whatever the client does;
the client's own CPU share is in `load` (per phase) to show it is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from benchmarks import servers
from benchmarks.bench_conversations import PG_ADMIN, database
from benchmarks.bench_files import _children, _serving_pid

TARGET_ADDED_P50_MS = 3.0
CONCURRENCY = 50
CHUNKS = 20
CHUNK_DELAY_MS = 5
PROMPT = "Say hello in five words."
BODY = {"model": "echo-1", "messages": [{"role": "user", "content": PROMPT}]}
# The gateway always asks the upstream for usage when streaming; the direct client asks too, and
# so does the gateway's client (then the gateway forwards that chunk): same bytes either way.
STREAM_BODY = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
CONTENT = json.dumps(BODY).encode()
STREAM_CONTENT = json.dumps(STREAM_BODY).encode()
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Plan:
    """How many requests each measure takes (the defaults fit ~1 minute per engine)."""

    warmup: int = 50
    sequential: int = 150  # per side, non-streamed
    rounds: int = 3  # per side, concurrent
    per_worker: int = 3  # non-streamed requests per worker per concurrent round
    sequential_streams: int = 30  # per side
    streams_per_worker: int = 2  # streams per worker per concurrent round


@dataclass
class Side:
    """Where requests go; one client per concurrent worker, each with a single connection
    (one shared pool for 50 concurrent requests costs httpx milliseconds of CPU a request)."""

    name: str
    url: str
    headers: dict[str, str]
    clients: list[httpx.AsyncClient]
    sent: int = 0  # requests answered in full, warm-up included


@dataclass
class Samples:
    latency: list[float] = field(default_factory=list)  # ms; whole request or whole stream
    ttfb: list[float] = field(default_factory=list)  # ms; streams only
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds
    requests: int = 0


# Processes and their CPU time.


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime, all threads


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Cpu:
    """CPU seconds each process (and this client) spent between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: _cpu_seconds(pid) for name, pid in self.pids.items()}
        self.before["client"] = _self_cpu()

    def stop(self) -> dict[str, float]:
        spent = {name: _cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        spent["client"] = _self_cpu() - self.before["client"]
        return spent


def _upstream_pid(base: str) -> int:
    port = str(urlsplit(base).port).encode()
    for pid in _children(os.getpid()):
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"benchmarks.fake_upstream:app" in args and port in args:
            return pid
    raise RuntimeError(f"no child process serves {base}")


@contextmanager
def _upstream() -> Iterator[str]:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.fake_upstream:app",
        "--host",
        "127.0.0.1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(servers.ROOT),
        "FAKE_UPSTREAM_CHUNKS": str(CHUNKS),
        "FAKE_UPSTREAM_DELAY_MS": str(CHUNK_DELAY_MS),
    }
    with servers._process(args, env, "/healthz") as base:
        yield base


# One request.


async def _call(side: Side, client: httpx.AsyncClient, content: bytes) -> float:
    started = time.perf_counter()
    response = await client.post(side.url, content=content, headers=side.headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or b'"choices"' not in response.content:
        raise RuntimeError(f"{side.name}: {response.status_code} {response.text[:300]}")
    return elapsed


async def _stream(side: Side, client: httpx.AsyncClient, content: bytes) -> tuple[float, float]:
    """(time to the first body bytes, time to the end of the stream), in ms."""
    started = time.perf_counter()
    first: float | None = None
    tail = b""
    async with client.stream("POST", side.url, content=content, headers=side.headers) as r:
        if r.status_code != 200:
            await r.aread()
            raise RuntimeError(f"{side.name}: {r.status_code} {r.text[:300]}")
        async for chunk in r.aiter_raw():
            if first is None:
                first = time.perf_counter()
            tail = (tail + chunk)[-64:]
    ended = time.perf_counter()
    if first is None or not tail.endswith(b"data: [DONE]\n\n"):
        raise RuntimeError(f"{side.name}: the stream did not end with [DONE]: {tail!r}")
    return (first - started) * 1000, (ended - started) * 1000


async def _one(side: Side, client: httpx.AsyncClient, samples: Samples, *, stream: bool) -> None:
    content = STREAM_CONTENT if stream else CONTENT
    if stream:
        ttfb, total = await _stream(side, client, content)
        samples.ttfb.append(ttfb)
        samples.latency.append(total)
    else:
        samples.latency.append(await _call(side, client, content))
    samples.requests += 1
    side.sent += 1


# Rounds.


async def _sequential(
    sides: list[Side], pids: dict[str, int], count: int, *, stream: bool
) -> tuple[dict[str, Samples], dict[str, float]]:
    """``count`` requests per side on one connection each, alternating (who goes first swaps
    every pair); also the CPU every process spent over the whole phase."""
    samples = {side.name: Samples() for side in sides}
    cpu = _Cpu(pids)
    cpu.start()
    started = time.perf_counter()
    for i in range(count):
        for side in sides if i % 2 == 0 else sides[::-1]:
            await _one(side, side.clients[0], samples[side.name], stream=stream)
    wall = time.perf_counter() - started
    spent = cpu.stop()
    for one in samples.values():
        one.wall = wall
    return samples, spent


async def _concurrent(
    side: Side, pids: dict[str, int], per_worker: int, *, stream: bool
) -> Samples:
    """CONCURRENCY workers, each sending ``per_worker`` requests back to back (closed loop)."""
    samples = Samples()

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in range(per_worker):
            await _one(side, client, samples, stream=stream)

    cpu = _Cpu(pids)
    cpu.start()
    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in side.clients))
    samples.wall = time.perf_counter() - started
    samples.cpu = cpu.stop()
    return samples


async def _alternating(
    sides: list[Side], pids: dict[str, int], rounds: int, per_worker: int, *, stream: bool
) -> dict[str, list[Samples]]:
    out: dict[str, list[Samples]] = {side.name: [] for side in sides}
    for i in range(rounds):
        for side in sides if i % 2 == 0 else sides[::-1]:
            out[side.name].append(await _concurrent(side, pids, per_worker, stream=stream))
    return out


def _merge(rounds: list[Samples]) -> Samples:
    merged = Samples()
    for one in rounds:
        merged.latency += one.latency
        merged.ttfb += one.ttfb
        merged.wall += one.wall
        merged.requests += one.requests
        for name, seconds in one.cpu.items():
            merged.cpu[name] = merged.cpu.get(name, 0.0) + seconds
    return merged


# Statistics and rows.


def _q(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _row(
    metric: str, direct: list[float], gateway: list[float], gateway_cpu_ms: float
) -> dict[str, Any]:
    d50, d99, g50, g99 = _q(direct, 50), _q(direct, 99), _q(gateway, 50), _q(gateway, 99)
    return {
        "metric": metric,
        "n": f"{len(direct)}/{len(gateway)}",
        "direct_p50": d50,
        "direct_p99": d99,
        "gw_p50": g50,
        "gw_p99": g99,
        "added_p50": g50 - d50,
        "added_p99": g99 - d99,
        "gw_cpu_per_req": gateway_cpu_ms,
    }


def _load(requests: int, wall: float, cpu: dict[str, float]) -> dict[str, Any]:
    """Throughput and CPU milliseconds per request of every process over a phase."""
    return {
        "requests": requests,
        "seconds": round(wall, 3),
        "requests_per_s": round(requests / wall, 1),
        "cpu_ms_per_request": {
            name: round(seconds * 1000 / requests, 3) for name, seconds in cpu.items()
        },
        "cpu_busy_fraction": {name: round(seconds / wall, 3) for name, seconds in cpu.items()},
    }


# The suite.


async def _measure(
    engine: str, upstream: str, gateway: str, token: str, pids: dict[str, int], plan: Plan
) -> dict[str, Any]:
    # uvicorn closes connections idle for 5 s; dropping them at 3 s on our side avoids reusing
    # one as the server closes it (a worker idle through the other side's round reconnects).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=3)
    timeout = httpx.Timeout(60, connect=10)
    json_type = {"Content-Type": "application/json"}
    async with AsyncExitStack() as stack:

        async def clients() -> list[httpx.AsyncClient]:
            made = [httpx.AsyncClient(limits=limits, timeout=timeout) for _ in range(CONCURRENCY)]
            for client in made:
                await stack.enter_async_context(client)
            return made

        direct = Side("direct", f"{upstream}/v1/chat/completions", json_type, await clients())
        through = Side(
            "gateway",
            f"{gateway}/v1/chat/completions",
            {**json_type, "Authorization": f"Bearer {token}"},
            await clients(),
        )
        sides = [direct, through]
        print(f"[gateway {engine}] warming up ...", flush=True)
        await _sequential(sides, pids, plan.warmup, stream=False)
        await _sequential(sides, pids, 5, stream=True)
        for side in sides:  # opens every worker's connection
            await _concurrent(side, pids, 2, stream=False)
            await _concurrent(side, pids, 1, stream=True)

        print(f"[gateway {engine}] non-streamed, sequential ...", flush=True)
        seq, seq_cpu = await _sequential(sides, pids, plan.sequential, stream=False)
        print(f"[gateway {engine}] non-streamed, {CONCURRENCY} concurrent ...", flush=True)
        conc = await _alternating(sides, pids, plan.rounds, plan.per_worker, stream=False)
        print(f"[gateway {engine}] streamed, sequential ...", flush=True)
        seq_s, seq_s_cpu = await _sequential(sides, pids, plan.sequential_streams, stream=True)
        print(f"[gateway {engine}] streamed, {CONCURRENCY} concurrent ...", flush=True)
        conc_s = await _alternating(sides, pids, plan.rounds, plan.streams_per_worker, stream=True)

    merged = {name: _merge(rounds) for name, rounds in conc.items()}
    merged_s = {name: _merge(rounds) for name, rounds in conc_s.items()}
    d, g = direct.name, through.name
    # The gateway process serves only the gateway's requests: its CPU per request of ours.
    cpu_seq = seq_cpu["gateway"] * 1000 / seq[g].requests
    cpu_seq_s = seq_s_cpu["gateway"] * 1000 / seq_s[g].requests
    cpu_conc = merged[g].cpu["gateway"] * 1000 / merged[g].requests
    cpu_conc_s = merged_s[g].cpu["gateway"] * 1000 / merged_s[g].requests
    c = CONCURRENCY
    rows = [
        _row(f"{engine} non-streamed c=1", seq[d].latency, seq[g].latency, cpu_seq),
        _row(f"{engine} non-streamed c={c}", merged[d].latency, merged[g].latency, cpu_conc),
        _row(f"{engine} stream TTFB c=1", seq_s[d].ttfb, seq_s[g].ttfb, cpu_seq_s),
        _row(f"{engine} stream total c=1", seq_s[d].latency, seq_s[g].latency, cpu_seq_s),
        _row(f"{engine} stream TTFB c={c}", merged_s[d].ttfb, merged_s[g].ttfb, cpu_conc_s),
        _row(f"{engine} stream total c={c}", merged_s[d].latency, merged_s[g].latency, cpu_conc_s),
    ]
    paired = [gw - di for di, gw in zip(seq[d].latency, seq[g].latency, strict=True)]
    pairs = seq[g].requests + seq[d].requests
    pairs_s = seq_s[g].requests + seq_s[d].requests
    return {
        "rows": rows,
        "gateway_requests": through.sent,
        "load": {
            "non-streamed, c=1 (direct and gateway together)": _load(pairs, seq[g].wall, seq_cpu),
            f"non-streamed, c={c}": {
                name: _load(m.requests, m.wall, m.cpu) for name, m in merged.items()
            },
            "streamed, c=1 (direct and gateway together)": _load(pairs_s, seq_s[g].wall, seq_s_cpu),
            f"streamed, c={c}": {
                name: _load(m.requests, m.wall, m.cpu) for name, m in merged_s.items()
            },
        },
        "paired_sequential_added_ms": {"p50": _q(paired, 50), "p99": _q(paired, 99)},
        "raw": {
            "non_streamed_c1_ms": {name: s.latency for name, s in seq.items()},
            f"non_streamed_c{c}_ms": {
                name: [r.latency for r in rounds] for name, rounds in conc.items()
            },
            "stream_c1_ms": {
                name: {"ttfb": s.ttfb, "total": s.latency} for name, s in seq_s.items()
            },
            f"stream_c{c}_ms": {
                name: [{"ttfb": r.ttfb, "total": r.latency} for r in rounds]
                for name, rounds in conc_s.items()
            },
        },
    }


def _providers(upstream: str) -> str:
    return json.dumps(
        [
            {
                "name": "openai",
                "kind": "openai",
                "base_url": f"{upstream}/v1",
                "models": ["echo-1"],
            }
        ]
    )


async def _stored(url: str | None, sqlite_file: Path) -> dict[str, int]:
    """Rows the run left behind: proof that every exchange was persisted."""
    counts = {
        "conversations": "SELECT count(*) FROM conversations",
        "messages": "SELECT count(*) FROM messages",
        "usage_events": "SELECT count(*) FROM usage_events",
    }
    if url is None:
        with sqlite3.connect(sqlite_file) as conn:
            return {t: conn.execute(sql).fetchone()[0] for t, sql in counts.items()}
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return {t: await conn.fetchval(sql) for t, sql in counts.items()}
    finally:
        await conn.close()


def _postgres_available() -> bool:
    async def ping() -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
        await conn.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@contextmanager
def _database(engine: str, tmp: Path) -> Iterator[str | None]:
    """None for SQLite: the default, `convobase.db` in the data folder."""
    if engine == "sqlite":
        yield None
        return
    with database(engine, tmp) as url:
        yield url


def _run_engine(engine: str, plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="convobase-bench-gateway-") as tmp_name:
        tmp = Path(tmp_name)
        with _database(engine, tmp) as url, _upstream() as upstream:
            env = servers.convobase_env(tmp / "data", url)
            env["CONVOBASE_PROVIDERS"] = _providers(upstream)
            with servers.convobase(env) as gateway:
                signed = httpx.post(
                    f"{gateway}/api/v1/auth/signup",
                    json={"email": "gateway@example.com", "password": "benchmark password"},
                    timeout=30,
                )
                signed.raise_for_status()
                token = signed.json()["session"]["token"]
                pids = {"gateway": _serving_pid(gateway), "upstream": _upstream_pid(upstream)}
                load_before = os.getloadavg()
                with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                    result = runner.run(_measure(engine, upstream, gateway, token, pids, plan))
                    result["stored"] = runner.run(_stored(url, tmp / "data" / "convobase.db"))
        result["database"] = url or "SQLite (the default: convobase.db in the data folder)"
    # Other work on the machine shares its CPUs: the 1-minute load average before and after.
    result["loadavg_1min"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    stored, sent = result["stored"], result["gateway_requests"]
    if not stored["conversations"] == stored["usage_events"] == sent == stored["messages"] // 2:
        raise RuntimeError(f"{sent} gateway requests, but stored {stored}")
    return result


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return None
    return uvloop.new_event_loop


def run(*, engines: list[str] | None = None, plan: Plan | None = None) -> dict[str, Any]:
    plan = plan or Plan()
    engines = engines or ["sqlite", "postgres"]
    per_engine: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for engine in engines:
        if engine == "postgres" and not _postgres_available():
            skipped[engine] = "no PostgreSQL at 127.0.0.1:5432"
            print(f"[gateway] skipping postgres: {skipped[engine]}", flush=True)
            continue
        per_engine[engine] = _run_engine(engine, plan)
    rows = [row for result in per_engine.values() for row in result["rows"]]
    checks = []
    for result in per_engine.values():
        for row in result["rows"]:
            if " stream " in row["metric"] and row["metric"].endswith("c=1"):
                continue  # sequential streams are shown; the target is about 50 concurrent
            checks.append(
                {
                    "check": f"added p50 (ms), {row['metric']}",
                    "value": round(row["added_p50"], 2),
                    "target": f"<= {TARGET_ADDED_P50_MS:g}",
                    "ok": row["added_p50"] <= TARGET_ADDED_P50_MS,
                }
            )
    return {
        "name": "gateway",
        "tool": (
            "httpx.AsyncClient on uvloop in the benchmark process (separate from both servers); "
            f"{CONCURRENCY} closed-loop workers or one sequential keep-alive connection per side"
        ),
        "setup": {
            "upstream": "benchmarks/fake_upstream.py under uvicorn, one worker, no access log",
            "gateway": "convobase serve, one worker, access log off, persistence on",
            "request": BODY,
            "stream": (
                f"role chunk, then {CHUNKS} one-word chunks {CHUNK_DELAY_MS} ms apart, finish, "
                "usage, [DONE]"
            ),
            "persistence": "no conversation_id: every gateway request creates a conversation, "
            "stores the user's message and the answer and records a usage event",
            "columns": "ms; n = direct/gateway samples; gw_cpu_per_req = gateway process CPU "
            "ms per gateway request over the phase (all threads)",
            "plan": plan.__dict__,
            "cpus": os.cpu_count(),
        },
        "skipped": skipped,
        "rows": rows,
        "checks": checks,
        "engines": per_engine,
    }
