"""Sign-in with GitHub (OAuth 2 plus its user and emails API), against a stand-in of its
endpoints in the suite."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.fixtures.oidc import APP_BASE
from tests.helpers import assert_error, signup
from tests.oauth.conftest import query, start

pytestmark = pytest.mark.usefixtures("app")


async def github_sign_in(client: httpx.AsyncClient, login: str, **params: str) -> httpx.Response:
    url = await start(client, "github", **params)
    async with httpx.AsyncClient(timeout=10) as github:
        approved = await github.get(f"{url}&{urlencode({'login': login})}")
    assert approved.status_code == 302, approved.text
    callback = approved.headers["location"]
    assert callback.startswith(f"{APP_BASE}/api/v1/auth/oauth/github/callback?")
    return await client.get(callback)


async def test_authorize_url(client: httpx.AsyncClient, github_url: str) -> None:
    url = await start(client, "github")
    assert url.startswith(f"{github_url}/login/oauth/authorize?")
    params = query(url)
    assert params["client_id"] == "gh-client"
    assert params["scope"] == "read:user user:email"
    assert params["code_challenge_method"] == "S256"
    assert "nonce" not in params


async def test_sign_in_creates_the_account_with_the_primary_email(
    client: httpx.AsyncClient,
) -> None:
    response = await github_sign_in(client, "octocat", return_to="/app")
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"{APP_BASE}/app"
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["email"] == "octocat@example.com"
    assert me["name"] == "The Octocat"
    assert me["identities"][0]["provider"] == "github"
    assert me["identities"][0]["subject"] == "583231"


async def test_links_by_verified_email(client: httpx.AsyncClient) -> None:
    account = await signup(client, "octocat@example.com")
    client.cookies.clear()
    assert (await github_sign_in(client, "octocat")).status_code == 302
    assert (await client.get("/api/v1/auth/me")).json()["id"] == account.user["id"]


async def test_unverified_email_does_not_take_over(client: httpx.AsyncClient, app: Any) -> None:
    await signup(client, "victim@example.com")
    client.cookies.clear()
    response = await github_sign_in(client, "sneaky")
    assert_error(response, 409, "account_exists_unverified")
    assert not client.cookies.get("convobase_session")


async def test_wrong_verifier_is_a_provider_error(client: httpx.AsyncClient, app: Any) -> None:
    from sqlalchemy import update

    from convobase.models import OAuthState

    url = await start(client, "github")
    async with app.state.runtime.database.session() as db:
        await db.execute(update(OAuthState).values(code_verifier="y" * 64))
        await db.commit()
    async with httpx.AsyncClient() as github:
        callback = (await github.get(url)).headers["location"]
    error = assert_error(await client.get(callback), 502, "provider_error")
    assert error["details"]["provider_error"] == "bad_verification_code"
