"""Receiving an upload: the body streamed into a temporary file, hashed and sniffed on the way.

Memory stays flat whatever the file's size: multipart bodies go through python-multipart's
push parser chunk by chunk, and bytes are written to disk in a worker thread, where the SHA-256
is updated too. The size limit is enforced as bytes arrive and the type is checked as soon as
the first 64 KiB are in, so an oversized or refused file is stopped early and leaves nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import anyio
from pydantic import BaseModel, Field, ValidationError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from convobase.errors import BadRequest, PayloadTooLarge, ValidationFailed
from convobase.files import sniff

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_WRITE_BUFFER = 1024 * 1024
_MAX_FIELD_BYTES = 200
_MAX_PARTS = 10
_MAX_HEADER_BYTES = 8 * 1024
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(;[\w=.-]+)*;base64,", re.ASCII)


def multipart_upload_schema(**fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a body these routes read themselves (so FastAPI cannot describe it): a
    multipart form with the file in field ``file`` and the named extra fields."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    return {"schema": {"type": "object", "required": ["file"], "properties": properties}}


class UnsupportedUploadEncoding(sniff.UnsupportedType):
    code = "unsupported_upload_encoding"
    message = "Send the file as multipart/form-data (field `file`) or as JSON with `data_base64`"


@dataclass(frozen=True, slots=True)
class Policy:
    tmp_dir: Path
    max_bytes: int
    json_max_bytes: int
    allowed_types: list[str]


class Spool:
    """A temporary file in the making, with its size, SHA-256 and first bytes."""

    def __init__(self, tmp_dir: Path, max_bytes: int) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".part")
        self.path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self.max_bytes = max_bytes
        self.size = 0
        self.head = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"The file is larger than the {self.max_bytes} bytes allowed",
                details={"max_bytes": self.max_bytes},
            )
        if len(self.head) < sniff.SNIFF_BYTES:
            self.head += chunk[: sniff.SNIFF_BYTES - len(self.head)]
        self._buffer += chunk
        if len(self._buffer) >= _WRITE_BUFFER:
            await self._flush()

    async def _flush(self) -> None:
        data, self._buffer = bytes(self._buffer), bytearray()
        await anyio.to_thread.run_sync(self._write, data)

    def _write(self, data: bytes) -> None:
        self._hash.update(data)  # hashlib releases the GIL on large buffers
        self._file.write(data)

    async def finish(self) -> str:
        """Flush and close; the hex SHA-256 of everything written."""
        await self._flush()
        await anyio.to_thread.run_sync(self._file.close)
        return self._hash.hexdigest()

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


@dataclass(slots=True)
class Upload:
    """A received file: on disk at ``spool.path``, typed from its bytes."""

    spool: Spool
    filename: str
    claimed_type: str | None
    content_type: str = ""
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.spool.size

    def sniff(self, allowed_types: list[str], *, complete: bool) -> None:
        self.content_type = sniff.detect(
            bytes(self.spool.head),
            self.filename,
            self.claimed_type,
            allowed_types,
            complete=complete,
        )

    async def finish(self, allowed_types: list[str]) -> None:
        self.sha256 = await self.spool.finish()
        if self.size == 0:
            raise ValidationFailed("The file is empty", code="empty_file")
        if not self.content_type:
            self.sniff(allowed_types, complete=True)

    def discard(self) -> None:
        self.spool.discard()


class _JsonUpload(BaseModel):
    filename: str = Field(min_length=1, max_length=1000)
    content_type: str | None = Field(None, max_length=255)
    data_base64: str
    conversation_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None


async def receive(request: Request, policy: Policy) -> Upload:
    """The upload in ``request``, multipart or JSON with base64 data, fully received."""
    media_type, _ = parse_options_header(request.headers.get("content-type", ""))
    try:
        if media_type == b"multipart/form-data":
            return await _receive_multipart(request, policy)
        if media_type == b"application/json":
            return await _receive_json(request, policy)
    except ClientDisconnect as exc:
        raise BadRequest("The upload was interrupted", code="upload_interrupted") from exc
    raise UnsupportedUploadEncoding()


async def _receive_json(request: Request, policy: Policy) -> Upload:
    # Base64 inflates by 4/3; a little room for the other fields.
    ceiling = policy.json_max_bytes * 4 // 3 + 64 * 1024
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > ceiling:
            raise PayloadTooLarge(
                f"JSON uploads are limited to {policy.json_max_bytes} bytes; use multipart "
                "for larger files",
                details={"max_bytes": policy.json_max_bytes},
            )
    try:
        data = _JsonUpload.model_validate_json(bytes(body))
    except ValidationError as exc:
        errors = _errors(exc)
        if any(error["type"] == "json_invalid" for error in errors):
            raise BadRequest(
                "Request body is not valid JSON", code="invalid_json", details={"errors": errors}
            ) from exc
        raise ValidationFailed("Invalid upload", details={"errors": errors}) from exc
    del body
    encoded = _DATA_URL.sub("", data.data_base64, count=1)
    try:
        raw = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("data_base64 is not valid base64", code="invalid_base64") from exc
    if len(raw) > policy.json_max_bytes:
        raise PayloadTooLarge(
            f"The file is larger than the {policy.json_max_bytes} bytes allowed as JSON",
            details={"max_bytes": policy.json_max_bytes},
        )
    filename = sniff.upload_filename(data.filename)
    claimed = sniff.parse_claim(data.content_type)
    upload = Upload(
        spool=Spool(policy.tmp_dir, policy.max_bytes), filename=filename, claimed_type=claimed
    )
    for name in ("conversation_id", "message_id"):
        value = getattr(data, name)
        if value is not None:
            upload.fields[name] = str(value)
    try:
        await upload.spool.write(raw)
        await upload.finish(policy.allowed_types)
    except BaseException:
        upload.discard()
        raise
    return upload


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


class _Parts:
    """Collects python-multipart's callback events; they are handled asynchronously after."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.ended = False

    def callbacks(self) -> MultipartCallbacks:
        def data(kind: str) -> Callable[[bytes, int, int], None]:
            def on_data(chunk: bytes, start: int, end: int) -> None:
                self.events.append((kind, chunk[start:end]))

            return on_data

        def mark(kind: str) -> Callable[[], None]:
            def on_mark() -> None:
                self.events.append((kind, b""))

            return on_mark

        def on_end() -> None:
            self.ended = True

        return {
            "on_part_begin": mark("part_begin"),
            "on_part_data": data("part_data"),
            "on_part_end": mark("part_end"),
            "on_header_field": data("header_field"),
            "on_header_value": data("header_value"),
            "on_header_end": mark("header_end"),
            "on_headers_finished": mark("headers_finished"),
            "on_end": on_end,
        }


class _PartState:
    def __init__(self) -> None:
        self.headers: dict[str, bytes] = {}
        self.header_field = b""
        self.header_value = b""
        self.header_bytes = 0
        self.name = ""
        self.value = bytearray()
        self.is_file = False


async def _receive_multipart(request: Request, policy: Policy) -> Upload:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary", code="invalid_multipart")
    collector = _Parts()
    parser = MultipartParser(boundary, collector.callbacks())
    upload: Upload | None = None
    fields: dict[str, str] = {}
    part = _PartState()
    parts_seen = 0
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequest(
                    "The multipart body is malformed", code="invalid_multipart"
                ) from exc
            for kind, data in collector.events:
                if kind == "part_begin":
                    parts_seen += 1
                    if parts_seen > _MAX_PARTS:
                        raise BadRequest("Too many form fields", code="invalid_multipart")
                    part = _PartState()
                elif kind in ("header_field", "header_value"):
                    part.header_bytes += len(data)
                    if part.header_bytes > _MAX_HEADER_BYTES:
                        raise BadRequest("Part headers too large", code="invalid_multipart")
                    if kind == "header_field":
                        part.header_field += data
                    else:
                        part.header_value += data
                elif kind == "header_end":
                    part.headers[part.header_field.decode("latin-1").lower()] = part.header_value
                    part.header_field = part.header_value = b""
                elif kind == "headers_finished":
                    upload = _start_part(part, upload, policy)
                elif kind == "part_data":
                    if part.is_file and upload is not None:
                        had_head = len(upload.spool.head) >= sniff.SNIFF_BYTES
                        await upload.spool.write(data)
                        if not had_head and len(upload.spool.head) >= sniff.SNIFF_BYTES:
                            upload.sniff(policy.allowed_types, complete=False)
                    else:
                        part.value += data
                        if len(part.value) > _MAX_FIELD_BYTES:
                            raise BadRequest(
                                f"Form field {part.name!r} is too long", code="invalid_multipart"
                            )
                elif kind == "part_end" and not part.is_file and part.name:
                    fields[part.name] = part.value.decode("utf-8", errors="replace").strip()
            collector.events.clear()
        if not collector.ended:
            raise BadRequest("The multipart body is truncated", code="invalid_multipart")
        if upload is None:
            raise ValidationFailed(
                "The form has no `file` field with a filename", code="missing_file"
            )
        upload.fields = fields
        await upload.finish(policy.allowed_types)
    except BaseException:
        if upload is not None:
            upload.discard()
        raise
    return upload


def _start_part(part: _PartState, upload: Upload | None, policy: Policy) -> Upload | None:
    disposition, options = parse_options_header(part.headers.get("content-disposition", b""))
    if disposition != b"form-data":
        raise BadRequest("A form part lacks Content-Disposition", code="invalid_multipart")
    part.name = options.get(b"name", b"").decode("utf-8", errors="replace")
    filename = options.get(b"filename")
    if part.name != "file":
        return upload
    if filename is None:
        raise ValidationFailed("The `file` field must be a file", code="missing_file")
    if upload is not None:
        raise BadRequest("One file per request", code="invalid_multipart")
    part.is_file = True
    claimed = sniff.parse_claim(part.headers.get("content-type", b"").decode("latin-1") or None)
    name = sniff.upload_filename(filename.decode("utf-8", errors="replace"))
    # The spool last: nothing above may leave a temporary file behind.
    return Upload(
        spool=Spool(policy.tmp_dir, policy.max_bytes), filename=name, claimed_type=claimed
    )
