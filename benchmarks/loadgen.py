"""wrk as the load generator (C; one thread unless requests are spread over several paths)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed for the throughput benchmarks: apt-get install -y wrk")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _script(method: str, headers: dict[str, str], body: str | None, paths: list[str] | None) -> str:
    lines = [f"wrk.method = {json.dumps(method)}"]
    for name, value in headers.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    if paths:
        # One static request per wrk thread (a request() function would stop wrk recording
        # latencies): thread n sends to paths[n].
        lines += [
            "local paths = {" + ", ".join(json.dumps(p) for p in paths) + "}",
            "local counter = 0",
            "function setup(thread) thread:set('id', counter) counter = counter + 1 end",
            "function init(args) wrk.path = paths[id % #paths + 1] end",
        ]
    return "\n".join(lines) + "\n"


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return match.group(1)


def run_wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    paths: list[str] | None = None,
    timeout_s: int | None = None,
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(_script(method, headers or {}, body, paths))
        script = handle.name
    threads = len(paths) if paths else 1
    # wrk's default 2 s timeout counts slower answers (long streams under load) as errors.
    timeout = ["--timeout", f"{timeout_s}s"] if timeout_s else []
    try:
        out = subprocess.run(
            [
                require_wrk(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                *timeout,
                "-s",
                script,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    # wrk sometimes prints no latency distribution for slow POST runs; throughput still holds.
    percent = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests_per_second=float(_search(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(percent["50"]) if "50" in percent else float("nan"),
        p99_ms=_ms(percent["99"]) if "99" in percent else float("nan"),
        requests=int(_search(r"(\d+) requests in", out)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )
