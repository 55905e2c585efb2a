from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Secret, StringConstraints

PROVIDER_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MAX_KEY_LENGTH = 4096
# C0 and C1 control characters, DEL included.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(key: str) -> str:
    # Messages only: validation errors never echo the input (errors.py), and this is a secret.
    if _CONTROL.search(key):
        raise ValueError("must not contain control characters")
    if not key.isascii():  # it travels in an HTTP header
        raise ValueError("must be ASCII")
    if key != key.strip():
        raise ValueError("must not start or end with whitespace")
    return key


# Secret[...]: the value prints as '**********' wherever the model is shown (repr, logs).
ApiKeyValue = Secret[
    Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH),
        AfterValidator(_printable),
    ]
]


class ProviderKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: ApiKeyValue = Field(
        description="The provider's API key. Stored encrypted; never shown again.",
        json_schema_extra={"format": "password", "writeOnly": True},
    )


class ProviderKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider: str
    last4: str = Field(
        description="The key's last four characters, to recognise it (empty for a key shorter "
        "than 12 characters, so a short key is never shown whole)."
    )
    key_version: str = Field(description="Which server secret encrypted the key.")
    created_at: datetime
    updated_at: datetime


class ProviderKeyListOut(BaseModel):
    data: list[ProviderKeyOut]
    next_cursor: str | None = None
