"""The OAuth 2 / OpenID Connect side of sign-in, with Authlib: discovery, the authorization URL
(state, PKCE S256, nonce), the code exchange, ID token validation by JWKS (joserfc, Authlib's
JOSE library) and, for GitHub, its user and emails API.

Discovery documents and key sets are cached per process; an ID token signed by a key the cache
does not know triggers one refetch of the key set (the provider rotated its keys).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import ClaimsOption

from convobase.config import OAuthProviderConfig, Settings
from convobase.errors import ConvobaseError

GITHUB_AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token"  # noqa: S105 (a URL)
GITHUB_API_URL = "https://api.github.com"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
_CACHE_SECONDS = 3600
_LEEWAY_SECONDS = 60
_MIN_REFETCH_SECONDS = 60


class ProviderError(ConvobaseError):
    """The provider is down, answered an error or answered something we cannot use."""

    status_code = 502
    code = "provider_error"
    message = "The sign-in provider failed"


class IdTokenInvalid(ConvobaseError):
    status_code = 401
    code = "id_token_invalid"
    message = "The provider's ID token is not valid"


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    avatar_url: str | None = None


def default_scopes(provider: OAuthProviderConfig) -> list[str]:
    if provider.scopes:
        return provider.scopes
    if provider.kind == "github":
        return ["read:user", "user:email"]
    return ["openid", "email", "profile"]


class OAuthClients:
    """One per process (on the runtime): an HTTP client plus discovery and key-set caches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(timeout=settings.oauth_timeout_seconds)
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, tuple[float, KeySet]] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    def _oauth(self, provider: OAuthProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret.get_secret_value(),
            scope=" ".join(default_scopes(provider)),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.oauth_timeout_seconds,
        )

    async def _get_json(self, url: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderError(
                "The sign-in provider is unreachable", details={"reason": type(exc).__name__}
            ) from exc
        if response.status_code != 200:
            raise ProviderError(
                f"The sign-in provider answered HTTP {response.status_code}",
                details={"status": response.status_code},
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError("The sign-in provider answered something that is not JSON") from exc

    async def metadata(self, provider: OAuthProviderConfig) -> dict[str, Any]:
        """The OpenID discovery document of an `oidc` or `google` provider (cached)."""
        assert provider.issuer is not None
        issuer = provider.issuer.rstrip("/")
        cached = self._metadata.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        document = await self._get_json(f"{issuer}/.well-known/openid-configuration")
        if not isinstance(document, dict) or not all(
            isinstance(document.get(k), str)
            for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        ):
            raise ProviderError("The provider's discovery document is incomplete")
        if document["issuer"].rstrip("/") != issuer:
            raise ProviderError("The provider's discovery document names another issuer")
        self._metadata[issuer] = (time.monotonic() + _CACHE_SECONDS, document)
        return document

    async def _key_set(self, jwks_uri: str, refresh: bool = False) -> KeySet:
        cached = self._jwks.get(jwks_uri)
        now = time.monotonic()
        if cached and cached[0] > now:
            # A refetch for an unknown signature at most once a minute: a flood of forged
            # tokens must not become a flood of requests to the provider.
            fetched = cached[0] - _CACHE_SECONDS
            if not refresh or now - fetched < _MIN_REFETCH_SECONDS:
                return cached[1]
        document = await self._get_json(jwks_uri)
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderError("The provider's key set cannot be read") from exc
        self._jwks[jwks_uri] = (time.monotonic() + _CACHE_SECONDS, keys)
        return keys

    async def authorization_url(
        self,
        provider: OAuthProviderConfig,
        redirect_uri: str,
        state: str,
        code_verifier: str,
        nonce: str | None,
    ) -> str:
        if provider.kind == "github":
            endpoint = provider.authorize_url or GITHUB_AUTHORIZE_URL
        else:
            endpoint = (await self.metadata(provider))["authorization_endpoint"]
        extra = {"nonce": nonce} if nonce else {}
        async with self._oauth(provider, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint, state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    async def _exchange(
        self,
        provider: OAuthProviderConfig,
        redirect_uri: str,
        token_url: str,
        code: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        async with self._oauth(provider, redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    headers={"Accept": "application/json"},
                )
            except OAuthError as exc:
                raise ProviderError(
                    "The provider refused the sign-in code",
                    details={"provider_error": str(exc.error or "")[:200]},
                ) from exc
            except httpx.HTTPError as exc:
                raise ProviderError(
                    "The sign-in provider is unreachable", details={"reason": type(exc).__name__}
                ) from exc
            except ValueError as exc:  # a token answer that is not JSON
                raise ProviderError("The provider's token answer cannot be read") from exc
        if not isinstance(token, dict) or not token.get("access_token"):
            raise ProviderError("The provider's token answer has no access token")
        return dict(token)

    async def identity(
        self,
        provider: OAuthProviderConfig,
        redirect_uri: str,
        code: str,
        code_verifier: str,
        nonce: str | None,
    ) -> Identity:
        """Exchange the code (with the PKCE verifier) and say who signed in."""
        if provider.kind == "github":
            token_url = provider.token_url or GITHUB_TOKEN_URL
            token = await self._exchange(provider, redirect_uri, token_url, code, code_verifier)
            return await self._github_identity(provider, token["access_token"])
        metadata = await self.metadata(provider)
        token = await self._exchange(
            provider, redirect_uri, metadata["token_endpoint"], code, code_verifier
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise IdTokenInvalid("The provider sent no ID token")
        claims = await self.validate_id_token(provider, metadata, id_token, nonce)
        email = claims.get("email")
        verified = claims.get("email_verified")
        name = claims.get("name")
        picture = claims.get("picture")
        userinfo_url = metadata.get("userinfo_endpoint")
        if email is None and isinstance(userinfo_url, str):
            info = await self._get_json(
                userinfo_url, headers={"Authorization": f"Bearer {token['access_token']}"}
            )
            if isinstance(info, dict) and info.get("sub") == claims["sub"]:
                email, verified = info.get("email"), info.get("email_verified")
                name = name or info.get("name")
                picture = picture or info.get("picture")
        return Identity(
            subject=str(claims["sub"]),
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            email_verified=verified is True or verified == "true",
            name=name[:200] if isinstance(name, str) and name else None,
            avatar_url=picture if isinstance(picture, str) and len(picture) <= 2048 else None,
        )

    async def validate_id_token(
        self,
        provider: OAuthProviderConfig,
        metadata: dict[str, Any],
        id_token: str,
        nonce: str | None,
    ) -> dict[str, Any]:
        """Signature (by the provider's JWKS), issuer, audience, expiry and nonce."""
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if isinstance(a, str) and a.lower() != "none"]
        decoded = None
        for refresh in (False, True):  # (True: the provider may have rotated its keys)
            keys = await self._key_set(metadata["jwks_uri"], refresh=refresh)
            try:
                decoded = jwt.decode(id_token, keys, algorithms=algorithms)
                break
            except (JoseError, ValueError) as exc:
                if refresh:
                    raise IdTokenInvalid(
                        "The ID token's signature does not verify",
                        details={"reason": type(exc).__name__},
                    ) from exc
        assert decoded is not None
        issuers = list(GOOGLE_ISSUERS) if provider.kind == "google" else [metadata["issuer"]]
        options: dict[str, ClaimsOption] = {
            "iss": {"essential": True, "values": issuers},
            "aud": {"essential": True, "value": provider.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(leeway=_LEEWAY_SECONDS)
        registry.options.update(options)
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise IdTokenInvalid(
                f"The ID token is not valid: {exc.description or exc.error}",
                details={"reason": exc.error},
            ) from exc
        if not isinstance(decoded.claims.get("sub"), str):
            raise IdTokenInvalid("The ID token has no subject")
        return dict(decoded.claims)

    async def _github_identity(self, provider: OAuthProviderConfig, access_token: str) -> Identity:
        api = (provider.api_url or GITHUB_API_URL).rstrip("/")
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/vnd.github+json",
        }
        user = await self._get_json(f"{api}/user", headers=headers)
        if not isinstance(user, dict) or user.get("id") is None:
            raise ProviderError("GitHub's user answer has no id")
        emails = await self._get_json(f"{api}/user/emails", headers=headers)
        email, verified = None, False
        if isinstance(emails, list):
            rows = [e for e in emails if isinstance(e, dict) and isinstance(e.get("email"), str)]
            best = sorted(rows, key=lambda e: (not e.get("primary"), not e.get("verified")))
            if best:
                email, verified = best[0]["email"], best[0].get("verified") is True
        name = user.get("name") or user.get("login")
        avatar = user.get("avatar_url")
        return Identity(
            subject=str(user["id"]),
            email=email.strip().lower() if email else None,
            email_verified=verified,
            name=str(name)[:200] if name else None,
            avatar_url=avatar if isinstance(avatar, str) and len(avatar) <= 2048 else None,
        )
