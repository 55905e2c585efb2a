"""The `convobase` command line, in-process with Typer's runner, on a fresh SQLite folder.

Known failures (an unreachable database, a missing bucket...) and `serve`'s start are in
test_cli_failures.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convobase.cli import EXAMPLE_EMAIL, app
from tests.conftest import FAST_ARGON2

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(__import__("os").environ):
        if key.startswith("CONVOBASE_"):
            monkeypatch.delenv(key)
    values = {
        "CONVOBASE_DATA_DIR": str(tmp_path / "data"),
        **{f"CONVOBASE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
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
        ["db"],
        ["db", "upgrade"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
        ["users", "set-role"],
        ["users", "disable"],
        ["users", "delete"],
        ["keys"],
        ["keys", "rotate"],
        ["prune"],
        ["import"],
        ["export"],
    ],
)
def test_every_command_has_plain_help(command: list[str]) -> None:
    code, out = run(*command, "--help")
    assert code == 0 and "Usage" in out
    # Flags read as flags (`--admin`, `--migrate / --no-migrate`), option values by what they
    # are (`--port PORT`), never by a type such as <bool> or <int range>.
    assert "<bool>" not in out
    options = [line for line in out.splitlines() if line.lstrip().startswith("-")]
    assert options and not [line for line in options if re.search(r"<[a-z ]+>", line)], out


def test_production_without_secret_refuses_with_a_clear_message(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOBASE_ENV", "production")
    code, out = run("db", "upgrade")
    assert code == 2 and "CONVOBASE_SECRET_KEY" in out


@pytest.mark.usefixtures("env")
def test_users_create_asks_for_the_password_only_when_it_is_not_given() -> None:
    code, out = run("users", "create", "--help")
    password = next(line for line in out.splitlines() if "--password " in line)
    assert code == 0 and "[required]" not in password
    assert "--password-stdin" in out and "CONVOBASE_NEW_USER_PASSWORD" in out

    assert run("db", "upgrade")[0] == 0
    code, out = run("users", "create", "--email", "a@example.com", input="typed secret 1\n" * 2)
    assert code == 0 and "Created user a@example.com" in out
    assert "Password:" in out and "Repeat for confirmation:" in out
    assert "typed secret 1" not in out  # hidden
    code, out = run("users", "create", "--email", "b@example.com", input="one password\nanother\n")
    assert code != 0 and "Created" not in out  # the confirmation did not match

    # Non-interactive: the first line of stdin, no prompt, still checked like any password.
    code, out = run(
        "users", "create", "--email", "c@example.com", "--password-stdin", input="from stdin ok\n"
    )
    assert code == 0 and "Created user c@example.com" in out and "Password:" not in out
    code, out = run("users", "create", "--email", "d@example.com", "--password-stdin", input="x\n")
    assert code == 1 and "at least" in out
    code, out = run("users", "create", "--email", "e@example.com", "--password-stdin", input="")
    assert code == 2 and "no password" in out
    code, out = run(
        "users", "create", "--email", "f@example.com", "--password", "x" * 12, "--password-stdin"
    )
    assert code == 2 and "not both" in out


@pytest.mark.usefixtures("env")
def test_users_list_is_whole_when_piped_and_has_json() -> None:
    assert run("db", "upgrade")[0] == 0
    email = "someone.with.a.rather.long.address@a-long-subdomain.example.com"
    name = "A display name long enough to be cut in an eighty column table, " * 2 + "end"
    assert run("users", "create", "--email", email, "--name", name, "--password", "x" * 12)[0] == 0
    assert run("users", "create", "--email", "b@example.com", "--password", "x" * 12)[0] == 0

    code, out = run("users", "list")  # the runner's output is not a terminal, as in a pipe
    lines = out.splitlines()
    assert code == 0 and lines[0].split("\t") == [
        "id",
        "email",
        "name",
        "role",
        "disabled",
        "created",
    ]
    newest, oldest = (line.split("\t") for line in lines[1:])
    assert newest[1] == "b@example.com"
    assert oldest[1:4] == [email, name, "user"]

    code, out = run("users", "list", "--json", "--limit", "1")
    assert code == 0
    (only,) = json.loads(out)
    assert only["email"] == "b@example.com" and only["role"] == "user"
    assert only["disabled"] is False and only["name"] is None and only["id"] and only["created_at"]


def test_export_writes_the_file_its_help_names(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run("export", "--help")
    help_text = re.sub(r"-\s+", "-", " ".join(out.split()))  # undo the help's line wrapping
    named = re.search(r"(convobase-export-\S+\.zip) for " + re.escape(EXAMPLE_EMAIL), help_text)
    assert code == 0 and named is not None, help_text

    assert run("db", "upgrade")[0] == 0
    assert run("users", "create", "--email", EXAMPLE_EMAIL, "--password", "x" * 12)[0] == 0
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    code, out = run("export", "--user", EXAMPLE_EMAIL)
    assert code == 0, out
    assert [p.name for p in workdir.iterdir()] == [named.group(1)]
    assert f"to {named.group(1)}" in out
