"""What every `convobase` command shares: settings, the console, the transaction boundary.

Commands live in cli.py and, per feature, in ``<feature>/commands.py``; they all exit 2 on bad
configuration or arguments and 1 when the work itself fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.schemas import LoginIn
from convobase.config import Settings
from convobase.db.engine import Database
from convobase.errors import ConfigError, ConvobaseError
from convobase.runtime import Runtime

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def load_settings() -> Settings:
    try:
        settings = Settings()
        settings.check()
    except (ConfigError, ValidationError) as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    """The CLI's transaction boundary: one commit per command, as the request has for HTTP."""
    database = Database.from_settings(settings)
    try:
        async with database.session() as db:
            yield db
            await db.commit()
    finally:
        await database.dispose()


def run_in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        async with unit_of_work(settings) as db:
            return await work(db)

    try:
        return asyncio.run(main())
    except ConvobaseError as exc:
        err.print(f"[red]Error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def run_with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """For commands that need the backends (storage, Redis sessions) as a request has them;
    ``work`` commits its own transactions and runs their after-commit callbacks."""

    async def main() -> T:
        runtime = Runtime.from_settings(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except ConvobaseError as exc:
        err.print(f"[red]Error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def email_or_exit(value: str) -> str:
    try:
        return LoginIn(email=value, password="-").email  # noqa: S106 (validates the email only)
    except ValidationError as exc:
        err.print(f"[red]Error:[/red] invalid email address: {value!r}")
        raise typer.Exit(2) from exc
