"""search documents of messages hold the text a reader sees (Markdown syntax stripped)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from convobase.search.plain import plain_text

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000


def upgrade() -> None:
    # Rewrites only the documents whose text changes; on SQLite the FTS5 triggers re-index
    # them, on PostgreSQL the GIN index follows the column. Keyset batches bound memory.
    bind = op.get_bind()
    docs = sa.table(
        "search_docs", sa.column("id", sa.BigInteger), sa.column("kind"), sa.column("body")
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(docs.c.id, docs.c.body)
            .where(docs.c.kind == "message", docs.c.id > last)
            .order_by(docs.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        changed = [
            {"doc_id": row.id, "plain": plain}
            for row in rows
            if (plain := plain_text(row.body)) != row.body
        ]
        if changed:
            bind.execute(
                docs.update()
                .where(docs.c.id == sa.bindparam("doc_id"))
                .values(body=sa.bindparam("plain")),
                changed,
            )


def downgrade() -> None:
    # The Markdown is still in messages.content: put it back into the documents.
    op.execute(
        "UPDATE search_docs SET body = (SELECT m.content FROM messages m"
        " WHERE m.id = search_docs.message_id) WHERE kind = 'message'"
    )
