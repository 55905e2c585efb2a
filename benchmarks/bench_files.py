"""Files: 10 MB upload and download times, and the server's memory while 200 MB arrive.

Targets (absolute, from the issue): a 10 MB upload and a 10 MB download each take <= 0.3 s
(p50), and the serving process's peak RSS grows by <= 20 MB while a 200 MB file is uploaded.

The server is the real `convobase serve` process (SQLite, `local` storage in a temporary data
folder). The client is one keep-alive httpx client in this process that streams a multipart
body it builds itself from a generator, so nothing is ever read from disk or held whole on the
client side. Every round's file starts with a unique line, so content-addressed storage really
stores each one. Next to each round, the same 10 MB are written to a file beside the data folder
(same file system; flushed and fsynced, as `local` storage does) and read back: the disk
baseline. (No HTTP baseline: the echo app's POST takes and returns a small JSON body.)

Memory is read from /proc: the serving process's RSS high-water mark (`VmHWM`) is reset just
before the 200 MB upload (`echo 5 > /proc/<pid>/clear_refs`) and read after it; a thread also
samples `VmRSS` every 10 ms as a cross-check (and as the measure where the reset is refused).
MB here means 2**20 bytes.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from benchmarks import servers

MB = 1024 * 1024
SMALL_SIZE = 10 * MB
LARGE_SIZE = 200 * MB
UPLOAD_MAX = 300 * MB
CHUNK = MB  # what the client hands to the socket at a time
TARGET_SECONDS = 0.3
TARGET_GROWTH_MB = 20.0
SAMPLE_EVERY = 0.01


# Payloads: ASCII lines (text/plain is in the allow-list; the type is decided from the bytes).


def _block() -> bytes:
    """1 MB of numbered ASCII lines."""
    lines, size, n = [], 0, 0
    while size < CHUNK:
        line = f"{n:08d} the quick brown fox jumps over the lazy dog, benchmark filler text\n"
        lines.append(line)
        size += len(line)
        n += 1
    return "".join(lines).encode()[:CHUNK]


BLOCK = _block()


class Payload:
    """``size`` bytes of text, unique to this payload (its first line), produced on demand."""

    def __init__(self, size: int) -> None:
        self.size = size
        head = f"convobase files benchmark {uuid.uuid4()}\n".encode()
        self.first = head + BLOCK[len(head) :]
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        self.sha256 = digest.hexdigest()

    def chunks(self) -> Iterator[bytes]:
        """The bytes in CHUNK-sized pieces (no copies: the pieces are shared blocks)."""
        sent = 0
        while sent < self.size:
            piece = (self.first if sent == 0 else BLOCK)[: self.size - sent]
            yield piece
            sent += len(piece)


def _multipart(payload: Payload, filename: str) -> tuple[dict[str, str], Iterator[bytes]]:
    """Headers and a streamed multipart/form-data body with ``payload`` as the field `file`."""
    boundary = uuid.uuid4().hex
    preamble = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    epilogue = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield preamble
        yield from payload.chunks()
        yield epilogue

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(preamble) + payload.size + len(epilogue)),
    }
    return headers, body()


# The serving process and its memory.


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _serving_pid(base: str) -> int:
    """The pid of the process that serves ``base``: our `convobase serve` child (or its worker)."""
    port = str(urlsplit(base).port)
    for pid in _children(os.getpid()):
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"serve" in args and port.encode() in args:
            workers = _children(pid)  # uvicorn runs in-process with one worker; else one child
            if len(workers) > 1:
                raise RuntimeError(f"convobase serve has {len(workers)} children; expected <= 1")
            return workers[0] if workers else pid
    raise RuntimeError(f"no child process serves {base}")


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/{pid}/status")


def _reset_hwm(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS; False when the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kb(pid, "VmHWM") <= _status_kb(pid, "VmRSS") + 256


class _RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = _status_kb(pid, "VmRSS")
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_EVERY):
            self.peak_kb = max(self.peak_kb, _status_kb(self.pid, "VmRSS"))
            self.samples += 1

    def __enter__(self) -> _RssSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join()


def _measure_memory(pid: int, action: Any) -> dict[str, Any]:
    """Run ``action`` and report how far the serving process's RSS rose above where it stood."""
    reset = _reset_hwm(pid)
    before_kb = _status_kb(pid, "VmRSS")
    with _RssSampler(pid) as sampler:
        seconds = action()
    after_kb = _status_kb(pid, "VmRSS")
    hwm_kb = _status_kb(pid, "VmHWM")
    sampled_mb = (sampler.peak_kb - before_kb) / 1024
    hwm_mb = (hwm_kb - before_kb) / 1024 if reset else None
    return {
        "seconds": seconds,
        "rss_before_mb": before_kb / 1024,
        "rss_after_mb": after_kb / 1024,
        "vmhwm_after_mb": hwm_kb / 1024,
        "hwm_reset": reset,
        "growth_vmhwm_mb": hwm_mb,
        "growth_sampled_mb": sampled_mb,
        "rss_samples": sampler.samples,
        # VmHWM is exact but the kernel syncs per-thread RSS counters lazily, so the samples
        # can peek a little higher: the larger of the two is reported.
        "growth_mb": max(hwm_mb, sampled_mb) if hwm_mb is not None else sampled_mb,
        "measured_by": (
            "max(VmHWM after clear_refs, VmRSS sampled every 10 ms)"
            if reset
            else "VmRSS sampled every 10 ms (clear_refs refused)"
        ),
    }


# HTTP and disk operations, each timed.


def _upload(
    client: httpx.Client, base: str, payload: Payload, name: str
) -> tuple[float, dict[str, Any]]:
    headers, body = _multipart(payload, name)
    started = time.perf_counter()
    response = client.post(f"{base}/api/v1/files", headers=headers, content=body)
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    file: dict[str, Any] = response.json()
    if file["sha256"] != payload.sha256 or file["size"] != payload.size:
        raise RuntimeError(f"the server stored {file['sha256']} ({file['size']} B), not ours")
    return seconds, file


def _download(client: httpx.Client, base: str, file: dict[str, Any]) -> float:
    """Read the whole content; the bytes are hashed after the clock stops when they fit in
    memory (10 MB), on the way for larger files (which then includes the client's hashing)."""
    digest = hashlib.sha256()
    held: list[bytes] | None = [] if file["size"] <= SMALL_SIZE else None
    size = 0
    started = time.perf_counter()
    with client.stream("GET", f"{base}/api/v1/files/{file['id']}/content") as response:
        if response.status_code != 200:
            raise RuntimeError(f"download answered {response.status_code}")
        for chunk in response.iter_bytes():
            size += len(chunk)
            if held is None:
                digest.update(chunk)
            else:
                held.append(chunk)
    seconds = time.perf_counter() - started
    for chunk in held or ():
        digest.update(chunk)
    if size != file["size"] or digest.hexdigest() != file["sha256"]:
        raise RuntimeError(f"downloaded {size} B with another SHA-256 than uploaded")
    return seconds


def _disk(folder: Path, payload: Payload) -> tuple[float, float]:
    """Write ``payload`` to a file (flush + fsync, as `local` storage does), then read it back."""
    path = folder / f"disk-{uuid.uuid4().hex}"
    started = time.perf_counter()
    with path.open("wb") as handle:
        for chunk in payload.chunks():
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    written = time.perf_counter() - started
    started = time.perf_counter()
    with path.open("rb") as handle:
        while handle.read(CHUNK):
            pass
    read = time.perf_counter() - started
    path.unlink()
    return written, read


# The suite.


def _row(
    metric: str, seconds: list[float], size: int, growth: float | None = None
) -> dict[str, Any]:
    p50 = statistics.median(seconds)
    return {
        "metric": metric,
        "rounds": len(seconds),
        "p50_ms": p50 * 1000,
        "p95_ms": _p95(seconds) * 1000,
        "min_ms": min(seconds) * 1000,
        "MB_per_s": size / MB / p50,
        "rss_growth_MB": "-" if growth is None else round(growth, 1),
    }


def _p95(values: list[float]) -> float:
    """Nearest-rank p95 (with up to 20 rounds, that is the slowest round)."""
    ordered = sorted(values)
    rank = max(1, -(-95 * len(ordered) // 100))
    return ordered[rank - 1]


def run(*, rounds: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="convobase-bench-files-") as tmp:
        data_dir, scratch = Path(tmp) / "data", Path(tmp) / "scratch"
        scratch.mkdir()
        env = servers.convobase_env(data_dir)
        env.update(CONVOBASE_UPLOAD_MAX_BYTES=str(UPLOAD_MAX), CONVOBASE_STORAGE_BACKEND="local")
        with (
            servers.convobase(env) as base,
            httpx.Client(timeout=httpx.Timeout(120, connect=10)) as client,
        ):
            pid = _serving_pid(base)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            signed = client.post(
                f"{base}/api/v1/auth/signup",
                json={"email": "files@example.com", "password": "benchmark password"},
            )
            signed.raise_for_status()
            client.headers["Authorization"] = f"Bearer {signed.json()['session']['token']}"
            # Warm up: imports, the multipart parser, storage folders, thread pool, page cache.
            _, small = _upload(client, base, Payload(64 * 1024), "warmup-small.txt")
            _download(client, base, small)
            warm = Payload(SMALL_SIZE)
            _disk(scratch, warm)
            _, warm_file = _upload(client, base, warm, "warmup.txt")
            _download(client, base, warm_file)

            uploads, downloads, writes, reads = [], [], [], []
            for index in range(rounds):  # interleaved, so noise falls on all alike
                payload = Payload(SMALL_SIZE)
                written, read = _disk(scratch, payload)
                writes.append(written)
                reads.append(read)
                seconds, file = _upload(client, base, payload, f"round-{index}.txt")
                uploads.append(seconds)
                downloads.append(_download(client, base, file))

            large = Payload(LARGE_SIZE)
            large_file: dict[str, Any] = {}

            def upload_large() -> float:
                seconds, file = _upload(client, base, large, "large.txt")
                large_file.update(file)
                return seconds

            upload_memory = _measure_memory(pid, upload_large)
            download_memory = _measure_memory(pid, lambda: _download(client, base, large_file))
            leftovers = sorted(p.name for p in (data_dir / "tmp").glob("*"))

    upload_p50, download_p50 = statistics.median(uploads), statistics.median(downloads)
    disk_write_p50, disk_read_p50 = statistics.median(writes), statistics.median(reads)
    growth = upload_memory["growth_mb"]
    return {
        "name": "files",
        "tool": "httpx (streamed multipart body from a generator; one keep-alive client)",
        "rounds": rounds,
        "sizes_mb": {"small": SMALL_SIZE // MB, "large": LARGE_SIZE // MB},
        "server": {"pid": pid, "cmdline": cmdline},
        "rows": [
            _row("upload 10 MB", uploads, SMALL_SIZE),
            _row("download 10 MB", downloads, SMALL_SIZE),
            _row("disk: write+fsync 10 MB", writes, SMALL_SIZE),
            _row("disk: read 10 MB", reads, SMALL_SIZE),
            _row("upload 200 MB", [upload_memory["seconds"]], LARGE_SIZE, growth),
            _row(
                "download 200 MB",
                [download_memory["seconds"]],
                LARGE_SIZE,
                download_memory["growth_mb"],
            ),
        ],
        "http_baseline": "none: echo_app's POST /echo parses and returns a JSON body, so it "
        "cannot take a 10 MB multipart upload; the disk baseline stands in",
        "ratios": {
            "upload_p50_over_disk_write_p50": upload_p50 / disk_write_p50,
            "download_p50_over_disk_read_p50": download_p50 / disk_read_p50,
        },
        "checks": [
            {
                "check": "upload 10 MB p50 (s)",
                "value": round(upload_p50, 3),
                "target": f"<= {TARGET_SECONDS}",
                "ok": upload_p50 <= TARGET_SECONDS,
            },
            {
                "check": "download 10 MB p50 (s)",
                "value": round(download_p50, 3),
                "target": f"<= {TARGET_SECONDS}",
                "ok": download_p50 <= TARGET_SECONDS,
            },
            {
                "check": "server peak RSS growth, 200 MB upload (MB)",
                "value": round(growth, 1),
                "target": f"<= {TARGET_GROWTH_MB:g}",
                "ok": growth <= TARGET_GROWTH_MB,
            },
        ],
        "raw": {
            "upload_s": uploads,
            "download_s": downloads,
            "disk_write_fsync_s": writes,
            "disk_read_s": reads,
            "upload_200mb_memory": upload_memory,
            "download_200mb_memory": download_memory,
            "upload_tmp_leftovers": leftovers,
        },
    }
