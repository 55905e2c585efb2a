"""A guest signing in with a provider (the GitHub stand-in) keeps its data; a passwordless
account deletes itself right after signing in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.accounts.conftest import rows_of, start_guest, user_exists
from tests.fixtures.oidc import github_url
from tests.helpers import new_conversation
from tests.oauth.conftest import RETURN_URLS, providers
from tests.oauth.test_github import github_sign_in

__all__ = ["github_url"]

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides(github_url: str) -> dict[str, Any]:
    github = [p for p in providers("http://127.0.0.1:9", github_url) if p["name"] == "github"]
    return {"oauth_providers": github, "oauth_return_urls": RETURN_URLS}


async def test_guest_cookie_merges_into_the_provider_account(
    client: httpx.AsyncClient, app: Any
) -> None:
    guest = await start_guest(client)  # the browser now holds the guest's cookie
    chat = await new_conversation(client, guest, title="before signing in")
    response = await github_sign_in(client, "octocat")
    assert response.status_code == 302, response.text
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["email"] == "octocat@example.com" and me["role"] == "user"
    found = await client.get(f"/api/v1/conversations/{chat['id']}")
    assert found.status_code == 200 and found.json()["title"] == "before signing in"
    assert not await user_exists(app, guest.user["id"])
    assert await rows_of(app, guest.user["id"]) == {}


async def test_passwordless_account_deletes_itself_after_signing_in(
    client: httpx.AsyncClient, app: Any
) -> None:
    assert (await github_sign_in(client, "octocat")).status_code == 302
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["has_password"] is False
    # Cookie-authenticated, so same origin (CSRF); no password to give.
    response = await client.delete("/api/v1/auth/me", headers={"Origin": "http://testserver"})
    assert response.status_code == 204, response.text
    assert not await user_exists(app, me["id"])
    assert (await client.get("/api/v1/auth/me")).status_code == 401
