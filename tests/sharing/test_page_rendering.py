"""The public share page renders messages as the console does: safe Markdown, code frames,
images and files through share-scoped links that serve only that share's files."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from tests.files import samples
from tests.helpers import Account, new_conversation, signup
from tests.sharing.test_links import share

pytestmark = pytest.mark.usefixtures("app")

MARKDOWN = (
    "Here is **bold** and a fence:\n\n```python\nprint('hi')\n```\n\n"
    "<script>alert(1)</script> [bad](javascript:alert(2))"
)


async def upload(
    client: httpx.AsyncClient, who: Account, name: str, data: bytes, conversation_id: str
) -> str:
    response = await client.post(
        "/api/v1/files",
        headers=who.headers,
        json={
            "filename": name,
            "data_base64": base64.b64encode(data).decode(),
            "conversation_id": conversation_id,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def post_parts(
    client: httpx.AsyncClient, who: Account, conversation_id: str, parts: list[dict[str, Any]]
) -> None:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers=who.headers,
        json={"role": "user", "parts": parts},
    )
    assert response.status_code == 201, response.text


def links(html: str, tag: str, attribute: str) -> list[str]:
    return re.findall(rf'<{tag}\b[^>]*\b{attribute}="([^"]+)"', html)


@pytest.mark.parametrize("mode", ["snapshot", "live"])
async def test_page_renders_markdown_code_images_and_files(
    client: httpx.AsyncClient, mode: str
) -> None:
    owner = await signup(client)
    chat = await new_conversation(client, owner, title="Rendered")
    image = samples.png()
    image_id = await upload(client, owner, "dot.png", image, chat["id"])
    notes_id = await upload(client, owner, "notes.txt", b"shared notes\n", chat["id"])
    await post_parts(
        client,
        owner,
        chat["id"],
        [
            {"type": "text", "text": MARKDOWN},
            {"type": "code", "code": "x = 1 < 2", "language": "python"},
            {"type": "image", "file_id": image_id, "alt": "a red dot"},
            {"type": "file", "file_id": notes_id, "name": "notes.txt"},
        ],
    )
    token = (await share(client, owner, chat["id"], mode=mode))["token"]
    client.cookies.clear()

    response = await client.get(f"/s/{token}")
    assert response.status_code == 200, response.text
    html = response.text
    assert "<strong>bold</strong>" in html and "**" not in html
    assert "<pre><code class=\"language-python\">print('hi')" in html
    assert "<figcaption>python</figcaption><pre><code>x = 1 &lt; 2</code></pre>" in html
    # Script in the user's Markdown is text, and a javascript: link is no link.
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(2))", "")
    assert image_id not in html and notes_id not in html

    (src,) = links(html, "img", "src")
    assert src.startswith(f"/s/{token}/files/")
    assert 'alt="a red dot"' in html
    served = await client.get(src)
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "private, no-store"
    assert "sandbox" in served.headers["content-security-policy"]
    file_links = [href for href in links(html, "a", "href") if href.startswith("/s/")]
    assert len(file_links) == 1
    assert (await client.get(file_links[0])).content == b"shared notes\n"

    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "img-src 'self'" in csp and "script-src" not in csp


async def test_share_scoped_links_serve_only_that_shares_files(
    client: httpx.AsyncClient, app: Any
) -> None:
    from convobase.sharing.service import file_ref

    owner = await signup(client)
    shared = await new_conversation(client, owner, title="shared")
    private = await new_conversation(client, owner, title="private")
    shown_id = await upload(client, owner, "shown.png", samples.png(color="blue"), shared["id"])
    hidden_id = await upload(client, owner, "hidden.png", samples.png(color="green"), private["id"])
    await post_parts(client, owner, shared["id"], [{"type": "image", "file_id": shown_id}])
    await post_parts(client, owner, private["id"], [{"type": "image", "file_id": hidden_id}])
    created = await share(client, owner, shared["id"])
    other = await share(client, owner, private["id"])
    token, share_id = created["token"], created["id"]
    client.cookies.clear()

    (src,) = links((await client.get(f"/s/{token}")).text, "img", "src")
    assert (await client.get(src)).status_code == 200

    secret = app.state.runtime.secret
    # The other conversation's file, even named exactly as this share would name it: 404.
    for ref in (file_ref(secret, share_id, hidden_id), hidden_id, shown_id, "x" * 24):
        response = await client.get(f"/s/{token}/files/{ref}")
        assert response.status_code == 404, ref
    # This share's ref under the other share's token: 404 (refs are per share).
    assert (await client.get(src.replace(token, other["token"]))).status_code == 404
    # A revoked link takes its files with it.
    client.headers["Authorization"] = owner.headers["Authorization"]
    assert (await client.delete(f"/api/v1/shares/{share_id}")).status_code == 204
    del client.headers["Authorization"]
    assert (await client.get(src)).status_code == 404
