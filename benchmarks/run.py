"""Run the benchmarks: one command, results in benchmarks/results/*.json and a table.

    python benchmarks/run.py                       # everything, full scale
    python benchmarks/run.py --only auth           # one suite
    python benchmarks/run.py --scale 0.05          # a quick, smaller dataset
    python benchmarks/run.py --only usage --engine sqlite --scale 0.1
    python benchmarks/run.py --only gateway        # ~1 min per engine (SQLite, PostgreSQL)
    python benchmarks/run.py --only transfer --engine sqlite   # 200k-message ChatGPT import
    python benchmarks/run.py --only hotpaths --engine sqlite   # vs a hand-written baseline

Every throughput number is reported next to a bare FastAPI echo endpoint measured in the same
run, because this machine is shared and noisy: the ratio is what the targets are about.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from benchmarks import (
    bench_auth,
    bench_conversations,
    bench_files,
    bench_gateway,
    bench_hotpaths,
    bench_transfer,
    bench_usage,
)
from benchmarks.loadgen import require_wrk

SUITES = ["auth", "conversations", "branches", "files", "usage", "gateway", "transfer", "hotpaths"]
RESULTS = Path(__file__).resolve().parent / "results"
console = Console(width=None if sys.stdout.isatty() else 150)  # wide tables when piped


def machine() -> dict[str, Any]:
    wrk, version = shutil.which("wrk"), None  # the files suite runs without wrk
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        version = (out.stdout or out.stderr).split("\n")[0]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "wrk": version,
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title=result["name"])
    columns = [k for k in result["rows"][0] if k != "metric"]
    table.add_column("metric")
    for column in columns:
        table.add_column(column, justify="right")
    for row in result["rows"]:
        table.add_row(
            row["metric"],
            *(f"{row[c]:,.2f}" if isinstance(row[c], float) else str(row[c]) for c in columns),
        )
    console.print(table)
    checks = Table(title=f"{result['name']}: targets")
    for column in ("check", "value", "target", "result"):
        checks.add_column(column)
    for check in result["checks"]:
        checks.add_row(
            check["check"],
            str(check["value"]),
            check["target"],
            "[green]PASS[/green]" if check["ok"] else "[red]BELOW[/red]",
        )
    console.print(checks)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{result['name']}.json"
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "tool": "wrk",
        **result,
    }
    path.write_text(json.dumps(_without_nan(result), indent=2, default=str) + "\n")
    return path


def _without_nan(value: Any) -> Any:
    """Strict JSON: a measure wrk did not report is null, not NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=SUITES, action="append")
    parser.add_argument(
        "--engine",
        choices=["sqlite", "postgres"],
        action="append",
        help="engines for the conversations, usage, gateway, transfer and hotpaths suites "
        "(default: both)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the 1M-message / 10M-usage-event datasets to load (default 1.0)",
    )
    parser.add_argument("--seconds", type=int, default=8, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument(
        "--file-rounds", type=int, default=10, help="10 MB upload/download rounds (files suite)"
    )
    args = parser.parse_args()
    suites = args.only or SUITES
    if {"auth", "conversations", "hotpaths"} & set(suites):
        require_wrk()
    results = []
    if "auth" in suites:
        results.append(bench_auth.run(seconds=args.seconds, rounds=args.rounds, connections=16))
    if "conversations" in suites:
        for engine in args.engine or ["sqlite", "postgres"]:
            results.append(
                bench_conversations.run(
                    engine=engine, scale=args.scale, seconds=args.seconds, rounds=args.rounds
                )
            )
    if "branches" in suites:
        for engine in args.engine or ["sqlite", "postgres"]:
            results.append(bench_conversations.run_branch_pages(engine=engine))
    if "files" in suites:
        results.append(bench_files.run(rounds=args.file_rounds))
    if "usage" in suites:
        for engine in args.engine or ["sqlite", "postgres"]:
            results.append(bench_usage.run(engine=engine, scale=args.scale))
    if "gateway" in suites:
        results.append(bench_gateway.run(engines=args.engine))
    if "transfer" in suites:
        for engine in args.engine or ["sqlite", "postgres"]:
            results.append(bench_transfer.run(engine=engine, scale=args.scale))
    if "hotpaths" in suites:
        results += bench_hotpaths.run(engines=args.engine, seconds=args.seconds, rounds=args.rounds)
    for result in results:
        show(result)
        console.print(f"written to {save(result).relative_to(Path.cwd())}")


if __name__ == "__main__":
    main()
