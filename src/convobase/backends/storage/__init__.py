"""Blob storage protocol: where file bytes live (`local` folder by default, `s3` when set).

Keys are content-addressed names chosen by the app (``[a-z0-9/._-]``, see `check_key`), so
writing the same key twice stores the same bytes and is harmless.

Reading: ``open`` is a coroutine. Awaiting it checks the blob exists (or starts the download)
and raises `BlobNotFound` right there, before any byte is sent anywhere; it returns a
`BlobReader` to drain with ``async for`` (chunks of at most `CHUNK_SIZE` bytes), which releases
its file or connection when exhausted, on error, or on ``aclose()``::

    reader = await storage.open(key, start, end)  # BlobNotFound here
    async for chunk in reader:
        ...

Ranges follow slicing, ``data[start:end]`` with ``end`` exclusive: ``end`` past the end is
clamped, and an empty selection (``start == end``, or ``start`` at or past the end) yields no
bytes, still raising `BlobNotFound` for a missing blob. Negative offsets and ``end < start``
raise ValueError.

Errors: every backend failure surfaces as a `StorageError`: `BlobNotFound` for a missing blob,
`StorageUnavailable` when the store cannot be reached or refuses the configured credentials.
A bad key raises ValueError.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from convobase.config import Settings

CHUNK_SIZE = 256 * 1024  # largest chunk a reader yields
MAX_KEY_LENGTH = 1024  # S3's limit, in bytes (keys are ASCII)
MAX_SEGMENT_LENGTH = 200  # stays under every file system's name limit
_KEY_SEGMENT = re.compile(r"[a-z0-9._-]+")


class StorageError(Exception):
    """The blob store failed."""


class BlobNotFound(StorageError):
    """No blob is stored under ``key``."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob stored under {key!r}")
        self.key = key


class StorageUnavailable(StorageError):
    """The store cannot be reached (or refuses the configured credentials)."""


def check_key(key: str) -> str:
    """Return ``key`` when valid, else raise ValueError.

    Valid: ``[a-z0-9._-]`` segments joined by ``/``; no empty segment (so no leading, trailing
    or doubled ``/``), no ``.`` or ``..`` segment and no ``..`` anywhere.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("blob key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"blob key longer than {MAX_KEY_LENGTH} characters")
    if ".." in key:
        raise ValueError(f"blob key {key!r} contains '..'")
    for segment in key.split("/"):
        if not segment:
            raise ValueError(f"blob key {key!r} has an empty segment (or a leading '/')")
        if segment == "." or not _KEY_SEGMENT.fullmatch(segment):
            raise ValueError(f"blob key {key!r} may only use [a-z0-9._-] segments")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise ValueError(f"blob key segment longer than {MAX_SEGMENT_LENGTH} characters")
    return key


def check_range(start: int, end: int | None) -> None:
    """Raise ValueError unless ``0 <= start`` and ``start <= end`` (when ``end`` is given)."""
    if start < 0:
        raise ValueError(f"range start must be >= 0, got {start}")
    if end is not None and end < start:
        raise ValueError(f"range end ({end}) must be >= start ({start})")


class BlobReader(Protocol):
    """An opened blob: ``async for chunk in reader``; ``aclose()`` releases it early."""

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class EmptyReader:
    """A reader of no bytes (an empty range)."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        return None


class BlobStorage(Protocol):
    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the finished local file at ``path`` under ``key``, replacing any blob there.

        Streams from disk (never loads the file in memory) and never deletes ``path``. Readers
        see the old blob or the whole new one, never a part. Raises FileNotFoundError when
        ``path`` does not exist.
        """

    async def open(self, key: str, start: int = 0, end: int | None = None) -> BlobReader:
        """Open bytes ``[start, end)`` of the blob; raises BlobNotFound when it is missing."""

    async def size(self, key: str) -> int | None:
        """The stored size in bytes, or None when missing."""

    async def delete(self, key: str) -> None:
        """Delete the blob; a missing blob is fine."""

    async def signed_url(self, key: str, expires_in: timedelta) -> str | None:
        """A URL that downloads the blob without credentials until it expires.

        None when the backend cannot sign (`local`: the app signs its own download URLs).
        Does not check that the blob exists.
        """

    async def ping(self) -> None:
        """Raise StorageUnavailable when the store cannot be reached or written."""

    async def aclose(self) -> None:
        """Release the backend's resources."""


def open_storage(settings: Settings) -> BlobStorage:
    """The configured backend. Builds clients only: nothing is contacted until first use."""
    if settings.storage_backend == "s3":
        from convobase.backends.storage.s3 import S3BlobStorage

        return S3BlobStorage.from_settings(settings)
    from convobase.backends.storage.local import LocalBlobStorage

    return LocalBlobStorage(settings.resolved_storage_dir)


__all__ = [
    "CHUNK_SIZE",
    "BlobNotFound",
    "BlobReader",
    "BlobStorage",
    "EmptyReader",
    "StorageError",
    "StorageUnavailable",
    "check_key",
    "check_range",
    "open_storage",
]
