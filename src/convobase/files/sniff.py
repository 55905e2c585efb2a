"""What a file is, decided from its bytes; and a filename made safe to display.

The client's claimed type is only a hint: binary formats are recognised by their magic numbers
(the ``filetype`` library), text by being valid UTF-8 without NUL bytes, with its flavour
(Markdown, CSV, JSON, code) taken from the extension and markup (HTML, SVG, XML) from its first
tag. A claim that the bytes contradict is refused. The type stored is always one of ours (the
tables below or ``filetype``'s), checked against the allow-list: never the client's string.

Active content (types a browser can run script from: HTML, SVG, XML...) is stored under its
real type and only ever served as a download (`is_active`, ``files/download.py``).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import unicodedata

import filetype

from convobase.errors import ConvobaseError, ValidationFailed

SNIFF_BYTES = 64 * 1024
MAX_FILENAME_BYTES = 255
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Text flavours by extension; anything else that is text is text/plain.
_TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".py": "text/x-python",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".jsx": "text/javascript",
    ".java": "text/x-java",
    ".c": "text/x-c",
    ".h": "text/x-c",
    ".cpp": "text/x-c++",
    ".hpp": "text/x-c++",
    ".cs": "text/x-csharp",
    ".go": "text/x-go",
    ".rs": "text/x-rust",
    ".rb": "text/x-ruby",
    ".php": "text/x-php",
    ".swift": "text/x-swift",
    ".kt": "text/x-kotlin",
    ".sh": "text/x-shellscript",
    ".sql": "text/x-sql",
    ".yaml": "text/yaml",
    ".yml": "text/yaml",
    ".toml": "text/x-toml",
    ".xml": "text/xml",
    ".xsl": "text/xml",
    ".xslt": "text/xml",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".svg": "image/svg+xml",
    ".css": "text/css",
}
# Text types a claim may name when the extension says no more than text/plain; the stored value
# is the constant here, never the claim's own string.
_KNOWN_TEXT_TYPES = {
    value: value
    for value in (
        *_TEXT_TYPES.values(),
        "text/plain",
        "application/xml",
        "application/javascript",
        "application/x-yaml",
    )
}
# Types a browser can run script from (or render as a page that does).
_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
    }
)
# A MIME type as RFC 6838 spells it (type "/" subtype, restricted names), lower case.
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
# What a Content-Type header value may hold: visible ASCII and spaces (no CR, LF, NUL...).
_HEADER_TEXT = re.compile(r"[\x20-\x7e]*")
# Claims that name the same thing under another spelling.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "audio/mp3": "audio/mpeg",
    "audio/wav": "audio/x-wav",
    "audio/wave": "audio/x-wav",
    "audio/flac": "audio/x-flac",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "application/x-pdf": "application/pdf",
    "text/json": "application/json",
    "text/x-markdown": "text/markdown",
    "application/csv": "text/csv",
}


class UnsupportedType(ConvobaseError):
    status_code = 415
    code = "unsupported_media_type"
    message = "This type of file is not accepted"


def _normalise(content_type: str | None) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def _claim_error(message: str, code: str) -> ValidationFailed:
    error = {"loc": ["body", "content_type"], "msg": message, "type": code}
    return ValidationFailed(message, code=code, details={"errors": [error]})


def parse_claim(raw: str | None) -> str | None:
    """The client's claimed type as ``type/subtype`` (None when absent or generic-empty).

    A claim is a header value the server may one day repeat: one holding NUL is a 422
    ``invalid_characters`` (as everywhere), any other control character, non-ASCII text or a
    value that is not ``type/subtype`` a 422 ``invalid_content_type``.
    """
    if raw is None:
        return None
    if "\x00" in raw:
        raise _claim_error("The content type contains U+0000", "invalid_characters")
    base = _normalise(raw)
    if not _HEADER_TEXT.fullmatch(raw) or (base and not _MIME_TYPE.fullmatch(base)):
        raise _claim_error(
            "The content type must be a MIME type such as text/plain, without control characters",
            "invalid_content_type",
        )
    return base or None


def is_valid_type(content_type: str) -> bool:
    """A stored type fit for a Content-Type header (rows written before types were checked)."""
    return _MIME_TYPE.fullmatch(content_type) is not None


def is_active(content_type: str) -> bool:
    """A type a browser could run script from: served only as a download, never inline."""
    base = _normalise(content_type)
    return base in _ACTIVE_TYPES or base.endswith(("+xml", "/xml")) or "html" in base


def _is_text(head: bytes, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut inside a multi-byte character is still text.
        return (
            not complete and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
        )
    return True


def _is_textual(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in {
        "application/json",
        "application/jsonl",
        "application/xml",
        "application/javascript",
        "application/x-yaml",
    }


def detect(
    head: bytes, filename: str, claimed: str | None, allowed_types: list[str], *, complete: bool
) -> str:
    """The file's MIME type from its first bytes (``complete``: ``head`` is the whole file).

    Raises UnsupportedType when the bytes are of no known or allowed kind, or contradict the
    claim.
    """
    claim = _normalise(claimed)
    kind = filetype.guess(head) if head else None
    if kind is not None:
        detected = _normalise(kind.mime)
        check_allowed(detected, allowed_types)
        if claim not in GENERIC_TYPES and not _same_kind(claim, detected):
            raise UnsupportedType(
                f"The file's bytes are {detected}, not {claim}",
                code="type_mismatch",
                details={"claimed": claim, "detected": detected},
            )
        return detected
    if _is_text(head, complete):
        detected = _text_type(head, filename)
        check_allowed(detected, allowed_types)
        if claim in GENERIC_TYPES or claim == detected:
            return detected
        if not _is_textual(claim):
            raise UnsupportedType(
                f"The file's bytes are text, not {claim}",
                code="type_mismatch",
                details={"claimed": claim, "detected": detected},
            )
        # Text claimed as text: a known type the claim names is more specific than plain text.
        known = _KNOWN_TEXT_TYPES.get(claim)
        if detected == "text/plain" and known is not None:
            check_allowed(known, allowed_types)
            return known
        return detected
    raise UnsupportedType(
        "The file's type could not be recognised from its bytes",
        details={"claimed": claim or None},
    )


def _text_type(head: bytes, filename: str) -> str:
    """Text's type from its extension; plain text that opens with markup is that markup."""
    detected = _TEXT_TYPES.get(posixpath.splitext(filename.lower())[1], "text/plain")
    if detected != "text/plain":
        return detected
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not start.startswith(b"<"):
        return detected
    if b"<svg" in start:
        return "image/svg+xml"
    if start.startswith(b"<!doctype html") or b"<html" in start or b"<script" in start:
        return "text/html"
    if start.startswith(b"<?xml"):
        return "text/xml"
    return detected


def _same_kind(claim: str, detected: str) -> bool:
    if claim == detected:
        return True
    # Containers that filetype names by their generic form.
    if detected == "application/zip" and claim.startswith(
        ("application/vnd.openxmlformats", "application/vnd.oasis", "application/epub")
    ):
        return True
    # MP4 audio and video share one container.
    return {claim, detected} <= {"audio/mp4", "video/mp4", "video/x-m4v", "video/quicktime"}


def allowed(content_type: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(content_type, pattern.lower()) for pattern in patterns)


def check_allowed(content_type: str, patterns: list[str]) -> None:
    if not allowed(content_type, patterns):
        raise UnsupportedType(
            f"Files of type {content_type} are not accepted",
            code="type_not_allowed",
            details={"detected": content_type},
        )


def upload_filename(raw: str) -> str:
    """An uploaded file's display name; U+0000 in it is a 422 ``invalid_characters``, as in any
    other text the API takes (other control characters are dropped by `safe_filename`)."""
    if "\x00" in raw:
        error = {"loc": ["body", "filename"], "msg": "contains U+0000", "type": "characters"}
        raise ValidationFailed(
            "The filename contains U+0000",
            code="invalid_characters",
            details={"errors": [error]},
        )
    return safe_filename(raw)


def safe_filename(raw: str | None, fallback: str = "file") -> str:
    """A display name: the last path segment, no control characters, at most 255 UTF-8 bytes."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    if not name:
        return fallback
    if len(name.encode()) > MAX_FILENAME_BYTES:
        stem, extension = posixpath.splitext(name)
        if len(extension.encode()) > 16:
            stem, extension = name, ""
        budget = MAX_FILENAME_BYTES - len(extension.encode())
        stem = stem.encode()[:budget].decode("utf-8", errors="ignore")
        name = stem + extension
    return name
