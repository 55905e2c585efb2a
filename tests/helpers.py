"""Small helpers the tests share (HTTP shortcuts, assertions on the error shape)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"


@dataclass
class Account:
    email: str
    password: str
    token: str
    user: dict[str, Any]
    session: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def signup(
    client: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD, **extra: Any
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, **extra}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        email=email.lower(),
        password=password,
        token=body["session"]["token"],
        user=body["user"],
        session=body["session"],
    )


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    assert response.headers.get("x-request-id")
    return dict(error)


async def new_conversation(
    client: httpx.AsyncClient, account: Account, **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/v1/conversations", headers=account.headers, json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def append(
    client: httpx.AsyncClient,
    account: Account,
    conversation_id: str,
    content: str = "hello",
    role: str = "user",
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers=account.headers,
        json={"role": role, "content": content, **fields},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_admin(client: httpx.AsyncClient, app: Any, email: str | None = None) -> Account:
    """A signed-up account promoted to admin directly in the database."""
    from sqlalchemy import update

    from convobase.models import User

    account = await signup(client, email)
    async with app.state.runtime.database.session() as db:
        await db.execute(update(User).where(User.email == account.email).values(role="admin"))
        await db.commit()
    return account
