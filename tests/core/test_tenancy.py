"""Every route that takes an id answers 404 for someone else's row (and for unknown ids).

The registry below must name every such route: a new route with an id fails this test until it
is added, with a way to create a row owned by another user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.helpers import Account, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")

Maker = Callable[[httpx.AsyncClient, Account], Awaitable[str]]


async def _session_of(client: httpx.AsyncClient, owner: Account) -> str:
    return str(owner.session["id"])


async def _api_key_of(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post("/api/v1/api-keys", headers=owner.headers, json={"name": "x"})
    return str(response.json()["id"])


# (method, path) -> how to create the owner's row. Admin routes are global by design.
OWNED_ROUTES: dict[tuple[str, str], Maker] = {
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): _session_of,
    ("DELETE", "/api/v1/api-keys/{key_id}"): _api_key_of,
}
GLOBAL_ROUTES = {("PATCH", "/api/v1/admin/users/{user_id}")}


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
    row_id = await OWNED_ROUTES[(method, path)](client, owner)
    url = path.replace(path[path.index("{") : path.index("}") + 1], row_id)
    response = await client.request(method, url, headers=intruder.headers, json={})
    assert_error(response, 404, "not_found")
    # The owner's row is still there: the owner can act on it.
    response = await client.request(method, url, headers=owner.headers, json={})
    assert response.status_code < 300, response.text
