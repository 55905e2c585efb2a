"""Authenticated GET /api/v1/auth/me against the echo ceiling (target: >= 50%)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx

from benchmarks import servers
from benchmarks.loadgen import run_wrk

TARGET_RATIO = 0.50


def run(*, seconds: int, rounds: int, connections: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        servers.convobase(servers.convobase_env(Path(tmp))) as base,
        servers.echo() as echo_base,
    ):
        signed = httpx.post(
            f"{base}/api/v1/auth/signup",
            timeout=30,
            json={"email": "bench@example.com", "password": "benchmark password"},
        )
        signed.raise_for_status()
        headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}
        # Warm up both (imports, caches, connection pools).
        run_wrk(f"{echo_base}/echo", seconds=2, connections=connections)
        run_wrk(f"{base}/api/v1/auth/me", seconds=2, connections=connections, headers=headers)
        echo_rounds, me_rounds = [], []
        for _ in range(rounds):  # alternate, so noise falls on both alike
            echo_rounds.append(
                run_wrk(f"{echo_base}/echo", seconds=seconds, connections=connections)
            )
            me_rounds.append(
                run_wrk(
                    f"{base}/api/v1/auth/me",
                    seconds=seconds,
                    connections=connections,
                    headers=headers,
                )
            )
    failures = sum(r.non_2xx + r.errors for r in me_rounds + echo_rounds)
    echo_rps = statistics.median(r.requests_per_second for r in echo_rounds)
    me_rps = statistics.median(r.requests_per_second for r in me_rounds)
    ratio = me_rps / echo_rps
    return {
        "name": "auth_me",
        "connections": connections,
        "seconds": seconds,
        "rounds": rounds,
        "failures": failures,
        "rows": [
            {
                "metric": "echo GET",
                "rps": echo_rps,
                "p50_ms": statistics.median(r.p50_ms for r in echo_rounds),
                "p99_ms": statistics.median(r.p99_ms for r in echo_rounds),
            },
            {
                "metric": "GET /api/v1/auth/me",
                "rps": me_rps,
                "p50_ms": statistics.median(r.p50_ms for r in me_rounds),
                "p99_ms": statistics.median(r.p99_ms for r in me_rounds),
            },
        ],
        "checks": [
            {
                "check": "me / echo throughput",
                "value": round(ratio, 3),
                "target": f">= {TARGET_RATIO}",
                "ok": ratio >= TARGET_RATIO and failures == 0,
            }
        ],
        "raw": {"echo": [r.as_dict() for r in echo_rounds], "me": [r.as_dict() for r in me_rounds]},
    }
