"""The search query language, parsed once and rendered for each engine.

Words, "quoted phrases", -exclusions (of words or phrases) and prefix* terms. Only runs of
letters and digits survive parsing, so nothing a user types reaches the engine's query syntax
unescaped: each engine's renderer quotes the words it was given.

The last word is read as a prefix, as in a search-as-you-type box ("lisb" finds "Lisbon"),
unless the user has visibly finished it: the query ends in a space or punctuation, the word is
excluded (-word), or it closes a "quoted phrase". A prefix term also matches the word exactly,
and both engines score that exact match on top, so "lisbon" ranks Lisbon above Lisboners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from convobase.errors import BadRequest

MAX_QUERY_LENGTH = 500
MAX_TERMS = 16
# A one-letter prefix matches most of the index (slow, and useless as a result list).
MIN_IMPLICIT_PREFIX = 2
_WORD = re.compile(r"[^\W_]+")
# A phrase in quotes, or a bare run up to the next space / quote; either may start with '-'.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # one word, or the words of a phrase
    prefix: bool = False  # the last word matches as a prefix
    negated: bool = False
    # The known whole words the prefix stands for (`search.vocabulary`), read as exact terms
    # instead of the engine's prefix search; None: not looked up, or too many.
    completions: tuple[str, ...] | None = None

    def alternatives(self) -> tuple[tuple[str, ...], ...]:
        """The prefix term as whole-word phrases: its own words, then each completion."""
        head = self.words[:-1]
        return (self.words, *((*head, word) for word in self.completions or ()))


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
        prefix = prefix and raw.rstrip("*")[-1:].isalnum()
        still_typing = (
            match.end() == len(text)  # the query's last token...
            and raw[-1:].isalnum()  # ...ends in a letter or digit (no space, '.', '"' after)
            and not match.group(0).endswith('"')
            and not negated
            and len(words[-1]) >= MIN_IMPLICIT_PREFIX
        )
        terms.append(Term(words, prefix=prefix or still_typing, negated=negated))
    if not any(not t.negated for t in terms):
        raise _bad("Search query needs at least one word to look for")
    if len(terms) > MAX_TERMS:
        raise _bad(f"Search query has more than {MAX_TERMS} terms")
    return Query(tuple(terms))


def to_fts5(query: Query, owners: tuple[str, ...]) -> str:
    """An FTS5 MATCH expression, restricted to these owners' documents."""
    return fts5_scope(owners) + " AND " + fts5_terms(query)


def fts5_scope(owners: tuple[str, ...]) -> str:
    """Documents of these owner tokens only (the caller's, and owners who shared with them)."""
    return "owner : (" + " OR ".join(f'"{owner}"' for owner in owners) + ")"


def _fts5_phrase(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words) + '"'


def _fts5_term(term: Term) -> str:
    quoted = _fts5_phrase(term.words)
    if term.prefix and term.completions is not None:
        return "(" + " OR ".join(_fts5_phrase(w) for w in term.alternatives()) + ")"
    # The exact phrase beside the prefix: bm25 sums both, so an exact match scores higher.
    return f"({quoted} OR {quoted}*)" if term.prefix else quoted


def fts5_exact(term: Term) -> str:
    """A prefix term's own words, as typed (for the exact-match bonus)."""
    return _fts5_phrase(term.words)


def fts5_terms(query: Query) -> str:
    """The query's terms as an FTS5 expression (all positive terms, none of the negative)."""
    expression = "(" + " AND ".join(_fts5_term(t) for t in query.positive) + ")"
    for term in query.negative:
        expression += f" NOT {_fts5_term(term)}"
    return expression


def fts5_any(terms: tuple[Term, ...]) -> str:
    """Any one of ``terms`` (for the snippets of a conversation that matched them all)."""
    return "(" + " OR ".join(_fts5_term(t) for t in terms) + ")"


def _tsquery_phrase(words: tuple[str, ...]) -> str:
    quoted = [f"'{w}'" for w in words]
    return f"({' <-> '.join(quoted)})" if len(quoted) > 1 else quoted[0]


def _tsquery_term(term: Term) -> str:
    if term.prefix and term.completions is not None:
        return "(" + " | ".join(_tsquery_phrase(w) for w in term.alternatives()) + ")"
    words = [f"'{w}'" for w in term.words]
    if term.prefix:  # 'w':* matches w itself too; the ranking adds `tsquery_exact`
        words[-1] += ":*"
    joined = " <-> ".join(words)
    return f"({joined})" if len(words) > 1 else joined


def to_tsquery(query: Query) -> str:
    """A PostgreSQL to_tsquery('simple', ...) expression."""
    return " & ".join(
        f"!{_tsquery_term(t)}" if t.negated else _tsquery_term(t) for t in query.terms
    )


def tsquery_exact(terms: tuple[Term, ...]) -> str | None:
    """The exact words of the prefix terms among ``terms``, or None. ts_rank_cd scores 'w' and
    a longer word matched by 'w':* alike (and 'w' | 'w':* no higher), so the repositories add
    the rank of the exact words on their own."""
    exact = [_tsquery_term(Term(t.words)) for t in terms if t.prefix and not t.negated]
    return " | ".join(exact) if exact else None


def tsquery_any(terms: tuple[Term, ...]) -> str:
    return " | ".join(_tsquery_term(t) for t in terms)


def tsquery_of(term: Term) -> str:
    return _tsquery_term(term)
