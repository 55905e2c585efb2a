"""The `convobase` command line, in-process with Typer's runner, on a fresh SQLite folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from convobase import cli_common
from convobase.cli import app
from tests.conftest import FAST_ARGON2

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(__import__("os").environ):
        if key.startswith("CONVOBASE_"):
            monkeypatch.delenv(key)
    values = {
        "CONVOBASE_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "250",
        **{f"CONVOBASE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    # The consoles were made at import, before COLUMNS was set: tables must not truncate.
    for console in (cli_common.console, cli_common.err):
        monkeypatch.setattr(console, "width", 250)
    return values


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output


@pytest.mark.usefixtures("env")
def test_users_lifecycle() -> None:
    assert run("db", "upgrade")[0] == 0
    code, out = run(
        "users", "create", "--email", "Root@Example.com", "--password", "root password 1", "--admin"
    )
    assert code == 0 and "admin root@example.com" in out
    code, out = run(
        "users",
        "create",
        "--email",
        "u@example.com",
        input="pw is long enough\npw is long enough\n",
    )
    assert code == 0 and "user u@example.com" in out
    code, out = run("users", "create", "--email", "root@example.com", "--password", "x" * 12)
    assert code == 1 and "already exists" in out
    code, out = run("users", "create", "--email", "bad", "--password", "x" * 12)
    assert code == 2 and "invalid email" in out
    code, out = run("users", "create", "--email", "short@example.com", "--password", "short")
    assert code == 1 and "at least" in out
    code, out = run("users", "list")
    assert code == 0 and "root@example.com" in out and "u@example.com" in out
    code, out = run("users", "set-role", "u@example.com", "admin")
    assert code == 0 and "role=admin" in out
    assert run("users", "set-role", "u@example.com", "god")[0] == 2
    code, out = run("users", "disable", "u@example.com")
    assert code == 0 and "disabled=True" in out
    code, out = run("users", "disable", "u@example.com", "--enable")
    assert code == 0 and "disabled=False" in out
    assert run("users", "disable", "ghost@example.com")[0] == 1


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db", "upgrade"],
        ["users", "create"],
        ["users", "list"],
        ["users", "set-role"],
        ["users", "disable"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    code, out = run(*command, "--help")
    assert code == 0 and "Usage" in out


def test_production_without_secret_refuses_with_a_clear_message(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOBASE_ENV", "production")
    code, out = run("db", "upgrade")
    assert code == 2 and "CONVOBASE_SECRET_KEY" in out
