"""The ownership registry covers every column that ties a row to a user, and tells the truth
about what the database does with it when the user goes."""

from __future__ import annotations

from convobase.accounts.ownership import REGISTRY, OnDelete, OnMerge
from convobase.models import Base

_ON_DELETE = {"CASCADE": OnDelete.CASCADE, "SET NULL": OnDelete.SET_NULL}


def _user_columns() -> dict[tuple[str, str], str | None]:
    """(table, column) -> the foreign key's ON DELETE (None: a user_id without a foreign key)."""
    found: dict[tuple[str, str], str | None] = {}
    for table in Base.metadata.sorted_tables:
        if table.name == "users":
            continue
        for column in table.columns:
            to_users = [fk for fk in column.foreign_keys if fk.column.table.name == "users"]
            if to_users:
                found[(table.name, column.name)] = to_users[0].ondelete
            elif column.name == "user_id":
                found[(table.name, column.name)] = None
    return found


def test_every_user_column_is_registered() -> None:
    registered = {(e.table, e.column) for e in REGISTRY}
    missing = set(_user_columns()) - registered
    assert not missing, f"add these to accounts/ownership.py REGISTRY: {sorted(missing)}"
    stale = registered - set(_user_columns())
    assert not stale, f"registered but not in the models: {sorted(stale)}"
    assert len(registered) == len(REGISTRY), "an entry is registered twice"


def test_declared_deletion_matches_the_foreign_keys() -> None:
    columns = _user_columns()
    for entry in REGISTRY:
        ondelete = columns[(entry.table, entry.column)]
        if ondelete is None:
            # No foreign key: nothing in the database removes the row, so the code must.
            assert entry.delete is OnDelete.ANONYMISE, entry
        else:
            assert _ON_DELETE.get(ondelete.upper()) is entry.delete, (entry, ondelete)


def test_summed_rollups_are_keyed_by_user() -> None:
    for entry in REGISTRY:
        if entry.merge is OnMerge.SUM:
            table = Base.metadata.tables[entry.table]
            assert entry.column in {c.name for c in table.primary_key.columns}, entry
