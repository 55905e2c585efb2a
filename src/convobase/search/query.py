"""The search query language, parsed once and rendered for each engine.

Words, "quoted phrases", -exclusions (of words or phrases) and prefix* terms. Only runs of
letters and digits survive parsing, so nothing a user types reaches the engine's query syntax
unescaped: each engine's renderer quotes the words it was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from convobase.errors import BadRequest

MAX_QUERY_LENGTH = 500
MAX_TERMS = 16
_WORD = re.compile(r"[^\W_]+")
# A phrase in quotes, or a bare run up to the next space / quote; either may start with '-'.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # one word, or the words of a phrase
    prefix: bool = False  # the last word matches as a prefix
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def negative(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)


def _bad(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_query")


def parse(text: str) -> Query:
    if len(text) > MAX_QUERY_LENGTH:
        raise _bad(f"Search query exceeds {MAX_QUERY_LENGTH} characters")
    terms: list[Term] = []
    for match in _TOKEN.finditer(text):
        if match.group(2) is not None:  # quoted phrase
            negated, raw, prefix = match.group(1) == "-", match.group(2), False
        else:
            negated, raw = match.group(3) == "-", match.group(4)
            prefix = raw.endswith("*")
        words = tuple(w.lower() for w in _WORD.findall(raw))
        if not words:
            continue
        # A bare token like "e-mail" or "foo.bar" is a phrase of its words.
        terms.append(Term(words, prefix=prefix and raw.rstrip("*")[-1:].isalnum(), negated=negated))
    if not any(not t.negated for t in terms):
        raise _bad("Search query needs at least one word to look for")
    if len(terms) > MAX_TERMS:
        raise _bad(f"Search query has more than {MAX_TERMS} terms")
    return Query(tuple(terms))


def to_fts5(query: Query, owner: str) -> str:
    """An FTS5 MATCH expression, restricted to the owner's documents."""

    def render(term: Term) -> str:
        quoted = '"' + " ".join(term.words) + '"'
        return quoted + "*" if term.prefix else quoted

    expression = f'owner : "{owner}" AND (' + " AND ".join(render(t) for t in query.positive) + ")"
    for term in query.negative:
        expression += f" NOT {render(term)}"
    return expression


def to_tsquery(query: Query) -> str:
    """A PostgreSQL to_tsquery('simple', ...) expression."""

    def render(term: Term) -> str:
        words = [f"'{w}'" for w in term.words]
        if term.prefix:
            words[-1] += ":*"
        joined = " <-> ".join(words)
        body = f"({joined})" if len(words) > 1 else joined
        return f"!{body}" if term.negated else body

    return " & ".join(render(t) for t in query.terms)
