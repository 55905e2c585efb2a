"""shares, imported_conversations, users.last_active_at (guests), messages.author_id;
usage_events lose their foreign key (kept, anonymised, when an account is deleted)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:39:06.028032
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_conversations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_imported_conversations_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_imported_conversations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "source", "source_id", name=op.f("pk_imported_conversations")
        ),
    )
    with op.batch_alter_table("imported_conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_imported_conversations_conversation_id"),
            ["conversation_id"],
            unique=False,
        )

    op.create_table(
        "shares",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("permission", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_prefix", sa.String(length=16), nullable=True),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("access_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_accessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("kind IN ('link', 'user')", name=op.f("ck_shares_kind")),
        sa.CheckConstraint("mode IN ('snapshot', 'live')", name=op.f("ck_shares_mode")),
        sa.CheckConstraint("permission IN ('read', 'write')", name=op.f("ck_shares_permission")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_shares_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_shares_recipient_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_shares_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shares_token_hash")),
    )
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shares_conversation_id_id", ["conversation_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_shares_recipient_conversation", ["recipient_id", "conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shares_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_author_id_users"),
            "users",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_usage_events_user_id_users"), type_="foreignkey")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_active_at")

    # Usage kept from deleted accounts has no user to point at any more.
    op.execute("DELETE FROM usage_events WHERE user_id NOT IN (SELECT id FROM users)")
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_usage_events_user_id_users"),
            "users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_messages_author_id_users"), type_="foreignkey")
        batch_op.drop_column("author_id")

    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_user_id"))
        batch_op.drop_index("ix_shares_recipient_conversation")
        batch_op.drop_index("ix_shares_conversation_id_id")

    op.drop_table("shares")
    with op.batch_alter_table("imported_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imported_conversations_conversation_id"))

    op.drop_table("imported_conversations")
