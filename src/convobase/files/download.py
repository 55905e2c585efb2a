"""Serving a file's bytes: HTTP Range, safe headers, streamed from storage."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.responses import StreamingResponse

from convobase.backends.storage import BlobNotFound, BlobReader, BlobStorage
from convobase.errors import ConvobaseError
from convobase.files import repository, sniff
from convobase.models import File

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Shown in the browser; everything else downloads. Active content (HTML, SVG, XML: see
# `sniff.is_active`) never is, whatever its prefix.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_INLINE_TYPES = frozenset({"application/pdf", "text/plain"})
# For a stored type unfit for a header (rows written before claims were checked).
_FALLBACK_TYPE = "application/octet-stream"


class RangeNotSatisfiable(ConvobaseError):
    status_code = 416
    code = "range_not_satisfiable"
    message = "The requested range is outside the file"


class ContentMissing(ConvobaseError):
    status_code = 404
    code = "content_missing"
    message = "The file's content is missing from storage"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for a single satisfiable range; None means the whole file.

    Malformed headers and multi-range requests are ignored (RFC 9110 allows serving the whole
    representation); a well-formed range outside the file is a 416.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"}, details={"size": size})


def media_type(file: File) -> str:
    """The type to serve: the stored one when it is a plain ``type/subtype``."""
    return file.content_type if sniff.is_valid_type(file.content_type) else _FALLBACK_TYPE


def is_inline(content_type: str) -> bool:
    safe = content_type.startswith(_INLINE_PREFIXES) or content_type in _INLINE_TYPES
    return safe and not sniff.is_active(content_type)


def content_disposition(file: File) -> str:
    inline = is_inline(media_type(file))
    ascii_name = file.filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    return (
        f'{"inline" if inline else "attachment"}; filename="{ascii_name or "file"}"; '
        f"filename*=UTF-8''{quote(file.filename, safe='')}"
    )


async def respond(storage: BlobStorage, file: File, range_header: str | None) -> StreamingResponse:
    byte_range = parse_range(range_header, file.size)
    start, end = byte_range or (0, file.size)
    try:
        chunks = await storage.open(repository.blob_key(file.blob_sha256), start, end)
    except BlobNotFound as exc:
        raise ContentMissing() from exc
    served_type = media_type(file)
    if served_type.startswith("text/") or served_type == "application/json":
        served_type += "; charset=utf-8"
    headers = {
        "Content-Length": str(end - start),
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(file),
        "ETag": f'"{file.blob_sha256}"',
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{file.size}"
    return StreamingResponse(
        _stream(chunks),
        status_code=206 if byte_range else 200,
        media_type=served_type,
        headers=headers,
    )


async def _stream(reader: BlobReader) -> AsyncIterator[bytes]:
    try:
        async for chunk in reader:
            yield chunk
    finally:  # the client may go away mid-download
        await reader.aclose()
