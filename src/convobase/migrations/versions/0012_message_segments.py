"""messages: depth and segment, so a page of a branch reads one index range per fork on the
path instead of walking every message from the leaf to the root

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 10:05:00.000000
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONVERSATIONS_PER_BATCH = 200
INDEX = "ix_messages_conversation_segment_depth"
# Only there so the columns can be added NOT NULL to a filled table without rebuilding it
# (SQLite); every row is given its real value below, and the app always writes both.
NO_SEGMENT = "00000000000000000000000000000000"


def _placements(rows: list[tuple[uuid.UUID, uuid.UUID | None]]) -> list[dict[str, object]]:
    """Depth and segment of every message of one conversation, as the app assigns them when
    the messages are appended oldest first: the oldest reply continues its parent's segment,
    later replies and roots start one named after themselves."""
    children: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for message_id, parent_id in sorted(rows, key=lambda r: r[0]):
        children[parent_id].append(message_id)
    placed: list[dict[str, object]] = []
    todo = [(root, root, 0) for root in children[None]]
    while todo:
        message_id, segment_id, depth = todo.pop()
        placed.append({"message_id": message_id, "segment": segment_id, "level": depth})
        for n, child in enumerate(children.get(message_id, [])):
            todo.append((child, segment_id if n == 0 else child, depth + 1))
    return placed


def upgrade() -> None:
    bind = op.get_bind()
    # Plain ALTER TABLE ADD COLUMN on both engines, never a batch rebuild: on SQLite a rebuild
    # drops the old table, and with foreign keys on that sets every parent_id to NULL (and
    # deletes the rows that cascade from messages).
    op.add_column(
        "messages", sa.Column("depth", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )
    op.add_column(
        "messages",
        sa.Column(
            "segment_id", sa.Uuid(), nullable=False, server_default=sa.text(f"'{NO_SEGMENT}'")
        ),
    )
    messages = sa.table(
        "messages",
        sa.column("id", sa.Uuid),
        sa.column("conversation_id", sa.Uuid),
        sa.column("parent_id", sa.Uuid),
        sa.column("depth", sa.Integer),
        sa.column("segment_id", sa.Uuid),
    )
    conversations = sa.table("conversations", sa.column("id", sa.Uuid))
    # Conversation by conversation (keyset batches bound memory): each one's tree is small
    # next to the table, and a message's place depends only on its own conversation.
    last: uuid.UUID | None = None
    while True:
        stmt = sa.select(conversations.c.id).order_by(conversations.c.id)
        if last is not None:
            stmt = stmt.where(conversations.c.id > last)
        batch = list(bind.execute(stmt.limit(CONVERSATIONS_PER_BATCH)).scalars())
        if not batch:
            break
        last = batch[-1]
        trees: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None]]] = defaultdict(list)
        found = bind.execute(
            sa.select(messages.c.conversation_id, messages.c.id, messages.c.parent_id).where(
                messages.c.conversation_id.in_(batch)
            )
        )
        for conversation_id, message_id, parent_id in found:
            trees[conversation_id].append((message_id, parent_id))
        placed = [p for rows in trees.values() for p in _placements(rows)]
        if placed:
            bind.execute(
                messages.update()
                .where(messages.c.id == sa.bindparam("message_id"))
                .values(depth=sa.bindparam("level"), segment_id=sa.bindparam("segment")),
                placed,
            )
    if bind.dialect.name == "postgresql":  # SQLite cannot drop a default without a rebuild
        op.alter_column("messages", "depth", server_default=None)
        op.alter_column("messages", "segment_id", server_default=None)
    op.create_index(INDEX, "messages", ["conversation_id", "segment_id", "depth"], unique=False)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="messages")
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite >= 3.35): a batch rebuild would drop and re-create the table, and
        # with foreign keys on, dropping it deletes the rows that reference it.
        op.execute("ALTER TABLE messages DROP COLUMN segment_id")
        op.execute("ALTER TABLE messages DROP COLUMN depth")
    else:
        op.drop_column("messages", "segment_id")
        op.drop_column("messages", "depth")
