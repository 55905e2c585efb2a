"""The one registry of the columns that tie a row to a user, and what happens to them when a
guest becomes an account (merge) or an account is deleted.

Every column named ``user_id`` and every foreign key to ``users.id`` must be listed here:
``tests/accounts/test_ownership.py`` introspects ``Base.metadata`` and fails on a missing one,
and checks that the declared deletion rule matches the foreign key's ``ON DELETE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class OnMerge(Enum):
    MOVE = "move"  # UPDATE ... SET column = account WHERE column = guest
    SUM = "sum"  # a rollup keyed by user: counters added into the account's rows
    PREFERENCES = "preferences"  # one row per user: the account's document, else the guest's
    DROP = "drop"  # not carried over (credentials, limits): removed with the guest


class OnDelete(Enum):
    CASCADE = "cascade"  # ON DELETE CASCADE removes the row with the user
    SET_NULL = "set_null"  # ON DELETE SET NULL: the row stays, no longer linked to anyone
    ANONYMISE = "anonymise"  # no foreign key: moved to a fresh random id (usage, for billing)


@dataclass(frozen=True, slots=True)
class Owned:
    table: str
    column: str
    merge: OnMerge
    delete: OnDelete
    why: str = ""


M, D = OnMerge, OnDelete

REGISTRY: tuple[Owned, ...] = (
    Owned("conversations", "user_id", M.MOVE, D.CASCADE),
    Owned("conversation_tags", "user_id", M.MOVE, D.CASCADE),
    Owned("messages", "user_id", M.MOVE, D.CASCADE),
    Owned("messages", "author_id", M.MOVE, D.SET_NULL, "who wrote it into a shared chat"),
    Owned("message_edits", "user_id", M.MOVE, D.CASCADE),
    Owned("tool_runs", "user_id", M.MOVE, D.CASCADE),
    Owned("agent_logs", "user_id", M.MOVE, D.CASCADE),
    Owned("feedback", "user_id", M.MOVE, D.CASCADE, "the account's own rating wins"),
    Owned("search_docs", "user_id", M.MOVE, D.CASCADE, "the FTS owner token moves too"),
    Owned("files", "user_id", M.MOVE, D.CASCADE, "versions renumbered; blobs released after"),
    Owned("shares", "user_id", M.MOVE, D.CASCADE),
    Owned("shares", "recipient_id", M.MOVE, D.CASCADE, "a share with oneself is dropped"),
    Owned("imported_conversations", "user_id", M.MOVE, D.CASCADE, "the account's entry wins"),
    Owned("preferences", "user_id", M.PREFERENCES, D.CASCADE, "whole document: account's wins"),
    Owned("usage_events", "user_id", M.MOVE, D.ANONYMISE, "identifying fields stripped"),
    Owned("usage_daily", "user_id", M.SUM, D.ANONYMISE, "SYSTEM_ID rows untouched"),
    Owned("usage_latency_daily", "user_id", M.SUM, D.ANONYMISE, "SYSTEM_ID rows untouched"),
    Owned("usage_user_periods", "user_id", M.SUM, D.ANONYMISE),
    Owned("sessions", "user_id", M.DROP, D.CASCADE, "revoked in the session store"),
    Owned("api_keys", "user_id", M.DROP, D.CASCADE, "guests may not have any"),
    Owned("provider_keys", "user_id", M.DROP, D.CASCADE, "sealed to the user id; guests refused"),
    Owned("oauth_accounts", "user_id", M.DROP, D.CASCADE, "guests may not link identities"),
    Owned("oauth_states", "link_user_id", M.DROP, D.CASCADE),
    Owned("user_quotas", "user_id", M.DROP, D.CASCADE, "the account keeps its own limits"),
    Owned("quota_reservations", "user_id", M.MOVE, D.CASCADE, "in-flight allowance stays held"),
)


def entries(*, merge: OnMerge | None = None, delete: OnDelete | None = None) -> list[Owned]:
    return [
        e
        for e in REGISTRY
        if (merge is None or e.merge is merge) and (delete is None or e.delete is delete)
    ]
