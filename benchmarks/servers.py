"""Start and stop the servers under test as real processes on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str, path: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(base + path, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not come up")


@contextmanager
def _process(args: list[str], env: dict[str, str], probe: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*args, "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, probe, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def convobase_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOBASE_")}
    env.update(
        CONVOBASE_DATA_DIR=str(data_dir),
        CONVOBASE_ACCESS_LOG="false",
        CONVOBASE_LOG_LEVEL="warning",
        CONVOBASE_LOGIN_IP_ATTEMPTS="100000",
        CONVOBASE_SIGNUP_IP_ATTEMPTS="100000",
    )
    if database_url:
        env["CONVOBASE_DATABASE_URL"] = database_url
    return env


@contextmanager
def convobase(env: dict[str, str], *, migrate: bool = True) -> Iterator[str]:
    args = [str(BIN / "convobase"), "serve", "--host", "127.0.0.1"]
    if not migrate:
        args.append("--no-migrate")
    with _process(args, env, "/healthz") as base:
        yield base


@contextmanager
def echo() -> Iterator[str]:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.echo_app:app",
        "--host",
        "127.0.0.1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with _process(args, {**os.environ, "PYTHONPATH": str(ROOT)}, "/echo") as base:
        yield base
