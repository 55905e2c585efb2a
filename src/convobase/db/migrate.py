"""Alembic, driven from code: `convobase serve` and `convobase db upgrade` both call `upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# Engine-specific search objects that migrations manage by hand and the models do not describe.
_UNMODELLED_PREFIXES = ("search_fts", "ix_search_docs_user_tsv")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (synchronous: runs its own event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate filter: ignore the hand-written full-text search objects."""
    return not (name or "").startswith(_UNMODELLED_PREFIXES)
