"""Settings: the secret key's life cycle, production refusal, README documents every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convobase.config import Settings
from convobase.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, secret_key=None).secret
    second = Settings(data_dir=tmp_path, secret_key=None).secret
    assert first == second and len(first) >= 32
    path = tmp_path / "secret_key"
    assert path.stat().st_mode & 0o077 == 0  # readable by the owner only


@pytest.mark.parametrize("secret", [None, "changeme", "short"])
def test_production_refuses_a_missing_or_weak_secret(tmp_path: Path, secret: str | None) -> None:
    settings = Settings(env="production", data_dir=tmp_path, secret_key=secret)
    with pytest.raises(ConfigError, match="CONVOBASE_SECRET_KEY"):
        settings.check()
    assert not (tmp_path / "secret_key").exists()


def test_production_accepts_a_real_secret(tmp_path: Path) -> None:
    Settings(env="production", data_dir=tmp_path, secret_key="k" * 48).check()


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'convobase.db'}"
    assert settings.session_store_kind == "sql"
    assert Settings(redis_url="redis://x").session_store_kind == "redis"


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`(CONVOBASE_[A-Z0-9_]+)`", readme))
    expected = {f"CONVOBASE_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from README's table"
    assert documented - expected - {"CONVOBASE_NEW_USER_PASSWORD"} == set(), (
        "README documents settings that do not exist"
    )
