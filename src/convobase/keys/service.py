"""The vault's rules: seal on write, show only the last four characters, open for the gateway.

``user_key`` is the gateway's entry point. A key that cannot be opened (sealed under a secret
no longer configured, or tampered with) is a server configuration problem: ``VaultError``, a
503, never a 500 and never a silent fallback to another key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.config import Settings
from convobase.db.base import utcnow
from convobase.errors import Conflict, ConvobaseError, NotFound
from convobase.keys import repository
from convobase.keys.crypto import DecryptionError, Keyring, Sealed
from convobase.models import ProviderKey

log = structlog.get_logger("convobase.keys")

# A soft bound per user: the list is not paginated, and real users hold a handful.
MAX_KEYS_PER_USER = 100
# Keys shorter than this show no characters at all, so a short key is never shown whole.
_MIN_LENGTH_TO_SHOW = 12


class VaultError(ConvobaseError):
    status_code = 503
    code = "vault_unavailable"
    message = (
        "Your stored key for this provider cannot be decrypted with the server's current "
        "secrets; enter the key again, or ask the operator to restore the previous secret key "
        "in CONVOBASE_PREVIOUS_SECRET_KEYS"
    )


def keyring(settings: Settings) -> Keyring:
    """The current secret's key (seals) and the previous secrets' keys (open only)."""
    previous = [s.get_secret_value().encode() for s in settings.previous_secret_keys]
    return Keyring.from_secrets(settings.secret, previous)


def last4(key: str) -> str:
    return key[-4:] if len(key) >= _MIN_LENGTH_TO_SHOW else ""


def _sealed(row: ProviderKey) -> Sealed:
    return Sealed(ciphertext=row.ciphertext, nonce=row.nonce, version=row.key_version)


def _not_found() -> NotFound:
    return NotFound("No key stored for this provider")


async def put(
    db: AsyncSession, settings: Settings, user_id: uuid.UUID, provider: str, api_key: str
) -> ProviderKey:
    existing = await repository.get(db, user_id, provider)
    if existing is None and await repository.count_for(db, user_id) >= MAX_KEYS_PER_USER:
        raise Conflict(
            f"At most {MAX_KEYS_PER_USER} provider keys per user",
            code="too_many_provider_keys",
        )
    sealed = keyring(settings).seal(api_key, user_id, provider)
    row = await repository.upsert(db, user_id, provider, sealed, last4(api_key), utcnow())
    log.info(
        "provider_key_saved", user_id=str(user_id), provider=provider, key_version=sealed.version
    )
    return row


async def get(db: AsyncSession, user_id: uuid.UUID, provider: str) -> ProviderKey:
    row = await repository.get(db, user_id, provider)
    if row is None:
        raise _not_found()
    return row


async def list_keys(db: AsyncSession, user_id: uuid.UUID) -> list[ProviderKey]:
    return await repository.list_for(db, user_id)


async def delete(db: AsyncSession, user_id: uuid.UUID, provider: str) -> None:
    if not await repository.delete_one(db, user_id, provider):
        raise _not_found()
    log.info("provider_key_deleted", user_id=str(user_id), provider=provider)


async def user_key(
    db: AsyncSession, settings: Settings, user_id: uuid.UUID, provider: str
) -> str | None:
    """The user's own key for ``provider``, decrypted; None when they stored none.

    Raises VaultError (503 ``vault_unavailable``) when the stored key cannot be decrypted.
    Works in any session (read or write); it only reads. ``settings``: ``runtime.settings``
    (the current and previous secret keys).
    """
    row = await repository.get(db, user_id, provider)
    if row is None:
        return None
    try:
        return keyring(settings).open(_sealed(row), user_id, provider)
    except DecryptionError as exc:
        log.warning(
            "provider_key_undecryptable",
            user_id=str(user_id),
            provider=provider,
            key_version=row.key_version,
            reason=exc.reason,
        )
        raise VaultError(details={"provider": provider, "reason": exc.reason}) from exc


@dataclass
class RotationBatch:
    seen: int = 0  # rows scanned; 0 means the rotation is complete
    rotated: int = 0
    failed: int = 0  # rows no configured secret opens (left as they are)
    last_id: uuid.UUID | None = None


async def rotate_batch(
    db: AsyncSession, settings: Settings, *, after: uuid.UUID | None, limit: int
) -> RotationBatch:
    """Re-seal up to ``limit`` rows not under the current secret (id order, after ``after``).

    The caller commits each batch in its own short transaction and passes ``last_id`` back as
    ``after``; a row that cannot be opened is skipped and counted, never lost.
    """
    ring = keyring(settings)
    batch = RotationBatch()
    for row in await repository.stale_batch(db, ring.current.version, after, limit):
        batch.seen += 1
        batch.last_id = row.id
        try:
            plaintext = ring.open(_sealed(row), row.user_id, row.provider)
        except DecryptionError as exc:
            batch.failed += 1
            log.warning(
                "provider_key_undecryptable",
                user_id=str(row.user_id),
                provider=row.provider,
                key_version=row.key_version,
                reason=exc.reason,
            )
            continue
        sealed = ring.seal(plaintext, row.user_id, row.provider)
        row.ciphertext, row.nonce, row.key_version = sealed.ciphertext, sealed.nonce, sealed.version
        batch.rotated += 1
    await db.flush()
    return batch
