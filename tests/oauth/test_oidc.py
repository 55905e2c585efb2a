"""Sign-in with a real OpenID provider (oidc-provider on loopback): the code flow with PKCE and
nonce, account creation, linking by verified email, link/unlink, and every bad case."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from convobase.models import OAuthAccount, OAuthState, User
from tests.fixtures.oidc import APP_BASE
from tests.helpers import assert_error, signup
from tests.oauth.conftest import provider_login, query, sign_in, start

pytestmark = pytest.mark.usefixtures("app")


async def counts(app: Any) -> tuple[int, int]:
    """Users and linked identities (sessions may live in Redis: see no_session)."""
    async with app.state.runtime.database.session() as db:
        users = (await db.execute(select(func.count()).select_from(User))).scalar_one()
        links = (await db.execute(select(func.count()).select_from(OAuthAccount))).scalar_one()
    return users, links


def no_session(response: httpx.Response) -> bool:
    return "convobase_session=" not in response.headers.get("set-cookie", "")


async def test_providers_lists_the_enabled_ones(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/providers")
    assert response.status_code == 200
    by_name = {p["name"]: p for p in response.json()["data"]}
    assert by_name["idp"] == {
        "name": "idp",
        "kind": "oidc",
        "display_name": "Test IdP",
        "authorize_url": f"{APP_BASE}/api/v1/auth/oauth/idp/authorize",
    }
    assert by_name["github"]["display_name"] == "GitHub"
    assert "client_secret" not in response.text


async def test_authorize_redirects_with_state_pkce_and_nonce(
    client: httpx.AsyncClient, oidc_issuer: str
) -> None:
    url = await start(client, return_to="/app/home")
    assert url.startswith(f"{oidc_issuer}/auth?")
    params = query(url)
    assert params["client_id"] == "convobase-test"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == f"{APP_BASE}/api/v1/auth/oauth/idp/callback"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 24
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    cookie = client.cookies.get("convobase_oauth", path="/api/v1/auth/oauth")
    assert cookie


async def test_full_flow_creates_the_account_and_signs_in(
    client: httpx.AsyncClient, app: Any
) -> None:
    response = await sign_in(client, "newcomer@example.com", return_to="/app/welcome")
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"{APP_BASE}/app/welcome"
    assert "token" not in response.headers["location"]
    assert client.cookies.get("convobase_session")
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == "newcomer@example.com"
    assert body["has_password"] is False
    assert body["name"] == "Test newcomer@example.com"
    [identity] = body["identities"]
    assert identity["provider"] == "idp"
    assert identity["subject"] == "newcomer@example.com"
    assert identity["email_verified"] is True

    # Signing in again finds the same user (by provider and subject), with a new session.
    client.cookies.clear()
    again = await sign_in(client, "newcomer@example.com")
    assert again.status_code == 302
    assert again.headers["location"] == f"{APP_BASE}/"
    me2 = await client.get("/api/v1/auth/me")
    assert me2.json()["id"] == body["id"]
    assert await counts(app) == (1, 1)
    sessions = (await client.get("/api/v1/auth/sessions")).json()["data"]
    assert len(sessions) == 2


async def test_verified_email_links_to_the_existing_account(
    client: httpx.AsyncClient, app: Any
) -> None:
    account = await signup(client, "owner@example.com")
    client.cookies.clear()
    response = await sign_in(client, "owner@example.com")
    assert response.status_code == 302, response.text
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["id"] == account.user["id"]
    assert me["has_password"] is True
    assert [i["provider"] for i in me["identities"]] == ["idp"]


async def test_unverified_email_never_takes_over_an_account(
    client: httpx.AsyncClient, app: Any
) -> None:
    await signup(client, "victim@example.com")
    client.cookies.clear()
    before = await counts(app)
    response = await sign_in(client, "unverified-victim@example.com")
    assert_error(response, 409, "account_exists_unverified")
    assert no_session(response)
    assert not client.cookies.get("convobase_session")
    assert await counts(app) == before


async def test_unverified_email_does_not_create_an_account(
    client: httpx.AsyncClient, app: Any
) -> None:
    response = await sign_in(client, "unverified-someone@example.com")
    assert_error(response, 403, "email_not_verified")
    assert no_session(response)
    assert await counts(app) == (0, 0)


async def test_replayed_state_fails(client: httpx.AsyncClient, app: Any) -> None:
    callback = await provider_login(await start(client), "replay@example.com")
    first = await client.get(callback)
    assert first.status_code == 302
    before = await counts(app)
    client.cookies.delete("convobase_session")
    replay = await client.get(callback)
    assert_error(replay, 400, "invalid_state")
    assert no_session(replay)
    assert await counts(app) == before


async def test_missing_state_fails(client: httpx.AsyncClient, app: Any) -> None:
    callback = await provider_login(await start(client), "nostate@example.com")
    params = query(callback)
    response = await client.get("/api/v1/auth/oauth/idp/callback", params={"code": params["code"]})
    assert_error(response, 400, "invalid_state")
    assert no_session(response)
    assert await counts(app) == (0, 0)


async def test_tampered_state_fails(client: httpx.AsyncClient, app: Any) -> None:
    callback = await provider_login(await start(client), "tamper@example.com")
    params = query(callback)
    params["state"] = params["state"][:-2] + ("AA" if not params["state"].endswith("AA") else "BB")
    response = await client.get("/api/v1/auth/oauth/idp/callback", params=params)
    assert_error(response, 400, "invalid_state")
    assert no_session(response)
    assert await counts(app) == (0, 0)


async def test_state_from_another_browser_fails(client: httpx.AsyncClient, app: Any) -> None:
    callback = await provider_login(await start(client), "stolen@example.com")
    client.cookies.clear()  # the callback arrives in a browser that did not start it
    assert_error(await client.get(callback), 400, "invalid_state")
    assert await counts(app) == (0, 0)


async def test_wrong_pkce_verifier_fails(client: httpx.AsyncClient, app: Any) -> None:
    url = await start(client)
    async with app.state.runtime.database.session() as db:
        await db.execute(update(OAuthState).values(code_verifier="x" * 64))
        await db.commit()
    response = await client.get(await provider_login(url, "pkce@example.com"))
    error = assert_error(response, 502, "provider_error")
    assert error["details"]["provider_error"] == "invalid_grant"
    assert await counts(app) == (0, 0)


async def test_bad_nonce_fails(client: httpx.AsyncClient, app: Any) -> None:
    url = await start(client)
    async with app.state.runtime.database.session() as db:
        await db.execute(update(OAuthState).values(nonce="not-the-nonce-sent"))
        await db.commit()
    response = await client.get(await provider_login(url, "nonce@example.com"))
    assert_error(response, 401, "id_token_invalid")
    assert no_session(response)
    assert await counts(app) == (0, 0)


async def test_provider_error_answer(client: httpx.AsyncClient, app: Any) -> None:
    params = query(await start(client))
    response = await client.get(
        "/api/v1/auth/oauth/idp/callback",
        params={"state": params["state"], "error": "access_denied"},
    )
    assert_error(response, 502, "provider_error")
    assert no_session(response)
    assert await counts(app) == (0, 0)


async def test_unknown_provider(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/auth/oauth/nope/authorize"), 404, "unknown_provider")
    assert_error(
        await client.get("/api/v1/auth/oauth/nope/callback?state=x&code=y"),
        404,
        "unknown_provider",
    )


async def test_callback_for_another_provider_fails(client: httpx.AsyncClient) -> None:
    callback = await provider_login(await start(client), "mixup@example.com")
    response = await client.get(callback.replace("/oauth/idp/callback", "/oauth/github/callback"))
    assert_error(response, 400, "invalid_state")
    assert no_session(response)


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example.com/app",
        "//evil.example.com/",
        f"{APP_BASE}/elsewhere",
        f"{APP_BASE}/application",  # a prefix of the path, not the folder
        "https://front.example.com.evil.com/",
        "https://user@front.example.com/",
        "javascript:alert(1)",
        "/app\\..\\x",
    ],
)
async def test_return_url_outside_allow_list(client: httpx.AsyncClient, return_to: str) -> None:
    response = await client.get("/api/v1/auth/oauth/idp/authorize", params={"return_to": return_to})
    assert_error(response, 400, "return_url_not_allowed")
    assert no_session(response)


async def test_allowed_return_urls(client: httpx.AsyncClient) -> None:
    for return_to in ("https://front.example.com/after", f"{APP_BASE}/app", "/app/x?y=1"):
        await start(client, return_to=return_to)


async def test_provider_down(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/oauth/down/authorize")
    assert_error(response, 502, "provider_error")
    assert no_session(response)


async def test_link_and_unlink(client: httpx.AsyncClient, app: Any) -> None:
    # Linking needs a signed-in caller.
    assert_error(await client.get("/api/v1/auth/oauth/idp/authorize", params={"link": "true"}), 401)
    account = await signup(client, "linker@example.com")  # sets the session cookie
    # The provider identity has another email than the account: linking is explicit.
    url = await start(client, link="true")
    response = await client.get(await provider_login(url, "other-address@example.com"))
    assert response.status_code == 302, response.text
    me = (await client.get("/api/v1/auth/me", headers=account.headers)).json()
    assert me["id"] == account.user["id"]
    assert [(i["provider"], i["email"]) for i in me["identities"]] == [
        ("idp", "other-address@example.com")
    ]
    # Unlink (with a password left, allowed), then it is gone.
    deleted = await client.delete("/api/v1/auth/oauth/idp", headers=account.headers)
    assert deleted.status_code == 204
    me = (await client.get("/api/v1/auth/me", headers=account.headers)).json()
    assert me["identities"] == []
    assert_error(await client.delete("/api/v1/auth/oauth/idp", headers=account.headers), 404)


async def test_identity_linked_elsewhere_cannot_be_linked(client: httpx.AsyncClient) -> None:
    assert (await sign_in(client, "first@example.com")).status_code == 302
    client.cookies.clear()
    await signup(client, "second@example.com")
    url = await start(client, link="true")
    response = await client.get(await provider_login(url, "first@example.com"))
    assert_error(response, 409, "identity_in_use")
    assert no_session(response)


async def test_unlinking_the_last_way_in_is_refused(client: httpx.AsyncClient) -> None:
    assert (await sign_in(client, "only-oauth@example.com")).status_code == 302
    csrf = client.cookies.get("convobase_csrf")
    response = await client.delete("/api/v1/auth/oauth/idp", headers={"X-CSRF-Token": csrf or ""})
    assert_error(response, 409, "last_sign_in_method")
    assert no_session(response)
    me = (await client.get("/api/v1/auth/me")).json()
    assert len(me["identities"]) == 1


class TestSignupRules:
    @pytest.fixture
    def settings_overrides(self, settings_overrides: dict[str, Any]) -> dict[str, Any]:
        return {**settings_overrides, "signup_email_domains": ["allowed.example"]}

    async def test_email_domain_not_allowed(self, client: httpx.AsyncClient, app: Any) -> None:
        response = await sign_in(client, "someone@example.com")
        assert_error(response, 403, "email_domain_not_allowed")
        assert no_session(response)
        assert await counts(app) == (0, 0)
        ok = await sign_in(client, "someone@allowed.example")
        assert ok.status_code == 302, ok.text
        password = await client.post(
            "/api/v1/auth/signup",
            json={"email": "pw@example.com", "password": "correct horse battery"},
        )
        assert_error(password, 403, "email_domain_not_allowed")


class TestInviteOnly:
    @pytest.fixture
    def settings_overrides(self, settings_overrides: dict[str, Any]) -> dict[str, Any]:
        return {**settings_overrides, "signup_mode": "invite"}

    async def test_only_existing_accounts_sign_in(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        assert_error(await sign_in(client, "stranger@example.com"), 403, "signup_closed")
        assert await counts(app) == (0, 0)
        # An invited person (an account an admin made) signs in by verified email.
        async with app.state.runtime.database.session() as db:
            db.add(User(email="invited@example.com"))
            await db.commit()
        assert (await sign_in(client, "invited@example.com")).status_code == 302
        me = (await client.get("/api/v1/auth/me")).json()
        assert me["email"] == "invited@example.com"


class TestClosed:
    @pytest.fixture
    def settings_overrides(self, settings_overrides: dict[str, Any]) -> dict[str, Any]:
        return {**settings_overrides, "signup_mode": "closed"}

    async def test_no_new_accounts(self, client: httpx.AsyncClient, app: Any) -> None:
        assert_error(await sign_in(client, "stranger@example.com"), 403, "signup_closed")
        assert await counts(app) == (0, 0)
