"""Starting `convobase serve` as a real process on a free loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def server_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a test server: no CONVOBASE_ setting from outside, fast argon2, and
    ``settings`` as CONVOBASE_<NAME> (lists and dicts as JSON)."""
    from tests.conftest import FAST_ARGON2

    values = {"data_dir": data_dir, **FAST_ARGON2, **settings}
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONVOBASE_")},
        **{
            f"CONVOBASE_{name.upper()}": json.dumps(value)
            if isinstance(value, list | dict)
            else str(value)
            for name, value in values.items()
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


@contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[str]:
    """The server's base URL while it runs; its output goes to ``log``."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "convobase",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, process)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
