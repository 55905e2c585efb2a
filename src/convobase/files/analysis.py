"""What is inside an uploaded file, computed once at upload and stored with it as ``analysis``.

Analysis never fails an upload: a corrupt or unreadable file records ``error`` in the result.
The one refusal is an image whose header announces more pixels than allowed (a decompression
bomb): Pillow only reads headers here, so nothing is ever decoded to find that out.
"""

from __future__ import annotations

import asyncio
import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from convobase.errors import ConvobaseError

log = structlog.get_logger("convobase.files.analysis")
_READ_CHUNK = 1024 * 1024
EXCERPT_LINES = 8  # the first lines kept as ``excerpt`` (a preview, e.g. in the console)
EXCERPT_CHARS = 800


def excerpt(text: str) -> str:
    """The first few lines of ``text``, at most ``EXCERPT_CHARS`` characters."""
    lines = text.lstrip("\ufeff").splitlines()[:EXCERPT_LINES]
    return "\n".join(line.rstrip() for line in lines)[:EXCERPT_CHARS]


class ImageTooLarge(ConvobaseError):
    status_code = 422
    code = "image_too_large"
    message = "The image has too many pixels"


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    pdf_max_pages: int
    timeout_seconds: float
    image_max_pixels: int


async def analyse(path: Path, content_type: str, size: int, limits: Limits) -> dict[str, Any]:
    """The analysis of ``path``, in a worker thread, within the time budget."""
    if size > limits.max_bytes:
        return {"format": _format_of(content_type), "skipped": "file too large to analyse"}
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_analyse, path, content_type, limits), limits.timeout_seconds
        )
    except TimeoutError:
        # The thread finishes on its own (bounded by the page limit); the upload does not wait.
        return {"format": _format_of(content_type), "error": "analysis timed out"}


def _analyse(path: Path, content_type: str, limits: Limits) -> dict[str, Any]:
    result: dict[str, Any] = {"format": _format_of(content_type)}
    try:
        if content_type.startswith("image/"):
            result.update(_image(path, limits.image_max_pixels))
        elif content_type == "application/pdf":
            result.update(_pdf(path, limits.pdf_max_pages))
        elif content_type.startswith("text/") or content_type.endswith(("json", "jsonl")):
            result.update(_text(path))
        elif content_type.startswith(("audio/", "video/")):
            result.update(_media(path))
    except ImageTooLarge:
        raise
    except Exception as exc:  # any parser error on hostile input is recorded, not raised
        log.info("analysis_failed", content_type=content_type, error_type=type(exc).__name__)
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    return result


def _format_of(content_type: str) -> str:
    subtype = content_type.split("/", 1)[-1]
    return {
        "jpeg": "jpeg",
        "plain": "text",
        "x-wav": "wav",
        "x-flac": "flac",
        "mpeg": "mp3" if content_type.startswith("audio/") else "mpeg",
    }.get(subtype, subtype.removeprefix("x-"))


def _image(path: Path, max_pixels: int) -> dict[str, Any]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard, on top of the check below
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc), details={"max_pixels": max_pixels}) from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"The image is {width}x{height} pixels, more than the {max_pixels} allowed",
                details={"width": width, "height": height, "max_pixels": max_pixels},
            )
        return {
            "format": (image.format or "").lower() or None,
            "width": width,
            "height": height,
            "mode": image.mode,
            "frames": getattr(image, "n_frames", 1),
        }


def _pdf(path: Path, max_pages: int) -> dict[str, Any]:
    from pypdf import PdfReader

    reader = PdfReader(path, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        return {"page_count": None, "encrypted": True, "has_text": None}
    pages = len(reader.pages)
    text_length = 0
    scanned = min(pages, max_pages)
    first = ""
    for index in range(scanned):
        page_text = (reader.pages[index].extract_text() or "").strip()
        text_length += len(page_text)
        first = first or page_text
    result: dict[str, Any] = {
        "page_count": pages,
        "pages_scanned": scanned,
        "text_length": text_length,
        "has_text": text_length > 0,
    }
    if first:
        result["excerpt"] = excerpt(first)
    return result


def _text(path: Path) -> dict[str, Any]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    characters = lines = 0
    has_text = False
    last = head = ""
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            text = decoder.decode(chunk)
            if len(head) < EXCERPT_CHARS * 2:
                head += text[: EXCERPT_CHARS * 2]
            characters += len(text)
            lines += text.count("\n")
            has_text = has_text or bool(text.strip())
            last = text[-1:] or last
    tail = decoder.decode(b"", final=True)
    characters += len(tail)
    last = tail[-1:] or last
    if characters and last != "\n":
        lines += 1  # a last line without its newline still counts
    return {
        "text_length": characters,
        "characters": characters,
        "lines": lines,
        "has_text": has_text,
        **({"excerpt": excerpt(head)} if has_text else {}),
    }


def _media(path: Path) -> dict[str, Any]:
    import mutagen

    media = mutagen.File(path)
    if media is None or media.info is None:
        return {"duration_seconds": None}
    info = media.info
    result: dict[str, Any] = {"duration_seconds": round(float(info.length), 3)}
    for name in ("sample_rate", "channels", "bitrate"):
        value = getattr(info, name, None)
        if value:
            result[name] = value
    return result
