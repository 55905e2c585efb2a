"""The console against a real server: uvicorn on a loopback port (in a thread, SQLite), driven
by Debian's Chromium through Playwright.

Chromium missing: with CI=true the tests fail, elsewhere they skip with a message
(`make test` installs it). Screenshots go to tests/console/screenshots/ (gitignored).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image

from convobase.app import create_app
from convobase.config import Settings
from tests.conftest import make_settings
from tests.e2e.process import free_port
from tests.fixtures import servers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "console-password-1"


@dataclass
class LiveServer:
    base: str
    settings: Settings
    app: Any

    def run(self, coro: Any) -> Any:
        """Run ``coro`` against the server's own runtime (its database), from the test."""
        loop: asyncio.AbstractEventLoop = self.app.state.console_test_loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot own signals
        pass


@pytest.fixture(scope="module")
def live_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("console")
    shutil.copy(sqlite_template, folder / "convobase.db")
    settings = make_settings(folder, database_url=f"sqlite+aiosqlite:///{folder / 'convobase.db'}")
    app = create_app(settings)
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

    def serve() -> None:
        loop = asyncio.new_event_loop()
        app.state.console_test_loop = loop
        loop.run_until_complete(server.serve())
        loop.close()

    thread = threading.Thread(target=serve, name="console-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("console test server did not start")
        time.sleep(0.05)
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    try:
        yield LiveServer(base=base, settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        servers.unavailable("The playwright package", exc)
    if not Path(CHROMIUM).exists():
        servers.unavailable(f"Chromium at {CHROMIUM}", FileNotFoundError(CHROMIUM))
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            servers.unavailable(f"Chromium at {CHROMIUM}", exc)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) with every console error and dialog recorded;
    dialogs are dismissed unless ``page.accept_dialogs`` is set (see ``submit_confirmed``)."""
    context = browser.new_context(
        base_url=live_server.base, viewport={"width": 1200, "height": 800}
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.accept_dialogs = False  # type: ignore[attr-defined]
    tab.csp_errors = []  # type: ignore[attr-defined]

    def answer(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        if tab.accept_dialogs:  # type: ignore[attr-defined]
            dialog.accept()
        else:
            dialog.dismiss()

    tab.on("dialog", answer)
    tab.on(
        "console",
        lambda m: (
            tab.csp_errors.append(m.text)  # type: ignore[attr-defined]
            if "Content Security Policy" in m.text
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot (the full page, or only the viewport: what is on screen after a
    scroll) and check it is a real render: some KB, not one colour."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 5_000, f"{path} is suspiciously small"
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=16)
    assert colours is None or len(colours) > 3, f"{path} is (nearly) a single colour"
    return path


_counter = iter(range(1, 1_000_000))


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{time.monotonic_ns()}@example.com"


def sign_up(page: Any, email: str, password: str = PASSWORD, name: str | None = None) -> None:
    page.goto("/console/signup")
    if name:
        page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/console/")


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/**")


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the JSON API as the browser's signed-in user (its cookies, its CSRF token)."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    response = page.request.fetch(
        path,
        method=method,
        data=body,
        headers={"X-CSRF-Token": cookies.get("convobase_csrf", "")},
    )
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 else None


def submit(page: Any, target: Any) -> None:
    """Click a form's button and wait for the POST -> 303 -> GET round trip to load."""
    with page.expect_navigation():
        target.click()


def submit_confirmed(page: Any, target: Any) -> str:
    """Click a destructive button, accept the confirmation it asks for, wait for the round
    trip; returns the question asked (failing when none was)."""
    asked = len(page.dialogs)
    page.accept_dialogs = True
    try:
        submit(page, target)
    finally:
        page.accept_dialogs = False
    assert len(page.dialogs) == asked + 1, "the button asked for no confirmation"
    return str(page.dialogs[-1])


def make_admin(live_server: LiveServer, email: str) -> None:
    """Promote an account directly in the server's database (what `convobase users
    set-role` does), from the server's own event loop."""
    from sqlalchemy import update

    from convobase.models import User

    async def promote() -> None:
        async with live_server.app.state.runtime.database.session(write=True) as db:
            await db.execute(update(User).where(User.email == email).values(role="admin"))
            await db.commit()

    live_server.run(promote())
