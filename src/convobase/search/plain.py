"""The text a reader sees in a Markdown message, for the search index and its snippets.

Messages are stored as written (Markdown); the index holds what they read as, so a snippet
never shows `**`, code fences or link syntax, and ranking counts only words a reader sees.
The parse is markdown-it's (the console's renderer), with raw HTML off as there: `<b>` is text.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark", {"html": False})
# Text without any character Markdown gives a meaning to reads as itself: skip the parse
# (most chat messages; this runs on every append).
_MARKUP = re.compile(r"[*_`~\[\]#>!<&\\|=+-]|^ {0,3}\d+[.)]|^ {4}|^\t", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{2,}")


def _inline(children: list[Token], out: list[str]) -> None:
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image" and child.children:  # its alt text
            _inline(child.children, out)


def plain_text(markdown: str) -> str:
    if not _MARKUP.search(markdown):
        return markdown
    out: list[str] = []
    for token in _MD.parse(markdown):
        if token.type == "inline" and token.children is not None:
            _inline(token.children, out)
        elif token.type in ("fence", "code_block"):
            out.append(token.content)
        if token.block and token.nesting <= 0:  # the end of a block: a paragraph break
            out.append("\n")
    return _BLANK_LINES.sub("\n", "".join(out)).strip()
