"""What a file is, decided from its bytes; and a filename made safe to display.

The client's claimed type is only a hint: binary formats are recognised by their magic numbers
(the ``filetype`` library), text by being valid UTF-8 without NUL bytes, with its flavour
(Markdown, CSV, JSON, code) taken from the extension. A claim that the bytes contradict is refused.
"""

from __future__ import annotations

import fnmatch
import posixpath
import unicodedata

import filetype

from convobase.errors import ConvobaseError

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
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
}
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
        extension = posixpath.splitext(filename.lower())[1]
        detected = _TEXT_TYPES.get(extension, "text/plain")
        check_allowed(detected, allowed_types)
        if claim in GENERIC_TYPES or not _is_textual(claim):
            if claim not in GENERIC_TYPES:
                raise UnsupportedType(
                    f"The file's bytes are text, not {claim}",
                    code="type_mismatch",
                    details={"claimed": claim, "detected": detected},
                )
            return detected
        # Text claimed as text: the more specific of the claim and the extension wins.
        if detected == "text/plain" and claim != detected:
            check_allowed(claim, allowed_types)
            return claim
        return detected
    raise UnsupportedType(
        "The file's type could not be recognised from its bytes",
        details={"claimed": claim or None},
    )


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
