"""Property: whatever JSON arrives at the account endpoints, the answer is never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convobase.app import create_app
from tests.conftest import make_settings

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
account_bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "email": json_values | st.emails(),
            "password": json_values,
            "name": json_values,
            "current_password": json_values,
            "new_password": json_values,
            "avatar_url": json_values,
            "rotate": json_values,
        },
    )
    | json_values
)

PATHS = [
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("PATCH", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/sessions/refresh"),
    ("POST", "/api/v1/api-keys"),
]


async def test_account_endpoints_never_500(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(
        make_settings(
            tmp_path, database_url=sqlite_url, login_ip_attempts=100_000, signup_ip_attempts=100_000
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            signed = await client.post(
                "/api/v1/auth/signup",
                json={"email": "fuzz@example.com", "password": "fuzzing password"},
            )
            headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}
            seen: list[tuple[str, Any, int]] = []

            @settings(
                max_examples=150,
                deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            )
            @given(body=account_bodies, which=st.sampled_from(PATHS))
            def probe(body: Any, which: tuple[str, str]) -> None:
                seen.append((which[1], body, 0))

            probe()
            for path, body, _ in seen:
                method = next(m for m, p in PATHS if p == path)
                response = await client.request(method, path, json=body, headers=headers)
                assert response.status_code < 500, (path, body, response.text)
                assert "error" in response.json() or response.status_code < 400
            me = await client.get("/api/v1/auth/me", headers=headers)
            assert me.status_code in (200, 401)  # a fuzzed password change may log us out
