"""Pure parts of the transfer package: ids, tree repair, zip names and read limits, Markdown."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from convobase.transfer import markdown, zips
from convobase.transfer.ids import Sequence
from convobase.transfer.tree import Item, ItemInvalid, Node, arrange, timestamp


def test_sequence_strictly_increases_within_a_millisecond() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    seq = Sequence()
    ids = [seq.next(when) for _ in range(5000)]  # more than the 4096 counter values
    assert ids == sorted(ids) and len(set(ids)) == 5000
    assert all(i.version == 7 for i in ids)


def test_arrange_moves_replies_of_dropped_nodes_up() -> None:
    item = Item(source="t", source_id="1", current="hidden-leaf")
    item.nodes = [
        Node("root", None, drop="no_message"),
        Node("a", "root", created_at=datetime(2024, 1, 1, tzinfo=UTC)),
        Node("h", "a", drop="hidden"),
        Node("b", "h"),
        Node("hidden-leaf", "b", drop="hidden"),
    ]
    arrange(item, max_messages=10)
    assert [(n.key, n.parent) for n in item.kept] == [("a", None), ("b", "a")]
    assert item.current_leaf == "b"  # the hidden current node's kept ancestor
    assert item.kept[1].created_at == item.kept[0].created_at  # inherited time
    assert item.dropped == {"no_message": 1, "hidden": 2}


def test_arrange_refuses_cycles_duplicates_and_size() -> None:
    with pytest.raises(ItemInvalid) as cycle:
        arrange(
            Item("t", "1", nodes=[Node("a", "b"), Node("b", "a"), Node("c", None)]), max_messages=10
        )
    assert cycle.value.reason == "cycle"
    with pytest.raises(ItemInvalid) as dup:
        arrange(Item("t", "1", nodes=[Node("a", None), Node("a", None)]), max_messages=10)
    assert dup.value.reason == "duplicate_id"
    with pytest.raises(ItemInvalid) as big:
        arrange(Item("t", "1", nodes=[Node(str(i), None) for i in range(3)]), max_messages=2)
    assert big.value.reason == "too_many_messages"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000.5, datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (None, None),
        (True, None),
        (float("nan"), None),
        (-5, None),
        ("garbage", None),
        (1e20, None),
    ],
)
def test_timestamp(value: object, expected: datetime | None) -> None:
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("a/b.json", False),
        ("../x", True),
        ("a/../../x", True),
        ("/etc/x", True),
        ("C:/x", True),
        ("a\\b", True),
        ("a\x00b", True),
        ("", True),
    ],
)
def test_unsafe_names(name: str, refused: bool) -> None:
    assert (zips.unsafe_name(name) is not None) == refused


def test_read_limit_counts_actual_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations/x.json", b"x" * 3_000_000)
    limits = zips.Limits(max_total=10**9, max_ratio=10**6, max_entries=10, max_item=1_000_000)
    opened = zips.open_archive(path, limits)

    def drain() -> None:
        with opened.open("conversations/x.json") as stream:
            while stream.read(64 * 1024):
                pass

    try:
        with pytest.raises(zips.UnsafeArchive) as refused:
            drain()
        assert refused.value.code == "zip_bomb"
    finally:
        opened.close()


def test_markdown_shows_the_current_branch_and_notes_others() -> None:
    messages = [
        {"id": "1", "parent_id": None, "role": "user", "parts": [{"type": "text", "text": "Q1"}]},
        {"id": "2", "parent_id": None, "role": "user", "parts": [{"type": "text", "text": "Q2"}]},
        {
            "id": "3",
            "parent_id": "2",
            "role": "assistant",
            "metadata": {"model": "m"},
            "parts": [{"type": "code", "code": "x = 1", "language": "python"}],
        },
    ]
    text = markdown.render({"title": "T", "messages": messages, "current_leaf_id": "3"})
    assert text.startswith("# T\n")
    assert "Q2" in text and "Q1" not in text
    assert "1 other version(s)" in text and "## Assistant (m)" in text
    assert "```python\nx = 1\n```" in text
    assert io.StringIO(text).read().endswith("\n")


def test_markdown_user_text_cannot_break_out() -> None:
    """Fences outgrow the backticks inside; titles, names and alt text stay plain text."""
    from markdown_it import MarkdownIt

    parts = [
        {"type": "code", "code": "````\n# not a heading", "language": "py"},
        {"type": "tool_result", "tool_call_id": "c1", "content": "```\n<script>x</script>"},
        {"type": "image", "alt": "](javascript:alert(1))"},
        {"type": "tool_call", "name": "f", "arguments": "`a`"},
    ]
    messages = [{"id": "1", "parent_id": None, "role": "user", "parts": parts}]
    text = markdown.render(
        {"title": "# big\n[link](javascript:x)", "messages": messages, "current_leaf_id": "1"}
    )
    tokens = MarkdownIt("commonmark").parse(text)
    headings = [t for t in tokens if t.type == "heading_open"]
    assert [t.tag for t in headings] == ["h1", "h2"]  # the title and the one message
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.content for f in fences] == [
        "````\n# not a heading\n",
        "```\n<script>x</script>\n",
    ]
    rendered = MarkdownIt("commonmark").render(text)
    assert "<a " not in rendered and "<script>" not in rendered and "<img" not in rendered
