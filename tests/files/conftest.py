"""File tests run on both engines and both storage backends (local folder, real S3 server)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(params=["local", "s3"])
def storage_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def file_settings() -> dict[str, Any]:
    """Parametrize in a test to change upload limits and the like."""
    return {}


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, storage_kind: str, file_settings: dict[str, Any]
) -> dict[str, Any]:
    overrides = dict(file_settings)
    if storage_kind == "s3":
        overrides.update(request.getfixturevalue("s3_settings_overrides"))
    return overrides
