"""`convobase import` and `convobase export`, in-process with Typer's runner, on SQLite."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.core.test_cli import env, run  # noqa: F401 (the fixture)
from tests.transfer import chatgpt_data


@pytest.mark.usefixtures("env")
def test_import_then_export(tmp_path: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    code, _ = run("users", "create", "--email", "ada@example.com", "--password", "x" * 16)
    assert code == 0
    source = tmp_path / "conversations.json"
    source.write_bytes(chatgpt_data.as_bytes(chatgpt_data.realistic()))

    code, out = run("import", str(source), "--user", "Ada@Example.com")
    assert code == 0, out
    assert "Importing" in out and "6/6" in out  # the progress bar
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 4}
    assert [cell.strip() for cell in rows["conversations"].split("│")[2:4]] == ["3", "3"]
    assert [cell.strip() for cell in rows["messages"].split("│")[2:4]] == ["11", "3"]
    assert "[cycle]" in out and "[not_an_object]" in out
    code, out = run("import", str(source), "--user", "ada@example.com", "--json")
    assert code == 0, out
    report = json.loads(out[out.index("{") :])
    assert report["conversations"] == {"imported": 0, "skipped": 6}
    assert sum(s["reason"] == "already_imported" for s in report["skipped"]) == 3

    target = tmp_path / "out" / "ada.zip"
    target.parent.mkdir()
    code, out = run("export", "--user", "ada@example.com", "--output", str(target))
    assert code == 0, out
    assert f"Exported ada@example.com to {target}" in out.replace("\n", "")
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["conversations"] == 3 and manifest["counts"]["messages"] == 11
    assert sum(n.endswith(".md") for n in names) == 3
    assert not list(target.parent.glob("*.part"))

    # A Convobase export imports back through the CLI too (into another account).
    assert run("users", "create", "--email", "bob@example.com", "--password", "y" * 16)[0] == 0
    code, out = run("import", str(target), "--user", "bob@example.com", "--json")
    assert code == 0, out
    assert json.loads(out[out.index("{") :])["conversations"]["imported"] == 3


@pytest.mark.usefixtures("env")
def test_import_errors(tmp_path: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    assert run("users", "create", "--email", "ada@example.com", "--password", "x" * 16)[0] == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    code, out = run("import", str(bad), "--user", "ada@example.com")
    assert code == 1 and "Not an export" in out
    code, out = run("import", str(bad), "--user", "ghost@example.com")
    assert code == 1 and "no account ghost@example.com" in out
    code, out = run("import", str(tmp_path / "missing.json"), "--user", "ada@example.com")
    assert code == 2
    code, out = run("export", "--user", "ghost@example.com", "--output", str(tmp_path / "g.zip"))
    assert code == 1 and not (tmp_path / "g.zip").exists()


@pytest.mark.parametrize("command", [["import"], ["export"]])
def test_help(command: list[str]) -> None:
    code, out = run(*command, "--help")
    assert code == 0 and "--user" in out
