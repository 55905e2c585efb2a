"""`convobase` against a machine that says no: one clear line on stderr and a non-zero status
for every known failure (a traceback only with --debug); `serve` saying where it serves; and
the command starting without the heavy imports."""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner, Result

from convobase.cli import app
from tests.conftest import FAST_ARGON2
from tests.fixtures import servers
from tests.fixtures.s3 import S3Server

runner = CliRunner()
PG_HOST = "127.0.0.1:5432"  # the suite's PostgreSQL (trust auth)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(os.environ):
        if key.startswith("CONVOBASE_"):
            monkeypatch.delenv(key)
    values = {
        "CONVOBASE_DATA_DIR": str(tmp_path / "data"),
        **{f"CONVOBASE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture(scope="module")
def postgres_server() -> None:
    async def ping() -> None:
        conn = await asyncpg.connect(servers.PG_ADMIN_DSN, timeout=5)
        await conn.close()

    try:
        servers.blocking(asyncio.run, ping())
    except servers.PG_DOWN as exc:
        servers.unavailable(f"PostgreSQL at {servers.PG_ADMIN_DSN}", exc)


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def one_line_error(result: Result) -> str:
    """The failure's single line on stderr (nothing else there, no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("Error: ", "Configuration error: ")), lines[0]
    return lines[0]


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


MISSING = uuid.uuid4().hex[:8]
# Every command that touches the database, with what it needs to get that far.
COMMANDS = [
    ["db", "upgrade"],
    ["serve", "--port", "0"],
    ["users", "create", "--email", "a@example.com", "--password", "x" * 12],
    ["users", "list"],
    ["users", "disable", "a@example.com"],
    ["users", "delete", "a@example.com", "--yes"],
    ["keys", "rotate"],
    ["prune"],
    ["export", "--user", "a@example.com"],
]


@pytest.mark.usefixtures("env", "postgres_server")
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_names_a_missing_database(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"convobase_missing_{MISSING}"
    monkeypatch.setenv(
        "CONVOBASE_DATABASE_URL", f"postgresql+asyncpg://postgres@{PG_HOST}/{database}"
    )
    result = invoke(*command)
    assert result.exit_code == 1
    line = one_line_error(result)
    assert f'database "{database}" does not exist' in line and "docs/operations.md" in line


@pytest.mark.usefixtures("env", "postgres_server")
def test_a_missing_role_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    role = f"convobase_nobody_{MISSING}"
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", f"postgresql+asyncpg://{role}@{PG_HOST}/postgres")
    result = invoke("db", "upgrade")
    assert result.exit_code == 1
    line = one_line_error(result)
    assert f'role "{role}" does not exist' in line and "docs/operations.md" in line


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("url", "status", "expected"),
    [
        (
            lambda: f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x",
            1,
            "cannot connect to PostgreSQL",
        ),
        (lambda: "postgresql+asyncpg://postgres@no-such-host.invalid/x", 1, "unknown host"),
        (lambda: "nonsense://x", 2, "CONVOBASE_DATABASE_URL cannot be used"),
        (lambda: "not a url", 2, "CONVOBASE_DATABASE_URL cannot be used"),
        (lambda: "postgresql://postgres@127.0.0.1/x", 2, "driver that is not installed"),
        # /sys refuses new entries even to root: a real "permission denied" on any machine.
        (
            lambda: "sqlite+aiosqlite:////sys/convobase-test/convobase.db",
            1,
            "permission denied: /sys/convobase-test",
        ),
    ],
    ids=["refused", "unknown host", "no such dialect", "not a URL", "no driver", "permission"],
)
def test_database_url_failures_are_one_line(
    url: Any, status: int, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", url())
    result = invoke("db", "upgrade")
    assert result.exit_code == status
    assert expected in one_line_error(result)


@pytest.mark.usefixtures("env")
def test_an_unwritable_data_folder_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOBASE_DATA_DIR", "/sys/convobase-test")
    result = invoke("users", "list")
    assert result.exit_code == 1
    assert "permission denied: /sys/convobase-test" in one_line_error(result)


@pytest.mark.usefixtures("env")
def test_an_unmigrated_database_says_to_upgrade() -> None:
    result = invoke("users", "list")
    assert result.exit_code == 1
    assert "convobase db upgrade" in one_line_error(result)


@pytest.mark.usefixtures("env", "postgres_server")
def test_debug_keeps_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CONVOBASE_DATABASE_URL",
        f"postgresql+asyncpg://postgres@{PG_HOST}/convobase_missing_{MISSING}",
    )
    result = invoke("--debug", "db", "upgrade")
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "DBAPIError"  # raised on, for the traceback
    assert "does not exist" in str(result.exception)


@pytest.mark.usefixtures("env")
def test_a_missing_bucket_is_one_line_before_anything_changes(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    created = invoke("users", "create", "--email", "a@example.com", "--password", "x" * 12)
    assert created.exit_code == 0
    s3 = {
        "storage_backend": "s3",
        "s3_endpoint": s3_server.endpoint,
        "s3_bucket": f"convobase-no-such-bucket-{MISSING}",
        "s3_access_key_id": s3_server.access_key_id,
        "s3_secret_access_key": s3_server.secret_access_key,
    }
    for key, value in s3.items():
        monkeypatch.setenv(f"CONVOBASE_{key.upper()}", value)
    for command in (
        ["export", "--user", "a@example.com"],
        ["users", "delete", "a@example.com", "-y"],
    ):
        result = invoke(*command)
        assert result.exit_code == 1
        line = one_line_error(result)
        assert line.endswith(f"S3 bucket does not exist: {s3['s3_bucket']}"), line
    listed = invoke("users", "list", "--json")
    assert [user["email"] for user in json.loads(listed.stdout)] == ["a@example.com"]


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m convobase serve --port 0` on the test's data folder (stopped at the end)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "convobase", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_lines(process: subprocess.Popen[bytes], count: int, timeout: float = 60) -> list[str]:
    """The first ``count`` lines the process prints, or fewer if it goes quiet for ``timeout``
    (read straight from the pipe: a buffered reader could hold lines that select cannot see)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while received.count(b"\n") < count and selector.select(timeout):
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # exited
            received += chunk
    return [line + "\n" for line in received.decode().split("\n")[:count]]


def test_serve_says_where_it_serves_and_how_to_make_the_first_admin(
    served: subprocess.Popen[bytes],
) -> None:
    lines = read_lines(served, 3)
    announced = re.fullmatch(
        r"Convobase on (http://127\.0\.0\.1:(\d+)) — open it in a browser\n", "".join(lines[:1])
    )
    assert announced is not None, lines
    assert int(announced.group(2)) != 0  # the port it really listens on, not the 0 asked for
    assert "No admin account yet" in lines[1]
    assert "users create --email" in lines[1] and "--admin" in lines[1]
    assert "CONVOBASE_ADMIN_EMAIL" in lines[1]
    assert httpx.get(announced.group(1) + "/healthz", timeout=10).status_code == 200


def test_importing_the_cli_does_not_import_the_application() -> None:
    """Every command, `--help` included, pays for what `convobase.cli` imports."""
    heavy = [
        "sqlalchemy", "fastapi", "starlette", "pydantic", "pydantic_settings", "uvicorn",
        "alembic", "httpx", "asyncpg", "aiosqlite", "redis", "obstore", "argon2",
        "convobase.config", "convobase.models", "convobase.runtime", "convobase.app",
    ]  # fmt: skip
    script = (
        "import json, sys, convobase.cli; "
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []
