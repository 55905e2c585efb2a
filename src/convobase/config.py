"""Settings, read from the environment (prefix ``CONVOBASE_``; nested fields with ``__``).

Every field here is documented in README.md's configuration table; a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from convobase.errors import ConfigError

# Values that look like secrets but are placeholders; production refuses them.
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development", "convobase"}
_SECRET_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)


class ProviderConfig(BaseModel):
    """One upstream the gateway may call (see README: "Gateway providers")."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    kind: Literal["openai", "anthropic"] = "openai"
    base_url: str = Field(min_length=1, max_length=2000)
    api_key: SecretStr | None = None
    models: list[str] = Field(default_factory=list, max_length=10_000)
    model_prefix: str | None = Field(None, min_length=1, max_length=200)
    timeout_seconds: float | None = Field(None, gt=0, le=3600)


class OAuthProviderConfig(BaseModel):
    """One sign-in provider (see README: "Social sign-in")."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    kind: Literal["google", "github", "oidc"]
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: SecretStr
    issuer: str | None = Field(
        None, min_length=1, max_length=2000, description="OIDC issuer (discovery) URL."
    )
    display_name: str | None = Field(None, min_length=1, max_length=100)
    scopes: list[str] | None = Field(None, max_length=50)
    # GitHub only, for GitHub Enterprise (and the test suite's stand-in).
    authorize_url: str | None = Field(None, min_length=1, max_length=2000)
    token_url: str | None = Field(None, min_length=1, max_length=2000)
    api_url: str | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _defaults(self) -> OAuthProviderConfig:
        if self.kind == "google" and self.issuer is None:
            self.issuer = "https://accounts.google.com"
        if self.kind == "oidc" and not self.issuer:
            raise ValueError("an `oidc` provider needs an `issuer` URL")
        return self

    @property
    def label(self) -> str:
        if self.display_name:
            return self.display_name
        return {"google": "Google", "github": "GitHub"}.get(self.kind, self.name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONVOBASE_", env_nested_delimiter="__", extra="ignore"
    )

    env: Literal["development", "production", "test"] = Field(
        "development", description="Deployment mode; `production` refuses a missing secret key."
    )
    data_dir: Path = Field(
        Path("data"), description="Folder for the SQLite file, secret and files."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: SQLite in the data folder. "
        "PostgreSQL: `postgresql+asyncpg://user@host/db`.",
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="Connections per process.")
    redis_url: str | None = Field(
        None, description="When set, sessions and rate limits live in Redis (shared by processes)."
    )
    redis_prefix: str = Field("cb:", description="Prefix of every Redis key Convobase writes.")
    secret_key: SecretStr | None = Field(
        None,
        description="Server secret (CSRF tokens, key derivation). Generated into the data folder "
        "when unset, outside production.",
    )
    host: str = Field("127.0.0.1", description="Address `convobase serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `convobase serve` binds.")
    public_url: str | None = Field(
        None, description="External base URL (origin checks, links). Default: the served address."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    log_json: bool = Field(
        True, description="Structured JSON logs (false: human-readable console)."
    )
    access_log: bool = Field(True, description="One log line per request.")
    max_request_bytes: int = Field(
        1_048_576, ge=1024, description="Largest JSON request body accepted (413 beyond)."
    )

    session_ttl_days: int = Field(30, ge=1, le=365, description="Session lifetime, sliding.")
    session_touch_seconds: int = Field(
        60, ge=0, description="Write a session's new expiry at most this often."
    )
    session_cookie_name: str = Field("convobase_session", description="Session cookie name.")
    cookie_secure: bool | None = Field(
        None, description="Force the cookie's Secure flag; default: on when served over https."
    )
    signup_enabled: bool = Field(
        True, description="Allow self-service sign-up (false is the same as `signup_mode=closed`)."
    )
    signup_mode: Literal["open", "invite", "closed"] = Field(
        "open",
        description="Who may create an account: anyone (`open`), only people an admin created "
        "an account for (`invite`: they sign in with a password or a provider whose verified "
        "email matches), or nobody (`closed`).",
    )
    signup_email_domains: list[str] = Field(
        default_factory=list,
        description='Email domains allowed to sign up (JSON list, e.g. `["example.com"]`); '
        "empty: any.",
    )
    oauth_providers: list[OAuthProviderConfig] = Field(
        default_factory=list,
        description="Sign-in providers, a JSON list of `{name, kind, "
        "client_id, client_secret, issuer, display_name}` (see Social sign-in).",
    )
    oauth_return_urls: list[str] = Field(
        default_factory=list,
        description="Where sign-in may return to: URL prefixes or origins (JSON list). "
        "Empty: the public URL's origin.",
    )
    oauth_state_ttl_seconds: int = Field(
        600, ge=30, le=3600, description="How long a started sign-in may take to come back."
    )
    oauth_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Longest wait for a sign-in provider's answer."
    )

    password_min_length: int = Field(10, ge=8, le=128, description="Shortest password accepted.")
    password_max_length: int = Field(
        1024, ge=64, le=4096, description="Longest password accepted (never truncated)."
    )
    argon2_time_cost: int = Field(3, ge=1, le=20, description="argon2id iterations.")
    argon2_memory_kib: int = Field(65536, ge=8, description="argon2id memory in KiB.")
    argon2_parallelism: int = Field(4, ge=1, le=16, description="argon2id lanes.")

    login_email_failures: int = Field(
        10, ge=1, description="Failed logins per email per window before 429."
    )
    login_ip_attempts: int = Field(60, ge=1, description="Logins per client address per window.")
    login_window_seconds: int = Field(900, ge=1, description="Login throttle window.")
    signup_ip_attempts: int = Field(20, ge=1, description="Sign-ups per client address per hour.")
    guests_enabled: bool = Field(
        True, description="Allow `POST /api/v1/auth/guest` (anonymous users who may sign up later)."
    )
    guest_idle_hours: int = Field(
        72,
        ge=1,
        le=24 * 365,
        description="A guest idle this long is gone: its session expires, `convobase prune` "
        "deletes it.",
    )
    guest_ip_attempts: int = Field(10, ge=1, description="Guests per client address per hour.")

    api_key_max_per_user: int = Field(100, ge=1, description="Active API keys per user.")
    sessions_max_per_user: int = Field(
        200, ge=1, description="Live sessions per user; the oldest is revoked beyond."
    )

    storage_backend: Literal["local", "s3"] = Field(
        "local", description="Where file bytes live: `local` (a folder) or `s3` (S3-compatible)."
    )
    storage_dir: Path | None = Field(
        None, description="Folder of the `local` backend. Default: `files/` in the data folder."
    )
    s3_endpoint: str | None = Field(
        None, description="S3 endpoint URL (MinIO, R2, SeaweedFS...); unset for AWS."
    )
    s3_public_endpoint: str | None = Field(
        None,
        description="Endpoint URL that clients reach S3 at, when it differs from "
        "`CONVOBASE_S3_ENDPOINT` (the app's own way in): used only to sign `download_url`s.",
    )
    s3_bucket: str | None = Field(None, description="S3 bucket (required for `s3`).")
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    s3_path_style: bool = Field(
        True, description="Path-style S3 URLs (`endpoint/bucket/key`), as most servers want."
    )
    s3_prefix: str = Field("", description="Key prefix inside the bucket.")
    upload_max_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest file accepted (413 beyond, while streaming)."
    )
    upload_json_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        description="Largest file accepted as JSON base64 (decoded size; the body is buffered).",
    )
    upload_allowed_types: list[str] = Field(
        default_factory=lambda: [
            "image/*",
            "application/pdf",
            "text/*",
            "application/json",
            "audio/*",
            "video/*",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.*",
            "application/vnd.oasis.opendocument.*",
            "application/rtf",
        ],
        description="MIME types accepted, decided from the bytes (`*` wildcards; JSON list).",
    )
    download_url_ttl_seconds: int = Field(
        3600, ge=10, le=7 * 86400, description="Lifetime of a signed `download_url`."
    )
    analysis_max_bytes: int = Field(
        50 * 1024 * 1024, ge=0, description="Files larger than this are not analysed."
    )
    analysis_pdf_max_pages: int = Field(
        50, ge=1, description="PDF pages whose text is extracted for analysis."
    )
    analysis_timeout_seconds: float = Field(
        10.0, gt=0, description="Time budget of one file's analysis."
    )
    image_max_pixels: int = Field(
        89_478_485,
        ge=1,
        description="Images above this many pixels are refused (decompression bombs).",
    )
    import_max_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1,
        description="Largest file `POST /api/v1/import` accepts (413 beyond, while streaming).",
    )
    import_max_conversations: int = Field(
        100_000, ge=1, description="Conversations one import takes; the rest are skipped."
    )
    import_max_messages: int = Field(
        2_000_000, ge=1, description="Messages one import takes; the rest are skipped."
    )
    import_max_messages_per_conversation: int = Field(
        20_000, ge=1, description="A conversation with more messages is skipped."
    )
    import_max_item_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest single conversation (or file) inside an import, decompressed.",
    )
    import_zip_max_bytes: int = Field(
        8 * 1024 * 1024 * 1024,
        ge=1,
        description="Total decompressed size of an import zip (declared and actual).",
    )
    import_zip_max_ratio: int = Field(
        200,
        ge=1,
        description="Largest decompressed/compressed ratio of a zip entry (bombs), for zips "
        "other than a Convobase export (judged by its bytes against the size limits alone).",
    )
    import_zip_max_entries: int = Field(
        200_000, ge=1, description="Most entries an import zip may hold."
    )
    import_batch_size: int = Field(
        200, ge=1, le=100_000, description="Conversations per transaction of `convobase import`."
    )

    providers: list[ProviderConfig] = Field(
        default_factory=list,
        description="Gateway upstreams, a JSON list of `{name, kind, base_url, api_key, models, "
        "model_prefix}` (see Gateway providers).",
    )
    gateway_timeout_seconds: float = Field(
        120.0, gt=0, le=3600, description="Longest wait for an upstream's answer or next chunk."
    )
    gateway_connect_timeout_seconds: float = Field(
        10.0, gt=0, le=600, description="Longest wait to connect to an upstream."
    )
    gateway_connect_retries: int = Field(
        2, ge=0, le=10, description="Retries when an upstream refuses the connection (safe)."
    )
    gateway_max_request_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest chat completion request body."
    )
    usage_max_range_days: int = Field(
        400, ge=1, le=3660, description="Longest date range a usage summary or export covers."
    )
    quota_requests_per_day: int | None = Field(
        None, ge=0, description="Default requests per user per UTC day (unset: unlimited)."
    )
    quota_tokens_per_month: int | None = Field(
        None, ge=0, description="Default tokens per user per UTC month (unset: unlimited)."
    )
    quota_cost_per_month_usd: float | None = Field(
        None, ge=0, description="Default spend per user per UTC month in USD (unset: unlimited)."
    )
    quota_reservation_seconds: int = Field(
        600, ge=1, le=86400, description="How long an unsettled quota reservation holds."
    )

    share_max_per_conversation: int = Field(
        100, ge=1, le=10_000, description="Live (unrevoked, unexpired) shares per conversation."
    )
    share_max_messages: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Messages a shared page or snapshot shows at most (the newest of the path).",
    )
    share_user_invites_per_hour: int = Field(
        60, ge=1, description="Shares with a named user one account may create per hour."
    )

    admin_email: str | None = Field(None, description="Bootstrap admin created by `serve`.")
    admin_password: SecretStr | None = Field(None, description="Bootstrap admin's password.")
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Former secret keys (JSON list), still accepted to decrypt stored provider "
        "keys while `convobase keys rotate` re-encrypts them; drop them once it has run.",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'convobase.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "files").resolve()

    @property
    def effective_signup_mode(self) -> Literal["open", "invite", "closed"]:
        return self.signup_mode if self.signup_enabled else "closed"

    def email_domain_allowed(self, email: str) -> bool:
        if not self.signup_email_domains:
            return True
        domain = email.rpartition("@")[2].lower()
        return domain in {d.strip().lower().lstrip("@") for d in self.signup_email_domains}

    def oauth_provider(self, name: str) -> OAuthProviderConfig | None:
        return next((p for p in self.oauth_providers if p.name == name), None)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def session_store_kind(self) -> Literal["sql", "redis"]:
        return "redis" if self.redis_url else "sql"

    @cached_property
    def secret(self) -> bytes:
        """The server secret: given, or read from / generated into the data folder."""
        given = self.secret_key.get_secret_value() if self.secret_key else None
        weak = given is None or given.strip().lower() in _PLACEHOLDER_SECRETS or len(given) < 32
        if self.env == "production" and weak:
            raise ConfigError(
                "CONVOBASE_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')."
            )
        if given is not None:
            return given.encode()
        path = self.data_dir / _SECRET_FILE
        if path.exists():
            return path.read_text().strip().encode()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting at once must agree on one secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip().encode()
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value.encode()

    def check(self) -> None:
        """Fail fast on a configuration that cannot run (raises ConfigError)."""
        _ = self.secret
