"""Reading an uploaded zip safely: names checked, sizes limited while decompressing.

Nothing is ever extracted under an entry's own name, so a traversal name could do no harm;
still, a zip holding such an entry (``../x``, absolute paths, drive letters, backslashes, NUL)
or a symbolic link is refused whole: it was not written by ChatGPT or by us. Zip bombs are
stopped twice: before reading, from the sizes the central directory declares (the total, the
entry count), and while reading, by counting the bytes that actually come out (a lying header
does not help): each entry within its own limit, the whole within the total.

The compression ratio is a further check for other people's zips (`check_ratios`), not for a
Convobase export: our own export must always import, and a large log or any repetitive text
deflates far beyond any sane ratio (300:1 is common). Anyone can write a manifest, so the byte
limits, not the ratio, are what bound the work an import does.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from convobase.errors import PayloadTooLarge, ValidationFailed

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Small entries compress well without being bombs; the ratio applies above this size.
_RATIO_FLOOR = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_total: int
    max_ratio: int
    max_entries: int
    max_item: int


class UnsafeArchive(ValidationFailed):
    code = "unsafe_archive"
    message = "The zip file is refused"


def unsafe_name(name: str) -> str | None:
    """Why an entry name is refused, or None when it is a plain relative path."""
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute path"
    if any(segment == ".." for segment in name.split("/")):
        return "path traversal (..)"
    return None


@dataclass(slots=True)
class Archive:
    """An opened, vetted zip and the entries that may be read."""

    zip: zipfile.ZipFile
    limits: Limits
    entries: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    read_total: int = 0
    # Whether each entry's ratio limits what it may decompress to (see `check_ratios`).
    ratio_limited: bool = True

    def open(self, name: str, max_bytes: int | None = None) -> CountingReader:
        """Entry ``name``, stopped beyond ``max_bytes`` (default: one item's limit)."""
        info = self.entries[name]
        cap = self.limits.max_item if max_bytes is None else max_bytes
        return CountingReader(self, info, self.zip.open(info), cap)

    def close(self) -> None:
        self.zip.close()


class CountingReader:
    """An entry's decompressed stream that stops at the limits as bytes come out."""

    def __init__(
        self, archive: Archive, info: zipfile.ZipInfo, raw: IO[bytes], max_bytes: int
    ) -> None:
        self.archive = archive
        self.info = info
        self.raw = raw
        self.count = 0
        # zipfile itself stops at the declared size; the item limit (and the ratio, for zips
        # that are not our own export) stop here.
        self.cap = min(max_bytes, info.file_size)
        if archive.ratio_limited:
            ratio_cap = max(info.compress_size, 1) * archive.limits.max_ratio
            self.cap = min(self.cap, max(ratio_cap, _RATIO_FLOOR))

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:  # everything: still counted chunk by chunk
            return b"".join(iter(lambda: self.read(1024 * 1024), b""))
        data = self.raw.read(size)
        self.count += len(data)
        self.archive.read_total += len(data)
        if self.count > self.cap or self.archive.read_total > self.archive.limits.max_total:
            raise UnsafeArchive(
                f"Entry {self.info.filename!r} decompresses beyond the limits",
                code="zip_bomb",
                details={
                    "entry": self.info.filename,
                    "max_entry_bytes": self.cap,
                    "max_total_bytes": self.archive.limits.max_total,
                },
            )
        return data

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def open_archive(path: Path, limits: Limits) -> Archive:
    """Open and vet the zip at ``path`` (UnsafeArchive / PayloadTooLarge when refused)."""
    try:
        archive = Archive(zipfile.ZipFile(path), limits)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationFailed("The zip file is damaged", code="invalid_zip") from exc
    try:
        _vet(archive)
    except BaseException:
        archive.close()
        raise
    return archive


def _vet(archive: Archive) -> None:
    infos = archive.zip.infolist()
    limits = archive.limits
    if len(infos) > limits.max_entries:
        raise UnsafeArchive(
            f"The zip holds {len(infos)} entries; at most {limits.max_entries} are allowed",
            code="zip_too_many_entries",
        )
    declared = 0
    for info in infos:
        if info.is_dir():
            continue
        reason = unsafe_name(info.filename)
        if reason is None and (info.external_attr >> 16) & 0o170000 == 0o120000:
            reason = "symbolic link"
        if reason is not None:
            raise UnsafeArchive(
                f"The zip holds an unsafe entry ({reason}); nothing was imported",
                code="unsafe_archive",
                details={"entry": info.filename[:300], "reason": reason},
            )
        declared += info.file_size
        if info.flag_bits & 0x1:
            raise UnsafeArchive("Encrypted zip entries are not supported", code="zip_encrypted")
        archive.entries[info.filename] = info
    if declared > limits.max_total:
        raise PayloadTooLarge(
            f"The zip decompresses to {declared} bytes; at most {limits.max_total} are allowed",
            code="zip_too_large",
            details={"max_bytes": limits.max_total},
        )


def check_ratios(archive: Archive) -> None:
    """Refuse an entry that declares more than the ratio allows (zips other than ours)."""
    for info in archive.entries.values():
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > archive.limits.max_ratio:
            raise UnsafeArchive(
                f"Entry {info.filename!r} would decompress to {info.file_size} bytes "
                f"(ratio {ratio:.0f}); refused as a zip bomb",
                code="zip_bomb",
                details={"entry": info.filename, "declared_bytes": info.file_size},
            )
