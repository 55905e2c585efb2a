"""CONVOBASE_S3_PUBLIC_ENDPOINT: presigned URLs name the host clients reach S3 at, on a real
SeaweedFS server, while the app keeps talking to the internal endpoint."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from convobase.backends.storage import open_storage
from tests.conftest import make_settings
from tests.fixtures.s3 import S3Server

KEY = "blobs/ab/cd/public0123"


async def test_signed_urls_name_the_public_endpoint(
    tmp_path: Path, s3_server: S3Server, s3_settings_overrides: dict[str, Any]
) -> None:
    internal = urlsplit(s3_server.endpoint)
    public_host = f"files.convobase.test:{internal.port}"  # what a proxy in front would be
    settings = make_settings(
        tmp_path, **s3_settings_overrides, s3_public_endpoint=f"http://{public_host}"
    )
    storage = open_storage(settings)
    data = os.urandom(2048)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    try:
        await storage.put_file(KEY, source, "application/pdf")  # through the internal endpoint
        url = await storage.signed_url(KEY, timedelta(minutes=5))
    finally:
        await storage.aclose()
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", public_host)

    # The public name does not resolve here: reach the server directly and send the Host a
    # client of the public address would send (as a proxy that keeps the Host header does).
    direct = urlunsplit(parts._replace(netloc=internal.netloc))
    async with httpx.AsyncClient() as client:
        response = await client.get(direct, headers={"Host": public_host})
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "application/pdf"
        # The signature covers the host: the same URL at the internal address is refused.
        assert (await client.get(direct)).status_code == 403
