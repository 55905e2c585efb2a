"""AES-256-GCM sealing of provider keys under keys derived from the server secret(s).

Small and pure (no I/O): the service decides what to seal and where it is stored.

- Key: HKDF-SHA256(secret, salt, info) -> 32 bytes, one per configured secret.
- Version: the first 8 bytes of SHA-256 of that derived key, in hex. A row records the version
  that sealed it, so the right key is picked among the current and previous secrets.
- Nonce: 96 random bits per encryption.
- Associated data: user id, provider and version, so a ciphertext copied to another row, user
  or provider (or relabelled with another version) fails to decrypt.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, the GCM standard
VERSION_LENGTH = 16  # hex characters of the fingerprint
_SALT = b"convobase provider-keys salt v1"
_INFO = b"convobase provider-keys v1"


class DecryptionError(Exception):
    """A sealed value cannot be opened; ``reason`` says why (never any key material)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # with the 16-byte GCM tag at the end
    nonce: bytes
    version: str


@dataclass(frozen=True)
class VaultKey:
    version: str
    key: bytes = field(repr=False)


def derive(secret: bytes) -> VaultKey:
    """The AES key for ``secret`` and its version (a fingerprint of the derived key)."""
    key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT, info=_INFO).derive(secret)
    return VaultKey(version=hashlib.sha256(key).digest()[:8].hex(), key=key)


def associated_data(user_id: uuid.UUID, provider: str, version: str) -> bytes:
    # Fixed-size id and version, then the provider (which cannot contain NUL): unambiguous.
    return (
        b"convobase provider-key\x00"
        + user_id.bytes
        + version.encode()
        + b"\x00"
        + (provider.encode())
    )


class Keyring:
    """The current key (seals) and every configured key by version (opens)."""

    def __init__(self, current: VaultKey, previous: Iterable[VaultKey] = ()) -> None:
        self.current = current
        self.by_version = {k.version: k for k in previous}
        self.by_version[current.version] = current

    @classmethod
    def from_secrets(cls, current: bytes, previous: Iterable[bytes] = ()) -> Keyring:
        return _keyring(current, tuple(previous))

    def seal(self, plaintext: str, user_id: uuid.UUID, provider: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        version = self.current.version
        ciphertext = AESGCM(self.current.key).encrypt(
            nonce, plaintext.encode(), associated_data(user_id, provider, version)
        )
        return Sealed(ciphertext=ciphertext, nonce=nonce, version=version)

    def open(self, sealed: Sealed, user_id: uuid.UUID, provider: str) -> str:
        key = self.by_version.get(sealed.version)
        if key is None:
            raise DecryptionError("unknown_key_version")
        try:
            plaintext = AESGCM(key.key).decrypt(
                sealed.nonce, sealed.ciphertext, associated_data(user_id, provider, sealed.version)
            )
        except (InvalidTag, ValueError) as exc:  # ValueError: a nonce of an impossible length
            raise DecryptionError("authentication_failed") from exc
        return plaintext.decode()


@lru_cache(maxsize=8)
def _keyring(current: bytes, previous: tuple[bytes, ...]) -> Keyring:
    return Keyring(derive(current), [derive(secret) for secret in previous])
