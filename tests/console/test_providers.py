"""The sign-in pages list the configured OAuth providers as links to their authorize URL."""

from __future__ import annotations

import html
from pathlib import Path

import httpx

from convobase.app import create_app
from tests.conftest import make_settings


async def test_login_page_links_each_provider(sqlite_url: str, tmp_path: Path) -> None:
    github = {"name": "github", "kind": "github", "client_id": "c", "client_secret": "s"}
    settings = make_settings(tmp_path, database_url=sqlite_url, oauth_providers=[github])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for path in ("/console/login", "/console/signup"):
                page = html.unescape((await client.get(path)).text)
                assert (
                    'href="http://testserver/api/v1/auth/oauth/github/authorize'
                    "?return_to=http%3A%2F%2Ftestserver%2Fconsole%2F" in page
                )
                assert ">GitHub</a>" in page
            started = await client.get("/api/v1/auth/oauth/github/authorize?return_to=/console/")
            assert started.status_code in (302, 400)  # the API route the link points at exists
