"""Opaque bearer secrets: session tokens, API keys and share links, stored only as SHA-256 hashes.

Both carry 256 random bits, so a fast hash is enough (no brute force is possible) and lookups
stay a single indexed equality; the recognisable prefix tells the two apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_PREFIX = "cbs_"
API_KEY_PREFIX = "cbk_"
API_KEY_DISPLAY_LENGTH = 12
SHARE_PREFIX = "cbsh_"
SHARE_DISPLAY_LENGTH = 12


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_share_token() -> str:
    return SHARE_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: bytes, session_id: str) -> str:
    return hmac.new(secret, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: bytes, session_id: str, candidate: str) -> bool:
    return hmac.compare_digest(csrf_token(secret, session_id), candidate)
