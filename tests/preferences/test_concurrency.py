"""Concurrent changes from one user: each locks the row, none is lost (on every engine)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers import signup

pytestmark = pytest.mark.usefixtures("app")

URL = "/api/v1/preferences"
N = 16


async def test_concurrent_first_patches_of_different_keys_all_apply(
    client: httpx.AsyncClient,
) -> None:
    # No row exists yet: the writers also race to create it.
    user = await signup(client)
    responses = await asyncio.gather(
        *(
            client.patch(
                URL,
                headers={**user.headers, "content-type": "application/merge-patch+json"},
                json={"default_model": {f"domain{i}": f"model-{i}"}},
            )
            for i in range(N)
        )
    )
    assert [r.status_code for r in responses] == [200] * N, [r.text for r in responses][:3]
    body = (await client.get(URL, headers=user.headers)).json()
    assert body["preferences"]["default_model"] == {f"domain{i}": f"model-{i}" for i in range(N)}
    assert body["version"] == N
    assert sorted(r.json()["version"] for r in responses) == list(range(1, N + 1))


async def test_concurrent_patches_puts_and_presets_all_apply(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    await client.patch(URL, headers=user.headers, json={"theme": "dark"})
    flags = ["notifications.email", "notifications.push", "notifications.sound"]
    requests = [
        client.patch(URL, headers=user.headers, json={"font_size": 20}),
        client.patch(URL, headers=user.headers, json={"accessibility": {"reduce_motion": True}}),
        client.patch(URL, headers=user.headers, json={"privacy": {"save_history": False}}),
        client.post(f"{URL}/presets/legal/apply", headers=user.headers),
        *(
            client.put(f"{URL}/{path}", headers=user.headers, json={"value": False})
            for path in flags
        ),
        client.put(f"{URL}/timezone", headers=user.headers, json={"value": "Asia/Tokyo"}),
    ]
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [200] * len(requests)
    prefs = (await client.get(URL, headers=user.headers)).json()["preferences"]
    assert prefs["theme"] == "dark" and prefs["font_size"] == 20
    assert prefs["accessibility"]["reduce_motion"] is True
    assert prefs["privacy"]["save_history"] is False
    assert (prefs["default_domain"], prefs["temperature"]) == ("legal", 0.3)
    assert prefs["default_model"] == {"legal": "gpt-4o"}
    assert prefs["notifications"] == {
        "email": False,
        "push": False,
        "sound": False,
        "desktop": False,
    }
    assert prefs["timezone"] == "Asia/Tokyo"
