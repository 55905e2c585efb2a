"""Import of a large ChatGPT export and export of the same account (service path, like the CLI).

Generates ChatGPT-shaped ``conversations.json`` files, streamed to disk one conversation at a
time: 10,000 conversations x 20 messages (200,000 messages; each conversation also has the
empty root node and a hidden system message, and every fifth one an edited user message, so a
second branch) and a file a quarter that size. Each file is imported into a fresh database
for one user by `transfer.service.import_file` with a commit per batch (exactly what
`convobase import` runs, without the progress bar), each in a fresh worker process, measuring:
- time and rate (messages/s);
- peak memory growth: the worker's RSS high-water mark (`VmHWM`, reset through
  ``/proc/self/clear_refs`` just before the import) minus its RSS before; Python's own peak
  (tracemalloc is not used: it slows allocation-heavy code several times over);
- the ratio of the two peaks (full file / quarter file): memory must not grow with the file.
Then the full account is exported (`transfer.export.export_zip`, to a file) in a fresh worker:
time, peak memory growth, zip size. MB = 2**20 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = 10_000
MESSAGES = 20
EMAIL = "bench@example.com"


def _node(node_id: str, parent: str | None, role: str, text: str, at: float) -> dict[str, Any]:
    return {
        "id": node_id,
        "parent": parent,
        "children": [],
        "message": {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": at,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": True,
            "weight": 1.0,
            "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
            "recipient": "all",
        },
    }


def _conversation(i: int, messages: int) -> dict[str, Any]:
    t0 = 1_650_000_000.0 + i * 3600
    mapping: dict[str, Any] = {
        "root": {"id": "root", "parent": None, "children": [], "message": None}
    }
    system = _node("sys", "root", "system", "", t0)
    system["message"]["metadata"]["is_visually_hidden_from_conversation"] = True
    mapping["sys"] = system
    parent, last = "sys", "sys"
    for j in range(messages):
        role = "user" if j % 2 == 0 else "assistant"
        words = f"conversation {i} message {j} about topic{(i * 7 + j) % 500} " * 8
        node_id = f"c{i}-m{j}"
        mapping[node_id] = _node(node_id, parent, role, words, t0 + j * 10)
        parent = last = node_id
    if i % 5 == 0:  # an edited first question: a second branch from the system node
        mapping[f"c{i}-edit"] = _node(f"c{i}-edit", "sys", "user", "edited question", t0 + 5)
    for node_id, node in mapping.items():
        if node["parent"]:
            mapping[node["parent"]]["children"].append(node_id)
    return {
        "title": f"Benchmark conversation {i}",
        "create_time": t0,
        "update_time": t0 + messages * 10,
        "mapping": mapping,
        "current_node": last,
        "conversation_id": f"bench-{i:06d}",
        "id": f"bench-{i:06d}",
        "default_model_slug": "gpt-4o",
        "moderation_results": [],
        "is_archived": False,
    }


def generate(path: Path, conversations: int, messages: int) -> int:
    """Write the export one conversation at a time; its total message count."""
    total = 0
    with path.open("w") as out:
        out.write("[")
        for i in range(conversations):
            if i:
                out.write(",\n")
            json.dump(_conversation(i, messages), out)
            total += messages + (1 if i % 5 == 0 else 0)
        out.write("]")
    return total


def _kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")


async def _worker(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: migrate, ensure the user, then import or export, measured."""
    sys.path.insert(0, str(ROOT))
    from convobase.auth.passwords import PasswordHasher
    from convobase.config import Settings
    from convobase.db.migrate import upgrade
    from convobase.runtime import Runtime
    from convobase.transfer import export, service
    from convobase.users import repository
    from convobase.users.service import create_user

    settings = Settings(
        env="test",
        database_url=args.url,
        data_dir=Path(args.data_dir),
        log_level="warning",
        secret_key="b" * 64,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
    )
    runtime = Runtime.from_settings(settings)
    try:
        if args.mode == "import":
            await asyncio.to_thread(upgrade, settings.resolved_database_url)
            async with runtime.database.session() as db:
                await create_user(
                    db,
                    PasswordHasher.from_settings(settings),
                    settings,
                    email=EMAIL,
                    password="bench password 1",
                )
                await db.commit()
        async with runtime.database.session() as db:
            user = await repository.get_by_email(db, EMAIL)
            assert user is not None
        before = _kb("VmRSS")
        _reset_hwm()
        started = time.perf_counter()
        result: dict[str, Any] = {}
        if args.mode == "import":
            async with runtime.database.session() as db:
                report = await service.import_file(
                    db, runtime.storage, settings, user, Path(args.file), commit=db.commit
                )
                await db.commit()
            result["conversations"] = report.conversations.imported
            result["messages"] = report.messages.imported
            result["skipped"] = report.conversations.skipped
        else:
            size = 0
            with Path(args.file).open("wb") as out:  # noqa: ASYNC230 (the measured path's own)
                async for chunk in export.export_zip(runtime.database, runtime.storage, user.id):
                    out.write(chunk)
                    size += len(chunk)
            result["zip_mb"] = size / 2**20
        result["seconds"] = time.perf_counter() - started
        result["rss_before_mb"] = before / 1024
        result["peak_growth_mb"] = (_kb("VmHWM") - before) / 1024
        return result
    finally:
        await runtime.close()


def _spawn(mode: str, url: str, data_dir: Path, file: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_transfer",
            "worker",
            mode,
            url,
            str(data_dir),
            str(file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{mode} worker failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(*, engine: str, scale: float) -> dict[str, Any]:
    from benchmarks.bench_conversations import database

    conversations = max(int(CONVERSATIONS * scale), 40)
    with tempfile.TemporaryDirectory(prefix="cb-transfer-") as tmp_name:
        tmp = Path(tmp_name)
        runs: dict[str, dict[str, Any]] = {}
        for label, count in (("quarter", conversations // 4), ("full", conversations)):
            source = tmp / f"{label}.json"
            started = time.perf_counter()
            expected = generate(source, count, MESSAGES)
            generated = time.perf_counter() - started
            with database(engine, _folder(tmp / label)) as url:
                data_dir = tmp / label / "data"
                result = _spawn("import", url, data_dir, source)
                result.update(
                    file_mb=source.stat().st_size / 2**20,
                    generated_s=generated,
                    expected_messages=expected,
                    rate=result["messages"] / result["seconds"],
                )
                if label == "full":
                    runs["export"] = _spawn("export", url, data_dir, tmp / "export.zip")
            runs[label] = result
            source.unlink()
    full, quarter, exported = runs["full"], runs["quarter"], runs["export"]
    ratio = full["peak_growth_mb"] / max(quarter["peak_growth_mb"], 0.1)
    rows = [
        {
            "metric": f"import {label} ({r['conversations']:,} conv, {r['messages']:,} msg, "
            f"{r['file_mb']:.0f} MB)",
            "seconds": r["seconds"],
            "messages_per_s": r["rate"],
            "peak_mb": r["peak_growth_mb"],
        }
        for label, r in (("1/4", quarter), ("full", full))
    ]
    rows.append(
        {
            "metric": f"export full ({exported['zip_mb']:.0f} MB zip)",
            "seconds": exported["seconds"],
            "messages_per_s": full["messages"] / exported["seconds"],
            "peak_mb": exported["peak_growth_mb"],
        }
    )
    checks = [
        {
            "check": "every message imported",
            "value": f"{full['messages']:,}/{full['expected_messages']:,}",
            "target": "all",
            "ok": full["messages"] == full["expected_messages"] and full["skipped"] == 0,
        },
        {
            "check": "peak memory full / 1/4 file",
            "value": round(ratio, 2),
            "target": "<= 1.5",
            "ok": ratio <= 1.5,
        },
        {
            "check": "export peak memory (MB)",
            "value": round(exported["peak_growth_mb"], 1),
            "target": "<= 100",
            "ok": exported["peak_growth_mb"] <= 100,
        },
    ]
    return {
        "name": f"transfer_{engine}",
        "engine": engine,
        "scale": scale,
        "rows": rows,
        "checks": checks,
        "raw": runs,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["worker"])
    parser.add_argument("mode", choices=["import", "export"])
    parser.add_argument("url")
    parser.add_argument("data_dir")
    parser.add_argument("file")
    arguments = parser.parse_args()
    os.environ.pop("CONVOBASE_DATABASE_URL", None)
    print(json.dumps(asyncio.run(_worker(arguments))))
