"""One contract for every blob storage: `local` (a folder) and `s3` (a real SeaweedFS server)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import anyio.lowlevel
import httpx
import pytest

from convobase.backends.storage import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobStorage,
    StorageUnavailable,
    check_key,
    open_storage,
)
from convobase.backends.storage.local import LocalBlobStorage
from convobase.backends.storage.s3 import S3BlobStorage
from convobase.config import Settings
from convobase.errors import ConfigError
from tests.conftest import make_settings

KEY = "blobs/ab/cd/abcd0123"
LARGE = 12 * 1024 * 1024  # above the 5 MiB part size: a multipart upload on S3
BAD_KEYS = [
    "",
    "/blobs/x",
    "blobs/x/",
    "blobs//x",
    "../x",
    "blobs/../x",
    "blobs/a..b",
    "blobs/./x",
    ".",
    "Blobs/x",
    "blobs/x y",
    "blobs\\x",
    "blobs/é",
    "blobs/x\x00",
    "blobs/x?y",
    "a" * 201,
]


@dataclass
class Subject:
    kind: str
    storage: BlobStorage
    settings: Settings
    sources: Path  # where the test writes the files it stores

    def source(self, data: bytes, name: str = "upload.bin") -> Path:
        self.sources.mkdir(parents=True, exist_ok=True)
        path = self.sources / name
        path.write_bytes(data)
        return path


@pytest.fixture(params=["local", "s3"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    overrides: dict[str, Any] = {}
    if request.param == "s3":
        overrides = request.getfixturevalue("s3_settings_overrides")
    settings = make_settings(tmp_path, **overrides)
    storage = open_storage(settings)
    try:
        yield Subject(request.param, storage, settings, tmp_path / "sources")
    finally:
        await storage.aclose()


async def chunks_of(
    storage: BlobStorage, key: str, start: int = 0, end: int | None = None
) -> list[bytes]:
    reader = await storage.open(key, start, end)
    return [chunk async for chunk in reader]


async def read(storage: BlobStorage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(await chunks_of(storage, key, start, end))


async def put(subject: Subject, data: bytes, key: str = KEY) -> Path:
    path = subject.source(data)
    await subject.storage.put_file(key, path, "application/octet-stream")
    return path


def large_file(path: Path, size: int = LARGE) -> str:
    """Write ``size`` random bytes to ``path``; returns their SHA-256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for _ in range(size // (1024 * 1024)):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def same_file(a: Path, b: Path) -> bool:
    return os.path.samefile(a, b)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the contract ----------------------------------------------------------------------------


async def test_put_file_then_size_and_read_back(subject: Subject) -> None:
    data = os.urandom(10_000)
    source = await put(subject, data)
    assert await subject.storage.size(KEY) == len(data)
    assert await read(subject.storage, KEY) == data
    assert source.read_bytes() == data  # the caller's file is left alone


async def test_ranged_reads_follow_slicing(subject: Subject) -> None:
    data = bytes(range(256)) * 4
    await put(subject, data)
    cases: list[tuple[int, int | None]] = [
        (10, None),  # start only
        (10, 20),  # start and end (exclusive)
        (1023, None),  # the last byte
        (1023, 1024),
        (0, 1),  # the first byte
        (500, 5000),  # end past the end: clamped
        (100, 100),  # empty range
        (1024, None),  # start at the end: empty
        (2000, None),  # start past the end: empty
        (2000, 3000),
    ]
    for start, end in cases:
        assert await read(subject.storage, KEY, start, end) == data[start:end], (start, end)


async def test_invalid_ranges_raise_value_error(subject: Subject) -> None:
    await put(subject, b"0123456789")
    for start, end in [(-1, None), (-1, 5), (5, 4)]:
        with pytest.raises(ValueError, match="range"):
            await subject.storage.open(KEY, start, end)


async def test_empty_blob(subject: Subject) -> None:
    await put(subject, b"")
    assert await subject.storage.size(KEY) == 0
    assert await read(subject.storage, KEY) == b""
    assert await read(subject.storage, KEY, 0, 10) == b""


async def test_open_of_a_missing_key_raises_before_iteration(subject: Subject) -> None:
    for start, end in [(0, None), (5, None), (5, 10), (5, 5)]:
        with pytest.raises(BlobNotFound) as info:
            await subject.storage.open("blobs/missing", start, end)  # not iterated
        assert info.value.key == "blobs/missing"
    assert await subject.storage.size("blobs/missing") is None


async def test_a_folder_of_keys_is_not_a_blob(subject: Subject) -> None:
    await put(subject, b"x", "blobs/ab/cd/abcd0123")
    assert await subject.storage.size("blobs/ab") is None
    with pytest.raises(BlobNotFound):
        await subject.storage.open("blobs/ab")
    await subject.storage.delete("blobs/ab")  # nothing there: fine
    assert await read(subject.storage, "blobs/ab/cd/abcd0123") == b"x"


async def test_delete(subject: Subject) -> None:
    await put(subject, b"bytes")
    await subject.storage.delete(KEY)
    assert await subject.storage.size(KEY) is None
    with pytest.raises(BlobNotFound):
        await subject.storage.open(KEY)
    await subject.storage.delete(KEY)  # again: fine
    await subject.storage.delete("blobs/never/stored")


async def test_overwrite_same_key(subject: Subject) -> None:
    await put(subject, b"first version, longer")
    await put(subject, b"second")
    assert await subject.storage.size(KEY) == len(b"second")
    assert await read(subject.storage, KEY) == b"second"


async def test_large_file_round_trips_in_bounded_chunks(subject: Subject) -> None:
    source = subject.sources / "large.bin"
    digest = large_file(source)
    await subject.storage.put_file(KEY, source, "application/octet-stream")
    assert await subject.storage.size(KEY) == LARGE

    chunks = await chunks_of(subject.storage, KEY)
    assert max(len(c) for c in chunks) <= CHUNK_SIZE
    assert len(chunks) >= LARGE // CHUNK_SIZE
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == digest

    # A range across the multipart boundaries (5 MiB parts on S3).
    start, end = 5 * 1024 * 1024 - 7, 10 * 1024 * 1024 + 7
    ranged = await chunks_of(subject.storage, KEY, start, end)
    assert max(len(c) for c in ranged) <= CHUNK_SIZE
    with source.open("rb") as handle:
        handle.seek(start)
        assert b"".join(ranged) == handle.read(end - start)
    assert source.exists()


async def test_a_reader_can_be_closed_early(subject: Subject) -> None:
    source = subject.sources / "large.bin"
    large_file(source, 2 * 1024 * 1024)
    await subject.storage.put_file(KEY, source, "application/octet-stream")
    reader = await subject.storage.open(KEY)
    first = await reader.__anext__()
    assert 0 < len(first) <= CHUNK_SIZE
    await reader.aclose()
    assert [chunk async for chunk in reader] == []
    await reader.aclose()  # twice: fine


async def test_bad_keys_raise_value_error(subject: Subject) -> None:
    storage = subject.storage
    source = subject.source(b"x")
    for key in BAD_KEYS:
        with pytest.raises(ValueError, match="blob key"):
            check_key(key)
        with pytest.raises(ValueError, match="blob key"):
            await storage.put_file(key, source, "text/plain")
        with pytest.raises(ValueError, match="blob key"):
            await storage.open(key)
        with pytest.raises(ValueError, match="blob key"):
            await storage.size(key)
        with pytest.raises(ValueError, match="blob key"):
            await storage.delete(key)
        with pytest.raises(ValueError, match="blob key"):
            await storage.signed_url(key, timedelta(minutes=5))


async def test_good_keys(subject: Subject) -> None:
    for key in ["x", "a.b", "blobs/ab/cd/" + "f" * 64, "u-1_2.3/v", ".hidden/x"]:
        await put(subject, key.encode(), key)
        assert await read(subject.storage, key) == key.encode()


async def test_missing_source_file_is_the_callers_error(subject: Subject) -> None:
    with pytest.raises(FileNotFoundError):
        await subject.storage.put_file(KEY, subject.sources / "nope.bin", "text/plain")
    assert await subject.storage.size(KEY) is None


async def test_signed_url(subject: Subject) -> None:
    data = os.urandom(3000)
    source = subject.source(data)
    await subject.storage.put_file(KEY, source, "image/png")
    url = await subject.storage.signed_url(KEY, timedelta(minutes=5))
    if subject.kind == "local":
        assert url is None  # the app signs its own download URLs
        return
    assert url is not None
    async with httpx.AsyncClient() as client:  # no credentials: the URL is the credential
        response = await client.get(url)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "image/png"
        assert response.headers["content-disposition"] == "attachment"

        ranged = await client.get(url, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206
        assert ranged.content == data[10:20]

        tampered = await client.get(_tamper(url))
        assert tampered.status_code == 403


async def test_signed_url_lifetime_is_checked(subject: Subject) -> None:
    if subject.kind == "local":
        assert await subject.storage.signed_url(KEY, timedelta(days=30)) is None
        return
    for lifetime in [timedelta(0), timedelta(seconds=-5), timedelta(days=8)]:
        with pytest.raises(ValueError, match="expires_in"):
            await subject.storage.signed_url(KEY, lifetime)


async def test_ping(subject: Subject) -> None:
    await subject.storage.ping()


def _tamper(url: str) -> str:
    """Change one character of the signature query parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for i, (name, value) in enumerate(query):
        if name == "X-Amz-Signature":
            query[i] = (name, ("0" if value[0] != "0" else "1") + value[1:])
            break
    else:
        raise AssertionError(f"no signature in {url}")
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the factory -----------------------------------------------------------------------------


def test_open_storage_picks_the_backend(tmp_path: Path) -> None:
    local = open_storage(make_settings(tmp_path))
    assert isinstance(local, LocalBlobStorage)
    assert local.root == (tmp_path / "data" / "files").resolve()
    s3 = open_storage(
        make_settings(
            tmp_path,
            storage_backend="s3",
            s3_bucket="bucket",
            s3_endpoint="http://127.0.0.1:1",
            s3_access_key_id="id",
            s3_secret_access_key="secret",
            s3_prefix="/some/prefix/",
        )
    )
    assert isinstance(s3, S3BlobStorage)
    assert s3.store.prefix == "some/prefix"


@pytest.mark.parametrize(
    "overrides",
    [
        {"storage_backend": "s3"},
        {"storage_backend": "s3", "s3_bucket": "b", "s3_access_key_id": "id"},
        {"storage_backend": "s3", "s3_bucket": "b", "s3_secret_access_key": "secret"},
    ],
    ids=["no-bucket", "id-without-secret", "secret-without-id"],
)
def test_open_storage_refuses_incomplete_s3_settings(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError):
        open_storage(make_settings(tmp_path, **overrides))


# --- local only ------------------------------------------------------------------------------


async def test_local_put_links_and_leaves_the_source(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "store")
    source = tmp_path / "upload.bin"
    source.write_bytes(b"linked bytes")
    await storage.put_file(KEY, source, "text/plain")
    target = storage.path_of(KEY)
    assert source.read_bytes() == b"linked bytes"
    assert same_file(source, target)  # same file system: a hard link, no copy
    assert sorted(os.listdir(target.parent)) == [target.name]


async def test_local_copy_never_exposes_a_partial_blob(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "store", hardlink=False)
    source = tmp_path / "large.bin"
    digest = large_file(source)
    target = storage.path_of(KEY)
    sizes_under_key: list[int] = []
    temp_names: set[str] = set()
    done = False

    async def watch() -> None:
        while not done:
            with contextlib.suppress(FileNotFoundError):
                sizes_under_key.append(os.stat(target).st_size)
            if target.parent.exists():
                temp_names.update(n for n in os.listdir(target.parent) if n != target.name)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        await storage.put_file(KEY, source, "application/octet-stream")
        done = True

    assert all(size == LARGE for size in sizes_under_key)
    assert temp_names, "the watcher never saw the copy in progress"
    for name in temp_names:  # a temporary name can never be read as a key
        with pytest.raises(ValueError, match="blob key"):
            check_key(name)
    assert sorted(os.listdir(target.parent)) == [target.name]
    assert not same_file(source, target)
    assert source.exists()
    chunks = await chunks_of(storage, KEY)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == digest


async def test_local_open_reader_keeps_the_old_blob_across_an_overwrite(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "store", hardlink=False)
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    digest = large_file(first, 2 * 1024 * 1024)
    large_file(second, 2 * 1024 * 1024)
    await storage.put_file(KEY, first, "application/octet-stream")
    reader = await storage.open(KEY)
    head = await reader.__anext__()
    await storage.put_file(KEY, second, "application/octet-stream")
    rest = [chunk async for chunk in reader]
    assert hashlib.sha256(head + b"".join(rest)).hexdigest() == digest


async def test_local_ping_fails_when_the_folder_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageUnavailable, match="not writable"):
        await LocalBlobStorage(blocker / "files").ping()
    await LocalBlobStorage(tmp_path / "new" / "folder").ping()  # created on demand


# --- s3 only ---------------------------------------------------------------------------------


def _s3(tmp_path: Path, overrides: dict[str, Any], **changes: Any) -> BlobStorage:
    return open_storage(make_settings(tmp_path, **{**overrides, **changes}))


async def test_s3_ping_and_calls_fail_as_unavailable(
    tmp_path: Path, s3_settings_overrides: dict[str, Any]
) -> None:
    source = tmp_path / "x.bin"
    source.write_bytes(b"x")
    broken = {
        "wrong secret": _s3(tmp_path, s3_settings_overrides, s3_secret_access_key="wrong"),
        "unknown key id": _s3(tmp_path, s3_settings_overrides, s3_access_key_id="nobody"),
        "missing bucket": _s3(tmp_path, s3_settings_overrides, s3_bucket="no-such-bucket"),
        "closed port": _s3(
            tmp_path, s3_settings_overrides, s3_endpoint=f"http://127.0.0.1:{closed_port()}"
        ),
    }
    for name, storage in broken.items():
        with pytest.raises(StorageUnavailable):
            await storage.ping()
        with pytest.raises(StorageUnavailable):
            await storage.put_file(KEY, source, "text/plain")
        with pytest.raises(StorageUnavailable):
            await storage.open(KEY)
        if name == "missing bucket":  # a HEAD answer has no body telling the bucket is missing
            assert await storage.size(KEY) is None
        else:
            with pytest.raises(StorageUnavailable):
                await storage.size(KEY)
        await storage.aclose()
