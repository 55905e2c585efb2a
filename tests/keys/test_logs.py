"""The real server's output while keys are stored, refused and deleted holds no part of a key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import httpx
import pytest

from tests.conftest import FAST_ARGON2
from tests.e2e.process import serve

pytestmark = pytest.mark.e2e

# Letters that spell no word the logs contain, so any four in a row would be the key's.
KEY = "sk-" + "".join(secrets.choice("GJKMNQVWXYZ") for _ in range(40))


def test_logs_never_contain_the_key(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONVOBASE_")},
        "CONVOBASE_DATA_DIR": str(tmp_path / "data"),
        "CONVOBASE_LOG_LEVEL": "debug",
        "CONVOBASE_ACCESS_LOG": "true",
        **{f"CONVOBASE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()},
    }
    log = tmp_path / "server.log"
    with serve(env, log) as base, httpx.Client(base_url=base, timeout=10) as client:
        signed = client.post(
            "/api/v1/auth/signup", json={"email": "v@example.com", "password": "vault e2e pass"}
        )
        headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}
        client.cookies.clear()
        url = "/api/v1/provider-keys/openai"
        assert client.put(url, headers=headers, json={"api_key": KEY}).status_code == 200
        assert client.get(url, headers=headers).status_code == 200
        assert client.get("/api/v1/provider-keys", headers=headers).status_code == 200
        refused = [
            client.put(url, headers=headers, json={"api_key": KEY + "\n"}),
            client.put(url, headers=headers, json={"api_key": KEY, "extra": KEY}),
            client.put(url, headers=headers, json={"api_key": KEY * 200}),
            client.put("/api/v1/provider-keys/Bad", headers=headers, json={"api_key": KEY}),
            client.put(
                url,
                headers={**headers, "Content-Type": "application/json"},
                content=f'{{"api_key": "{KEY}"'.encode(),
            ),
            client.put(url, json={"api_key": KEY}),  # unauthenticated
        ]
        assert [r.status_code for r in refused] == [422, 422, 422, 422, 400, 401]
        for response in refused:
            assert KEY[3:11] not in response.text
        assert client.delete(url, headers=headers).status_code == 204

    output = log.read_text()
    assert '"provider_key_saved"' in output and '"provider_key_deleted"' in output
    assert output.count('"request"') >= 10  # the access log ran
    secret_part = KEY[3:]
    leaked = [secret_part[i : i + 4] for i in range(len(secret_part) - 3)]
    assert not [part for part in leaked if part in output]
