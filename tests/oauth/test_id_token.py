"""ID token validation on its own: signature by the provider's key set, issuer, audience,
expiry and nonce (tokens made here with joserfc, so each bad case is exact)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from convobase.config import OAuthProviderConfig, Settings
from convobase.oauth.providers import IdTokenInvalid, OAuthClients

ISSUER = "https://idp.example.com"
JWKS_URI = ISSUER + "/jwks"
KEY = RSAKey.generate_key(2048, parameters={"kid": "good"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "good"})  # same kid, other key
METADATA = {"issuer": ISSUER, "jwks_uri": JWKS_URI}
PROVIDER = OAuthProviderConfig(
    name="idp", kind="oidc", client_id="app", client_secret="s", issuer=ISSUER
)


@pytest.fixture
async def clients() -> AsyncIterator[OAuthClients]:
    oauth = OAuthClients(Settings(oauth_timeout_seconds=1))
    keys = KeySet.import_key_set({"keys": [KEY.as_dict(private=False)]})
    oauth._jwks[JWKS_URI] = (float("inf"), keys)
    yield oauth
    await oauth.aclose()


def token(key: RSAKey = KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "app",
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "nonce": "n-1",
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": "good"}, claims, key)


async def test_a_good_token_passes(clients: OAuthClients) -> None:
    claims = await clients.validate_id_token(PROVIDER, METADATA, token(), "n-1")
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize(
    ("overrides", "nonce"),
    [
        ({"iss": "https://evil.example.com"}, "n-1"),
        ({"aud": "another-client"}, "n-1"),
        ({"exp": int(time.time()) - 3600}, "n-1"),
        ({"exp": None}, "n-1"),
        ({"sub": None}, "n-1"),
        ({"nonce": "n-2"}, "n-1"),
        ({"nonce": None}, "n-1"),
    ],
)
async def test_bad_claims_are_refused(
    clients: OAuthClients, overrides: dict[str, Any], nonce: str
) -> None:
    with pytest.raises(IdTokenInvalid):
        await clients.validate_id_token(PROVIDER, METADATA, token(**overrides), nonce)


async def test_a_token_signed_by_another_key_is_refused(clients: OAuthClients) -> None:
    with pytest.raises(IdTokenInvalid):
        await clients.validate_id_token(PROVIDER, METADATA, token(OTHER_KEY), "n-1")


async def test_unsigned_token_is_refused(clients: OAuthClients) -> None:
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = token().split(".")[1]
    with pytest.raises(IdTokenInvalid):
        await clients.validate_id_token(PROVIDER, METADATA, f"{header}.{body}.", "n-1")
