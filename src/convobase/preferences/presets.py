"""Named bundles of preferences, as the seed plans describe them; applying one merges it in.

Each preset is checked against the schema when this module loads, so a preset that no longer
validates fails at start-up, not when a user applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convobase.preferences.schemas import Preferences


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    description: str
    values: dict[str, Any]


def _checked(*presets: Preset) -> dict[str, Preset]:
    for preset in presets:
        Preferences.model_validate(preset.values)
    return {preset.name: preset for preset in presets}


PRESETS = _checked(
    Preset(
        name="general",
        description="Balanced defaults for everyday chat.",
        values={"default_domain": "general", "temperature": 0.7, "streaming": True},
    ),
    Preset(
        name="medical",
        description="Conservative, careful answers for medical questions.",
        values={
            "default_domain": "medical",
            "temperature": 0.3,
            "default_model": {"medical": "gpt-4o"},
        },
    ),
    Preset(
        name="legal",
        description="Conservative, careful answers for legal questions.",
        values={
            "default_domain": "legal",
            "temperature": 0.3,
            "default_model": {"legal": "gpt-4o"},
        },
    ),
    Preset(
        name="developer",
        description="Coding first: a strong coding model and the beta features.",
        values={
            "default_domain": "coding",
            "default_model": {"coding": "claude-sonnet-4-5"},
            "beta_features": ["experimental_models", "multimodal"],
        },
    ),
)
