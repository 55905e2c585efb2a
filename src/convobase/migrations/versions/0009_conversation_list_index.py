"""conversations: the list's index leads with the archived and pinned flags, so every page of
"newest activity first" (per flag combination) is a walk of one index range, never a sort

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:12:41.512007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_user_list",
            ["user_id", "archived", "pinned", "last_activity_at", "id"],
            unique=False,
        )
        # Served by the new index (one range per flag combination, merged), so the old one
        # would only cost a second index update on every append.
        batch_op.drop_index("ix_conversations_user_activity")


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_user_activity", ["user_id", "last_activity_at", "id"], unique=False
        )
        batch_op.drop_index("ix_conversations_user_list")
