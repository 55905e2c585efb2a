"""search_terms: the words of the search documents, so a typed prefix becomes whole words

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from convobase.search.vocabulary import words

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5_000
MAX_TERM_LENGTH = 64


def upgrade() -> None:
    op.create_table(
        "search_terms",
        sa.Column(
            "term",
            sa.String(MAX_TERM_LENGTH).with_variant(
                sa.String(MAX_TERM_LENGTH, collation="C"), "postgresql"
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_search_terms")),
    )
    # Every existing document's words, read in keyset batches (memory stays bounded by the
    # vocabulary, not the documents).
    bind = op.get_bind()
    docs = sa.table("search_docs", sa.column("id", sa.BigInteger), sa.column("body"))
    terms = sa.table("search_terms", sa.column("term"))
    known: set[str] = set()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(docs.c.id, docs.c.body)
            .where(docs.c.id > last)
            .order_by(docs.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        new = words(row.body for row in rows) - known
        if new:
            bind.execute(terms.insert(), [{"term": t} for t in sorted(new)])
            known |= new


def downgrade() -> None:
    op.drop_table("search_terms")
