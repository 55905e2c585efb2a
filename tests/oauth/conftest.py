"""Sign-in providers for these tests: a real OpenID provider and a GitHub stand-in."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.fixtures.oidc import (
    APP_BASE,
    GITHUB_CLIENT_ID,
    GITHUB_CLIENT_SECRET,
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    free_port,
    github_url,
    oidc_issuer,
)

__all__ = ["github_url", "oidc_issuer"]

RETURN_URLS = [f"{APP_BASE}/app", "https://front.example.com"]


def providers(issuer: str, github: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "idp",
            "kind": "oidc",
            "client_id": OIDC_CLIENT_ID,
            "client_secret": OIDC_CLIENT_SECRET,
            "issuer": issuer,
            "display_name": "Test IdP",
        },
        {
            "name": "down",
            "kind": "oidc",
            "client_id": "nobody",
            "client_secret": "nothing",
            "issuer": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        },
        {
            "name": "github",
            "kind": "github",
            "client_id": GITHUB_CLIENT_ID,
            "client_secret": GITHUB_CLIENT_SECRET,
            "authorize_url": f"{github}/login/oauth/authorize",
            "token_url": f"{github}/login/oauth/access_token",
            "api_url": github,
        },
    ]


@pytest.fixture
def settings_overrides(oidc_issuer: str, github_url: str) -> dict[str, Any]:
    return {
        "oauth_providers": providers(oidc_issuer, github_url),
        "oauth_return_urls": RETURN_URLS,
    }


async def provider_login(authorize_url: str, login: str) -> str:
    """Drive the provider's devInteractions pages like a browser: follow redirects, post the
    login form (any name), then the consent form. Returns the app callback URL it sends us to.
    """
    async with httpx.AsyncClient(timeout=10) as idp:
        response = await idp.get(authorize_url)
        for _ in range(20):
            if response.status_code in (302, 303):
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(APP_BASE):
                    return location
                response = await idp.get(location)
                continue
            assert response.status_code == 200, response.text
            match = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert match, response.text
            data = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
            if 'name="login"' in response.text:
                data |= {"login": login, "password": "any"}
            response = await idp.post(urljoin(str(response.url), match.group(1)), data=data)
    raise AssertionError("the provider never sent the browser back to the app")


async def start(client: httpx.AsyncClient, provider: str = "idp", **params: str) -> str:
    """The app's authorize step; returns the provider URL it redirects to."""
    response = await client.get(f"/api/v1/auth/oauth/{provider}/authorize", params=params)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def sign_in(
    client: httpx.AsyncClient, login: str, provider: str = "idp", **params: str
) -> httpx.Response:
    """A whole sign-in; returns the app callback's response."""
    url = await start(client, provider, **params)
    callback = await provider_login(url, login)
    return await client.get(callback)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
