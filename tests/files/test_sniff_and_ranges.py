"""The pure parts of files: type detection, filenames and Range parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convobase.files.download import RangeNotSatisfiable, parse_range
from convobase.files.sniff import SNIFF_BYTES, UnsupportedType, detect, safe_filename
from tests.files import samples

ALLOW_ALL = ["*/*"]


@pytest.mark.parametrize(
    ("head", "name", "claim", "expected"),
    [
        (samples.png(), "x.png", "image/png", "image/png"),
        (samples.png(), "x", None, "image/png"),
        (samples.jpeg(), "x.jpg", "image/jpg", "image/jpeg"),  # an alias, not a contradiction
        (samples.pdf(["a"]), "x.pdf", "application/octet-stream", "application/pdf"),
        (b"a,b\n1,2\n", "t.csv", None, "text/csv"),
        (b"a,b\n1,2\n", "t.csv", "text/plain", "text/csv"),
        (b"print('hi')\n", "main.py", None, "text/x-python"),
        (b"{}", "x", "application/json", "application/json"),
        ("caf\u00e9".encode()[:-1], "x.txt", None, "text/plain"),  # cut mid-character
    ],
)
def test_detect(head: bytes, name: str, claim: str | None, expected: str) -> None:
    assert detect(head, name, claim, ALLOW_ALL, complete=False) == expected


def test_text_cut_mid_character_is_binary_when_complete() -> None:
    with pytest.raises(UnsupportedType):
        detect("caf\u00e9".encode()[:-1], "x.txt", None, ALLOW_ALL, complete=True)


def test_sniff_window_is_64k() -> None:
    assert SNIFF_BYTES == 64 * 1024


@given(st.text(max_size=400))
def test_safe_filename_never_has_separators_or_controls(raw: str) -> None:
    name = safe_filename(raw)
    assert name and "/" not in name and "\\" not in name
    assert len(name.encode()) <= 255
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    assert name not in (".", "..")


@given(st.text(max_size=40), st.integers(min_value=1, max_value=10_000))
def test_parse_range_is_inside_the_file_or_refused(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if result is not None:
        start, end = result
        assert 0 <= start < end <= size


@given(st.integers(0, 200), st.integers(0, 200), st.integers(1, 150))
def test_parse_range_matches_slicing(first: int, last: int, size: int) -> None:
    data = bytes(range(size))
    try:
        result = parse_range(f"bytes={first}-{last}", size)
    except RangeNotSatisfiable:
        assert first >= size or last < first
        return
    assert result is not None
    start, end = result
    assert data[start:end] == data[first : last + 1]
