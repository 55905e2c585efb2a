"""The real `convobase serve` process on a free loopback port, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.process import serve, server_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = server_env(
        tmp_path / "data",
        admin_email="boss@example.com",
        admin_password="boss password 123",
    )
    with serve(env, tmp_path / "server.log") as base:
        yield base
    output = (tmp_path / "server.log").read_text()
    assert "boss password" not in output  # no secret in the logs
    assert "cbs_" not in output


def test_signup_login_me_logout_over_http(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        signed = client.post(
            "/api/v1/auth/signup", json={"email": "e2e@example.com", "password": "end to end pass"}
        )
        assert signed.status_code == 201
        assert signed.headers["x-request-id"]
        login = client.post(
            "/api/v1/auth/login", json={"email": "e2e@example.com", "password": "end to end pass"}
        )
        assert login.status_code == 200
        token = login.json()["session"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200 and me.json()["email"] == "e2e@example.com"
        # The cookie from login works too, and a same-origin logout ends the session.
        assert client.get("/api/v1/auth/me").status_code == 200
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401

        admin = client.post(
            "/api/v1/auth/login",
            json={"email": "boss@example.com", "password": "boss password 123"},
        )
        assert admin.status_code == 200 and admin.json()["user"]["role"] == "admin"
        users = client.get(
            "/api/v1/admin/users",
            headers={"Authorization": f"Bearer {admin.json()['session']['token']}"},
        )
        assert {u["email"] for u in users.json()["data"]} == {"e2e@example.com", "boss@example.com"}


def test_streamed_upload_and_signed_download_over_http(server: str) -> None:
    """A multi-megabyte upload arrives in many chunks through the real server."""
    import hashlib

    lines = b"".join(b"line %07d of a long text file\n" % i for i in range(120_000))  # ~4 MB
    with httpx.Client(base_url=server, timeout=30) as client:
        signed = client.post(
            "/api/v1/auth/signup", json={"email": "files@example.com", "password": "files e2e pass"}
        )
        headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}
        client.cookies.clear()

        def body() -> Iterator[bytes]:  # a generator: sent with chunked transfer encoding
            boundary = b"e2eboundary"
            yield b"--" + boundary + b"\r\n"
            yield b'Content-Disposition: form-data; name="file"; filename="long.txt"\r\n'
            yield b"Content-Type: text/plain\r\n\r\n"
            for start in range(0, len(lines), 65536):
                yield lines[start : start + 65536]
            yield b"\r\n--" + boundary + b"--\r\n"

        response = client.post(
            "/api/v1/files",
            headers={**headers, "Content-Type": "multipart/form-data; boundary=e2eboundary"},
            content=body(),
        )
        assert response.status_code == 201, response.text
        file = response.json()
        assert file["size"] == len(lines)
        assert file["sha256"] == hashlib.sha256(lines).hexdigest()
        assert file["analysis"]["lines"] == 120_000
        download = httpx.get(file["download_url"], timeout=30)  # no credentials
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == file["sha256"]
