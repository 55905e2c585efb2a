"""The words of the search documents, so a prefix turns into the whole words it stands for.

A prefix term read straight by the engine costs a merge of every matching word's postings
across every user's documents (FTS5 builds that doclist up front, and bm25 builds it again for
its IDF; a GIN partial match ORs them all into a bitmap): 13-40 ms at a million messages. The
same words as exact terms are read from one posting list each, intersected with the owner's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.models import SearchTerm
from convobase.models.search_doc import MAX_TERM_LENGTH
from convobase.search.query import Query

# More words than this under one prefix: the engine's own prefix search reads them (a short
# prefix of a large vocabulary; its merge is what a list of that many terms would cost anyway).
MAX_EXPANSION = 32
_WORD = re.compile(r"[^\W_]+")  # the query parser's words
_INSERT_BATCH = 500


def _folded(word: str) -> str:
    """``word`` without diacritics, as FTS5's unicode61 tokenizer indexes it."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(texts: Iterable[str]) -> set[str]:
    """The distinct words of ``texts``: lower-cased, and without diacritics when that differs
    (SQLite folds them, PostgreSQL's 'simple' configuration keeps them)."""
    found: set[str] = set()
    for text in texts:
        for word in _WORD.findall(text.lower()):
            if len(word) <= MAX_TERM_LENGTH:
                found.add(word)
                found.add(_folded(word))
    found.discard("")
    return found


async def add(db: AsyncSession, texts: Iterable[str]) -> None:
    """Record the words of ``texts`` (those already known are left alone)."""
    terms = sorted(words(texts))
    if not terms:
        return
    insert = sqlite_insert if db.get_bind().dialect.name == "sqlite" else pg_insert
    for start in range(0, len(terms), _INSERT_BATCH):
        rows = [{"term": t} for t in terms[start : start + _INSERT_BATCH]]
        await db.execute(insert(SearchTerm).values(rows).on_conflict_do_nothing())


def _next(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (code point order, which
    is byte order of UTF-8 on both engines)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def _completions(db: AsyncSession, prefix: str) -> tuple[str, ...] | None:
    """The known words starting with ``prefix`` (as typed, or without its diacritics), or
    None when there are too many."""
    found: set[str] = set()
    for start in {prefix, _folded(prefix)}:
        if not start:
            continue
        stmt = (
            select(SearchTerm.term)
            .where(SearchTerm.term >= start, SearchTerm.term < _next(start))
            .order_by(SearchTerm.term)
            .limit(MAX_EXPANSION + 1)
        )
        found.update((await db.execute(stmt)).scalars())
    return tuple(sorted(found)) if len(found) <= MAX_EXPANSION else None


async def expand(db: AsyncSession, query: Query) -> Query:
    """``query`` with each prefix term's whole words attached (see `Term.completions`)."""
    terms = []
    for term in query.terms:
        if term.prefix and term.words[-1]:
            completions = await _completions(db, term.words[-1])
            if completions is not None:
                term = replace(term, completions=completions)
        terms.append(term)
    return Query(tuple(terms))
