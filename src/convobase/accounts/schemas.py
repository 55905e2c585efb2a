from __future__ import annotations

from convobase.auth.schemas import Password, Strict


class DeleteMeIn(Strict):
    password: Password | None = None
