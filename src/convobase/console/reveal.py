"""The new API key, carried once from the create form's POST to the page it redirects to.

The key must not be in the URL, a log or a readable cookie, and a reload must neither post the
form again nor show the key again. So the POST answers 303 and hands the key over in a cookie
that is sealed (AES-256-GCM under a key derived from the server secret: the cookie jar holds
only ciphertext), bound to the browser session (its id is the associated data: the value
opens in no other session), short-lived (the issue time is inside the seal, checked here, not
only the cookie's Max-Age) and scoped to the keys page, which opens it once and deletes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request, Response

REVEAL_COOKIE = "convobase_new_key"
REVEAL_PATH = "/console/settings/api-keys"
REVEAL_SECONDS = 60
_NONCE_BYTES = 12
_INFO = b"convobase console reveal v1"


@lru_cache(maxsize=4)
def _cipher(secret: bytes) -> AESGCM:
    # Its own derived key: never the secret itself, nor the provider-key vault's key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return AESGCM(key)


def _bound_to(session_id: uuid.UUID) -> bytes:
    return b"convobase new api key\x00" + session_id.bytes


def seal(
    secret: bytes, session_id: uuid.UUID, key_id: uuid.UUID, api_key: str, *, now: float
) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    plain = json.dumps([str(key_id), api_key, now]).encode()
    sealed = _cipher(secret).encrypt(nonce, plain, _bound_to(session_id))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(
    secret: bytes, session_id: uuid.UUID, value: str, *, now: float
) -> tuple[uuid.UUID, str] | None:
    """The key id and key, when ``value`` was sealed for this session less than
    ``REVEAL_SECONDS`` ago; None for anything else (tampered, foreign, stale, garbage)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = _cipher(secret).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _bound_to(session_id)
        )
        key_id, api_key, issued = json.loads(plain)
        if not 0 <= now - float(issued) <= REVEAL_SECONDS:
            return None
        return uuid.UUID(key_id), str(api_key)
    except (InvalidTag, ValueError, TypeError, binascii.Error):
        return None


def hand_over(
    response: Response,
    secret: bytes,
    session_id: uuid.UUID,
    key_id: uuid.UUID,
    api_key: str,
    *,
    secure: bool,
) -> None:
    response.set_cookie(
        REVEAL_COOKIE,
        seal(secret, session_id, key_id, api_key, now=time.time()),
        max_age=REVEAL_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
        path=REVEAL_PATH,
    )


def take(request: Request, secret: bytes, session_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """The handed-over key id and key, if this request carries a valid one."""
    value = request.cookies.get(REVEAL_COOKIE)
    return None if value is None else unseal(secret, session_id, value, now=time.time())


def forget(request: Request, response: Response, *, secure: bool) -> None:
    """Delete the cookie with ``response``: the key is shown by this one page only."""
    if REVEAL_COOKIE in request.cookies:
        response.delete_cookie(
            REVEAL_COOKIE, path=REVEAL_PATH, secure=secure, httponly=True, samesite="strict"
        )
