"""The vault's AES-256-GCM helpers: round trip, tamper detection, binding to the row, versions."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convobase.keys.crypto import (
    NONCE_BYTES,
    DecryptionError,
    Keyring,
    Sealed,
    associated_data,
    derive,
)

A = b"secret A " + b"a" * 40
B = b"secret B " + b"b" * 40
USER = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)
KEY = "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz"


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index % len(out)] ^= 0x01
    return bytes(out)


def test_round_trip_with_a_fresh_nonce_each_time() -> None:
    ring = Keyring.from_secrets(A)
    first, second = ring.seal(KEY, USER, "openai"), ring.seal(KEY, USER, "openai")
    assert ring.open(first, USER, "openai") == KEY == ring.open(second, USER, "openai")
    assert len(first.nonce) == NONCE_BYTES and first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    assert len(first.ciphertext) == len(KEY.encode()) + 16  # the GCM tag
    assert KEY.encode() not in first.ciphertext


@given(st.text(min_size=1, max_size=300))
def test_any_text_round_trips(key: str) -> None:
    ring = Keyring.from_secrets(A)
    assert ring.open(ring.seal(key, USER, "groq"), USER, "groq") == key


def test_version_is_a_fingerprint_of_the_derived_key() -> None:
    a, b = derive(A), derive(B)
    assert len(a.version) == 16 and int(a.version, 16) >= 0
    assert a.version == derive(A).version != b.version
    assert a.key != A[:32] and len(a.key) == 32
    assert A.hex() not in repr(a) and a.key.hex() not in repr(a)


@pytest.mark.parametrize("field", ["ciphertext", "nonce"])
@pytest.mark.parametrize("index", [0, 5, -1])
def test_a_flipped_bit_fails(field: str, index: int) -> None:
    ring = Keyring.from_secrets(A)
    sealed = ring.seal(KEY, USER, "openai")
    tampered = dataclasses.replace(sealed, **{field: _flip(getattr(sealed, field), index)})
    with pytest.raises(DecryptionError) as caught:
        ring.open(tampered, USER, "openai")
    assert caught.value.reason == "authentication_failed"


def test_a_truncated_nonce_or_ciphertext_fails() -> None:
    ring = Keyring.from_secrets(A)
    sealed = ring.seal(KEY, USER, "openai")
    for broken in (
        dataclasses.replace(sealed, nonce=sealed.nonce[:4]),
        dataclasses.replace(sealed, nonce=b""),
        dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:10]),
        dataclasses.replace(sealed, ciphertext=b""),
    ):
        with pytest.raises(DecryptionError):
            ring.open(broken, USER, "openai")


@pytest.mark.parametrize(("user", "provider"), [(OTHER, "openai"), (USER, "anthropic")])
def test_a_ciphertext_moved_to_another_user_or_provider_fails(
    user: uuid.UUID, provider: str
) -> None:
    ring = Keyring.from_secrets(A)
    sealed = ring.seal(KEY, USER, "openai")
    with pytest.raises(DecryptionError, match="authentication_failed"):
        ring.open(sealed, user, provider)


def test_a_relabelled_version_fails() -> None:
    ring = Keyring.from_secrets(B, [A])
    sealed = Keyring.from_secrets(A).seal(KEY, USER, "openai")
    assert ring.open(sealed, USER, "openai") == KEY
    relabelled = dataclasses.replace(sealed, version=ring.current.version)
    with pytest.raises(DecryptionError, match="authentication_failed"):
        ring.open(relabelled, USER, "openai")


def test_a_different_secret_fails() -> None:
    sealed = Keyring.from_secrets(A).seal(KEY, USER, "openai")
    with pytest.raises(DecryptionError) as caught:
        Keyring.from_secrets(B).open(sealed, USER, "openai")
    assert caught.value.reason == "unknown_key_version"
    # Even under a forged version label, another secret's key does not open it.
    forged = Sealed(sealed.ciphertext, sealed.nonce, derive(B).version)
    with pytest.raises(DecryptionError, match="authentication_failed"):
        Keyring.from_secrets(B).open(forged, USER, "openai")


def test_previous_secrets_open_but_only_the_current_one_seals() -> None:
    old = Keyring.from_secrets(A).seal(KEY, USER, "openai")
    ring = Keyring.from_secrets(B, [A])
    assert ring.open(old, USER, "openai") == KEY
    new = ring.seal(KEY, USER, "openai")
    assert new.version == derive(B).version != old.version
    assert Keyring.from_secrets(B).open(new, USER, "openai") == KEY


def test_associated_data_is_unambiguous() -> None:
    version = derive(A).version
    assert associated_data(USER, "openai", version) != associated_data(OTHER, "openai", version)
    assert associated_data(USER, "a.b", version) != associated_data(USER, "a.bc", version)
    assert associated_data(USER, "openai", version) != associated_data(
        USER, "openai", derive(B).version
    )
