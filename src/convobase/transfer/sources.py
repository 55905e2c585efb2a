"""What an import file is, found from its bytes, and its conversations read one at a time.

Accepted: ChatGPT's ``conversations.json`` (a JSON list of conversations with a ``mapping``),
ChatGPT's export zip (one ``conversations.json``, at its root or one folder down; the rest
of the zip is ignored; two of them are refused, never one picked), Convobase's export zip
(``manifest.json``, ``conversations/*.json``, ``files.jsonl`` and ``files/``,
``preferences.json``), and Convobase conversation files as JSON (one object, or a list of
them). JSON lists are streamed with ijson (yajl2), one
conversation in memory at a time whatever the file's size. Reads are blocking but small (one
conversation per step), so the importer calls them from the event loop.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import ijson

from convobase.errors import BadRequest, ValidationFailed
from convobase.transfer import zips
from convobase.transfer.schemas import CONVERSATION_FORMAT, EXPORT_FORMAT

Kind = Literal["chatgpt", "convobase"]
MANIFEST = "manifest.json"
FILES_INDEX = "files.jsonl"
PREFERENCES = "preferences.json"
USAGE = "usage_events.jsonl"
# yajl reports bad syntax as JSONError, bad UTF-8 (a lone surrogate escape) as UnicodeDecodeError.
_JSON_ERRORS = (ijson.JSONError, UnicodeDecodeError)


class UnsupportedFormat(ValidationFailed):
    code = "unsupported_format"
    message = (
        "Not an export this server reads: send ChatGPT's conversations.json or export zip, "
        "or a Convobase export"
    )


def invalid_json(exc: Exception) -> BadRequest:
    return BadRequest(f"The file is not valid JSON: {str(exc)[:200]}", code="invalid_json")


def _first_char(stream: IO[bytes] | zips.CountingReader) -> bytes:
    head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1]


def _looks(raw: Any) -> Kind | None:
    if not isinstance(raw, dict):
        return None
    if raw.get("format") == CONVERSATION_FORMAT:
        return "convobase"
    if "mapping" in raw:
        return "chatgpt"
    return None


@dataclass
class ImportFile:
    """An import file opened for reading (``close`` it); ``kind`` says whose format it is."""

    path: Path
    limits: zips.Limits
    kind: Kind = "chatgpt"
    archive: zips.Archive | None = None
    entry: str | None = None  # ChatGPT's conversations.json inside the zip
    single: bool = False  # one Convobase conversation object, not a list

    @classmethod
    def open(cls, path: Path, limits: zips.Limits) -> ImportFile:
        opened = cls(path, limits)
        with path.open("rb") as stream:
            magic = stream.read(4)
        if magic in zips.ZIP_MAGIC:
            opened.archive = zips.open_archive(path, limits)
            try:
                opened._sniff_zip()
            except BaseException:
                opened.close()
                raise
        else:
            opened._sniff_json()
        return opened

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    # --- sniffing ---------------------------------------------------------------------------

    def _sniff_zip(self) -> None:
        assert self.archive is not None
        names = self.archive.entries
        if MANIFEST in names:
            with self.archive.open(MANIFEST) as stream:
                try:
                    manifest = json.load(stream)
                except ValueError as exc:
                    raise invalid_json(exc) from exc
            if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
                raise UnsupportedFormat()
            if manifest.get("version") != 1:
                raise UnsupportedFormat(
                    f"Convobase export version {manifest.get('version')!r} is not supported",
                    code="unsupported_version",
                )
            self.kind = "convobase"
            # Our own export is judged by its bytes against the limits, whatever it
            # compresses to (zips.py); other zips by their entries' ratios too.
            self.archive.ratio_limited = False
            return
        zips.check_ratios(self.archive)
        candidates = sorted(
            (n for n in names if posixpath.basename(n) == "conversations.json"),
            key=lambda n: n.count("/"),
        )
        if not candidates or candidates[0].count("/") > 1:
            raise UnsupportedFormat("The zip holds no conversations.json")
        # Never pick one of several silently: the other's conversations would be lost.
        shallow = [n for n in candidates if n.count("/") <= 1]
        if len(shallow) > 1:
            raise UnsupportedFormat(
                "The zip holds more than one conversations.json; send one export at a time",
                code="ambiguous_archive",
                details={"entries": shallow[:10]},
            )
        self.kind, self.entry = "chatgpt", candidates[0]
        with self._stream() as stream:
            if _first_char(stream) != b"[":
                raise UnsupportedFormat("conversations.json is not a JSON list")
        with self._stream() as stream:
            self._check_list(stream)

    def _sniff_json(self) -> None:
        with self.path.open("rb") as stream:
            first = _first_char(stream)
        if first == b"{":
            with self.path.open("rb") as stream:
                if self.path.stat().st_size > self.limits.max_item:
                    raise UnsupportedFormat("A single conversation file is too large")
                try:
                    raw = json.load(stream)
                except ValueError as exc:
                    raise invalid_json(exc) from exc
            if _looks(raw) != "convobase":
                raise UnsupportedFormat()
            self.kind, self.single = "convobase", True
            return
        if first != b"[":
            raise UnsupportedFormat()
        with self.path.open("rb") as stream:
            self.kind = self._check_list(stream)

    def _check_list(self, stream: IO[bytes] | zips.CountingReader) -> Kind:
        """The kind of a JSON list from its first element (an empty list: ChatGPT's)."""
        try:
            for raw in ijson.items(stream, "item", use_float=True):
                kind = _looks(raw)
                if kind is None:
                    raise UnsupportedFormat(
                        "The list's first element is neither a ChatGPT nor a Convobase conversation"
                    )
                return kind
        except _JSON_ERRORS as exc:
            raise invalid_json(exc) from exc
        return "chatgpt"

    def _stream(self) -> IO[bytes] | zips.CountingReader:
        if self.archive is not None and self.entry is not None:
            return self.archive.open(self.entry, self.limits.max_total)
        return self.path.open("rb")

    # --- reading ----------------------------------------------------------------------------

    def count(self) -> int:
        """How many conversations there are; reads the file once (also proves it is whole JSON,
        so a file broken halfway is refused before anything is written)."""
        if self.single:
            return 1
        if self.kind == "convobase" and self.archive is not None:
            return len(self._conversation_entries())
        total = 0
        with self._stream() as stream:
            try:
                for _ in ijson.items(stream, "item", use_float=True):
                    total += 1
            except _JSON_ERRORS as exc:
                raise invalid_json(exc) from exc
        return total

    def _conversation_entries(self) -> list[str]:
        assert self.archive is not None
        return sorted(
            n
            for n in self.archive.entries
            if n.startswith("conversations/") and n.endswith(".json") and n.count("/") == 1
        )

    def conversations(self) -> Iterator[Any]:
        """Each conversation as parsed JSON, in file order."""
        if self.single:
            with self.path.open("rb") as stream:
                yield json.load(stream)
            return
        if self.kind == "convobase" and self.archive is not None:
            for name in self._conversation_entries():
                with self.archive.open(name) as stream:
                    try:
                        yield json.load(stream)
                    except ValueError:
                        yield None  # reported as a malformed item
            return
        with self._stream() as stream:
            try:
                yield from ijson.items(stream, "item", use_float=True)
            except _JSON_ERRORS as exc:
                raise invalid_json(exc) from exc

    def jsonl(self, name: str) -> Iterator[Any]:
        """The lines of a JSON-lines entry of a Convobase zip (none when absent)."""
        if self.archive is None or name not in self.archive.entries:
            return
        with self.archive.open(name, self.limits.max_total) as stream:
            pending = b""
            while chunk := stream.read(256 * 1024):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (_line(line) for line in lines if line.strip())
            if pending.strip():
                yield _line(pending)

    def preferences(self) -> Any:
        if self.archive is None or PREFERENCES not in self.archive.entries:
            return None
        with self.archive.open(PREFERENCES) as stream:
            try:
                return json.load(stream)
            except ValueError:
                return None

    def has(self, name: str) -> bool:
        return self.archive is not None and name in self.archive.entries


def _line(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None
