"""The README's curl examples, run as written (bash, curl, jq) against a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.process import serve, server_env

pytestmark = pytest.mark.e2e

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        message = f"the README examples need {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with serve(server_env(tmp_path / "data"), tmp_path / "server.log") as base:
        yield base


def shell_block(containing: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (block,) = [b for b in blocks if containing in b]
    return str(block)


def run(block: str, base: str) -> list[dict[str, Any]]:
    """Run ``block`` with bash against ``base``; the JSON documents it printed, in order."""
    script = "set -euo pipefail\n" + block.replace("localhost:8000", base.removeprefix("http://"))
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    decoder, out, documents = json.JSONDecoder(), done.stdout.strip(), []
    while out:  # curl -s prints each answer with no newline after it
        document, end = decoder.raw_decode(out)
        documents.append(document)
        out = out[end:].lstrip()
    return documents


def test_quick_start_then_appending_messages(server: str) -> None:
    signed_up, _me = run(shell_block("/api/v1/auth/signup"), server)
    assert signed_up["user"]["email"] == "ada@example.com"

    question, answer = run(shell_block("/messages"), server)
    assert question["role"] == "user" and question["content"] == "What is a lifetime?"
    assert answer["role"] == "assistant" and answer["parent_id"] == question["id"]
    assert answer["metadata"] == {"model": "gpt-4o", "input_tokens": 12, "output_tokens": 9}
