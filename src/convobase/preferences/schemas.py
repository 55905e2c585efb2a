"""The preferences document: typed and bounded, every field with a default.

Models are strict (JSON types only: ``"true"`` is not a boolean) and forbid unknown fields at
every level, so a typo is a 422 rather than a silently ignored setting.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints

MAX_DOCUMENT_BYTES = 16_384  # the stored choices, as compact JSON
MAX_BODY_BYTES = 65_536  # a PATCH or PUT body
MAX_PATH_LENGTH = 200
MAX_DEFAULT_MODELS = 64
MAX_BETA_FEATURES = 32

Language = Annotated[
    str, StringConstraints(max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
]
# Domains are also keys of default_model and so segments of dotted paths: no dots.
Domain = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    # UTC is always known, even on a host without tz data.
    if value != "UTC" and value not in _time_zones():
        raise ValueError("unknown time zone (use an IANA name such as Europe/Lisbon)")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Notifications(_Section):
    email: bool = True
    push: bool = False
    sound: bool = True
    desktop: bool = False


class Privacy(_Section):
    save_history: bool = True
    share_usage_analytics: bool = False
    send_crash_reports: bool = False
    history_retention_days: int | None = Field(
        None, ge=1, le=3650, description="Null: keep history until deleted."
    )


class Accessibility(_Section):
    reduce_motion: bool = False
    high_contrast: bool = False
    screen_reader: bool = False


class Preferences(_Section):
    """A user's preferences; a user who never chose gets exactly these defaults."""

    language: Language = "en"
    locale: Language = "en-US"
    timezone: TimeZone = "UTC"
    theme: Literal["light", "dark", "system"] = "system"
    font_size: int = Field(16, ge=10, le=32)
    compact_mode: bool = False
    default_domain: Domain = "general"
    preferred_provider: Slug | None = None
    default_model: dict[Domain, ModelName] = Field(
        default_factory=dict,
        max_length=MAX_DEFAULT_MODELS,
        description="The model to use for each domain (domain -> model).",
    )
    temperature: float = Field(0.7, ge=0, le=2, allow_inf_nan=False)
    max_tokens: int = Field(2048, ge=1, le=1_000_000)
    streaming: bool = True
    notifications: Notifications = Field(default_factory=Notifications)
    privacy: Privacy = Field(default_factory=Privacy)
    accessibility: Accessibility = Field(default_factory=Accessibility)
    beta_features: Annotated[
        list[Slug], Field(max_length=MAX_BETA_FEATURES), AfterValidator(_unique)
    ] = Field(default_factory=list, description="Opted-in beta feature flags.")


class PreferencesOut(BaseModel):
    preferences: Preferences
    updated_at: datetime | None = Field(
        description="When the user last changed a preference; null if never."
    )
    version: int = Field(description="Incremented by every change; 0 if never changed.")


class PreferenceValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: JsonValue = Field(description="The new value; null resets it to its default.")


class PreferenceValueOut(BaseModel):
    path: str
    value: JsonValue
    updated_at: datetime | None


class PresetOut(BaseModel):
    name: str
    description: str
    values: dict[str, Any] = Field(description="Merged into the user's preferences on apply.")


class PresetListOut(BaseModel):
    data: list[PresetOut]
    next_cursor: str | None = None
