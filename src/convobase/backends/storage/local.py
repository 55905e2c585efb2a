"""`local` blob storage: one file per key under a folder (the default on one machine).

Writes are atomic: the bytes go to a temporary name in the key's folder (a hard link to the
caller's file when both are on one file system, else a chunked copy), are flushed to disk, then
renamed over the key, so a reader sees the old blob or the whole new one. Temporary names
contain upper-case letters, which no key may, so they never collide with or show up as a key.

A hard-linked blob shares its bytes with the caller's file: the caller may delete or replace
that file afterwards, but must not rewrite it in place. Pass ``hardlink=False`` to always copy.

File work runs in worker threads (anyio), never on the event loop.
"""

from __future__ import annotations

import errno
import os
import secrets
from datetime import timedelta
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO, Self

from anyio import to_thread

from convobase.backends.storage import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    EmptyReader,
    StorageError,
    StorageUnavailable,
    check_key,
    check_range,
)

# os.link failures that mean "link not possible here; copy instead".
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
# Errors that mean "nothing stored under this key" (a key whose path crosses a file, or names a
# folder of other keys).
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


def _temp_name(folder: Path) -> Path:
    return folder / f".{secrets.token_hex(8)}.TMP"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("xb") as dst:
        while chunk := src.read(CHUNK_SIZE):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())


def _link(source: Path, target: Path) -> bool:
    """Hard-link ``source`` to ``target``; False when this file system cannot."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno in _NO_LINK:
            return False
        raise
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)  # the caller's bytes may still sit in the page cache only
    finally:
        os.close(fd)
    return True


class LocalFileReader:
    """Reads ``remaining`` bytes (all, when None) from an open file, in thread-offloaded chunks."""

    def __init__(self, handle: BinaryIO, remaining: int | None) -> None:
        self._handle: BinaryIO | None = handle
        self._remaining = remaining

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        handle = self._handle
        if handle is None:
            raise StopAsyncIteration
        want = CHUNK_SIZE if self._remaining is None else min(CHUNK_SIZE, self._remaining)
        try:
            chunk = await to_thread.run_sync(handle.read, want) if want else b""
        except BaseException as exc:
            await self.aclose()
            if isinstance(exc, OSError):
                raise StorageError(f"reading a blob failed: {exc}") from exc
            raise
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        if self._remaining is not None:
            self._remaining -= len(chunk)
        return chunk

    async def aclose(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()


class LocalBlobStorage:
    def __init__(self, root: Path, *, hardlink: bool = True) -> None:
        self.root = root
        self.hardlink = hardlink

    def path_of(self, key: str) -> Path:
        """Where ``key``'s blob lives (validates the key)."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        # content_type is not kept: the app records it with the file's metadata.
        target = self.path_of(key)
        await to_thread.run_sync(os.stat, path)  # a missing source is the caller's error
        try:
            await to_thread.run_sync(self._put, path, target)
        except OSError as exc:
            raise StorageError(f"storing {key!r} in {self.root} failed: {exc}") from exc

    def _put(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = _temp_name(target.parent)
        try:
            if not (self.hardlink and _link(source, temp)):
                _copy(source, temp)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    async def open(self, key: str, start: int = 0, end: int | None = None) -> BlobReader:
        path = self.path_of(key)
        check_range(start, end)
        try:
            handle = await to_thread.run_sync(_open_at, path, start)
        except _MISSING:
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"opening {key!r} failed: {exc}") from exc
        if end == start:
            handle.close()
            return EmptyReader()
        return LocalFileReader(handle, None if end is None else end - start)

    async def size(self, key: str) -> int | None:
        path = self.path_of(key)
        try:
            return await to_thread.run_sync(_size, path)
        except OSError as exc:
            raise StorageError(f"reading the size of {key!r} failed: {exc}") from exc

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            await to_thread.run_sync(_unlink, path)
        except OSError as exc:
            raise StorageError(f"deleting {key!r} failed: {exc}") from exc

    async def signed_url(self, key: str, expires_in: timedelta) -> str | None:
        check_key(key)
        return None

    async def ping(self) -> None:
        try:
            await to_thread.run_sync(self._probe)
        except OSError as exc:
            raise StorageUnavailable(f"storage folder {self.root} is not writable: {exc}") from exc

    def _probe(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = _temp_name(self.root)
        with probe.open("xb"):
            pass
        probe.unlink()

    async def aclose(self) -> None:
        return None


def _open_at(path: Path, start: int) -> BinaryIO:
    handle = path.open("rb")
    try:
        if not S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a blob", str(path))
        handle.seek(start)
    except BaseException:
        handle.close()
        raise
    return handle


def _size(path: Path) -> int | None:
    try:
        stat = os.stat(path)
    except _MISSING:
        return None
    return stat.st_size if S_ISREG(stat.st_mode) else None


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except _MISSING:
        return
    except PermissionError:
        if path.is_dir():  # unlink(2) of a folder (of other keys) on some systems
            return
        raise
