"""Every route that takes an id answers 404 for someone else's row.

The registry below must name every such route: a new route with an id fails this test until it
is added, with a valid body so the request reaches the ownership check.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"quota_requests_per_day": 1000}  # so reservations are real rows


C = "/api/v1/conversations/{conversation_id}"
M = C + "/messages/{message_id}"
MESSAGE = {"role": "user", "content": "hi"}

# (method, path) -> a valid body. Admin routes are global by design.
OWNED_ROUTES: dict[tuple[str, str], Any] = {
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): None,
    ("DELETE", "/api/v1/api-keys/{key_id}"): None,
    ("GET", C): None,
    ("PATCH", C): {"title": "mine now"},
    ("DELETE", C): None,
    ("GET", C + "/messages"): None,
    ("POST", C + "/messages"): MESSAGE,
    ("GET", M): None,
    ("PATCH", M): {"content": "changed"},
    ("DELETE", M): None,
    ("POST", M + "/feedback"): {"rating": "down"},
    ("GET", C + "/tool-runs"): None,
    ("POST", C + "/tool-runs"): {"name": "t"},
    ("GET", C + "/tool-runs/{run_id}"): None,
    ("PATCH", C + "/tool-runs/{run_id}"): {"status": "running"},
    ("GET", C + "/logs"): None,
    ("POST", C + "/logs"): {"message": "m"},
    ("GET", "/api/v1/files/{file_id}"): None,
    ("GET", "/api/v1/files/{file_id}/content"): None,
    ("GET", "/api/v1/files/{file_id}/versions"): None,
    ("DELETE", "/api/v1/files/{file_id}"): None,
    ("POST", "/api/v1/quotas/reservations/{reservation_id}/commit"): {"model": "gpt-4o"},
    ("DELETE", "/api/v1/quotas/reservations/{reservation_id}"): None,
    ("GET", C + "/shares"): None,
    ("POST", C + "/shares"): {"kind": "link", "mode": "live", "permission": "read"},
    ("DELETE", "/api/v1/shares/{share_id}"): None,
}
GLOBAL_ROUTES = {
    ("PATCH", "/api/v1/admin/users/{user_id}"),
    ("DELETE", "/api/v1/admin/users/{user_id}"),
    ("GET", "/api/v1/admin/users/{user_id}/quota"),
    ("PUT", "/api/v1/admin/model-prices/{model}"),
    ("DELETE", "/api/v1/admin/model-prices/{model}"),
    # Their path parameters name a key of the preferences schema or a built-in preset, not a
    # row: the caller's own preferences row is found by principal (tests/preferences/).
    ("GET", "/api/v1/preferences/{path}"),
    ("PUT", "/api/v1/preferences/{path}"),
    ("POST", "/api/v1/preferences/presets/{name}/apply"),
    # They name a provider, not a row: the caller's own key is found by principal, and another
    # user's key for the same provider is simply not found (tests/keys/).
    ("GET", "/api/v1/provider-keys/{provider}"),
    ("PUT", "/api/v1/provider-keys/{provider}"),
    ("DELETE", "/api/v1/provider-keys/{provider}"),
    # They name a configured sign-in provider, not a row: sign-in state is found by its own
    # secret and bound to the browser; unlink finds the caller's identities by principal
    # (tests/oauth/).
    ("GET", "/api/v1/auth/oauth/{provider}/authorize"),
    ("GET", "/api/v1/auth/oauth/{provider}/callback"),
    ("DELETE", "/api/v1/auth/oauth/{provider}"),
    # A share link's token is its own secret (unknown, revoked, expired: 404; tests/sharing/).
    ("GET", "/api/v1/shared/{token}"),
    ("GET", "/s/{token}"),
    # A file of a link share: the token, then a per-share HMAC of a file its messages show
    # (any other file, or another share's ref: 404; tests/sharing/test_page_rendering.py).
    ("GET", "/s/{token}/files/{ref}"),
}


async def owned_rows(client: httpx.AsyncClient, owner: Account) -> dict[str, str]:
    conversation = await new_conversation(client, owner, title="private")
    message = await append(client, owner, conversation["id"], "secret")
    run = await client.post(
        f"/api/v1/conversations/{conversation['id']}/tool-runs",
        headers=owner.headers,
        json={"name": "t"},
    )
    key = await client.post("/api/v1/api-keys", headers=owner.headers, json={"name": "x"})
    file = await client.post(
        "/api/v1/files",
        headers=owner.headers,
        json={"filename": "private.txt", "data_base64": "c2VjcmV0Cg=="},
    )
    reservation = await client.post("/api/v1/quotas/reservations", headers=owner.headers, json={})
    share = await client.post(
        f"/api/v1/conversations/{conversation['id']}/shares",
        headers=owner.headers,
        json={"kind": "link", "mode": "live", "permission": "read"},
    )
    return {
        "share_id": share.json()["id"],
        "reservation_id": reservation.json()["id"],
        "file_id": file.json()["id"],
        "conversation_id": conversation["id"],
        "message_id": message["id"],
        "run_id": run.json()["id"],
        "key_id": key.json()["id"],
        "session_id": owner.session["id"],
    }


def _routes_with_ids(app: Any) -> set[tuple[str, str]]:
    # The OpenAPI document lists every public route, however routers are nested.
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{" in path
        for method in operations
    }


async def test_every_route_with_an_id_is_in_the_registry(app: Any) -> None:
    assert _routes_with_ids(app) == set(OWNED_ROUTES) | GLOBAL_ROUTES


@pytest.mark.parametrize(("method", "path"), sorted(OWNED_ROUTES))
async def test_foreign_ids_are_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    owner = await signup(client)
    intruder = await signup(client)
    ids = await owned_rows(client, owner)
    url = path.format(**ids)
    body = OWNED_ROUTES[(method, path)]
    response = await client.request(method, url, headers=intruder.headers, json=body)
    assert_error(response, 404, "not_found")
    # Nothing changed, and the owner can still act on the row.
    detail = await client.get(
        f"/api/v1/conversations/{ids['conversation_id']}/messages/{ids['message_id']}",
        headers=owner.headers,
    )
    assert detail.json()["content"] == "secret" and detail.json()["feedback"] is None
    response = await client.request(method, url, headers=owner.headers, json=body)
    assert response.status_code < 300, response.text
