"""What every `convobase` command shares: the app and its failure handling, settings, the
consoles, the transaction boundary.

Commands live in cli.py and, per feature, in ``<feature>/commands.py``; they all exit 2 on bad
configuration or arguments and 1 when the work itself fails. Known failures (a database that
cannot be reached, a missing bucket...) are told in one line by ``ConvobaseGroup`` for every
command at once (cli_errors.py); `--debug` shows their traceback.

Startup time matters (every command pays it, `--help` included): this module and the command
modules import only typer and rich at the top; SQLAlchemy, FastAPI, the models and the services
are imported inside the functions that use them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from convobase.cli_errors import explain

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from typer._click.core import Context  # typer's own copy of click

    from convobase.config import Settings
    from convobase.runtime import Runtime

console = Console()
err = Console(stderr=True)
T = TypeVar("T")
DEBUG = "convobase.debug"  # key of the --debug flag in the click context's meta


class ConvobaseGroup(TyperGroup):
    """The root command group: a known failure of any command below it becomes one line on
    stderr and exit status 1 (2 for configuration), unless `--debug` was given."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # usage errors too: explain() knows none of them
            failure = None if ctx.meta.get(DEBUG) else explain(exc)
            if failure is None:
                raise  # a bug, or --debug: the traceback
            fail(failure.message, failure.exit_code, label=failure.label)


def fail(message: str, exit_code: int = 1, *, label: str = "Error") -> NoReturn:
    """Print ``label: message`` as one line on stderr and exit."""
    err.print(f"[red]{label}:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(exit_code)


def load_settings() -> Settings:
    from pydantic import ValidationError

    from convobase.config import Settings
    from convobase.errors import ConfigError

    try:
        settings = Settings()
        settings.check()
    except (ConfigError, ValidationError) as exc:
        err.print(f"[red]Configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    return settings


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    """The CLI's transaction boundary: one commit per command, as the request has for HTTP."""
    from convobase.db.engine import Database

    database = Database.from_settings(settings)
    try:
        async with database.session() as db:
            yield db
            await db.commit()
    finally:
        await database.dispose()


def run_in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from convobase.errors import ConvobaseError

    async def main() -> T:
        async with unit_of_work(settings) as db:
            return await work(db)

    try:
        return asyncio.run(main())
    except ConvobaseError as exc:
        err.print(f"[red]Error:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from exc


def run_with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """For commands that need the backends (storage, Redis sessions) as a request has them;
    ``work`` commits its own transactions and runs their after-commit callbacks. The file
    storage is checked first, so a missing bucket stops the command before it changes
    anything (rather than, say, after deleting an account's rows but not its files)."""
    from convobase.errors import ConvobaseError
    from convobase.runtime import Runtime

    async def main() -> T:
        runtime = Runtime.from_settings(settings)
        try:
            await runtime.storage.ping()
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except ConvobaseError as exc:
        err.print(f"[red]Error:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from exc


def email_or_exit(value: str) -> str:
    from pydantic import ValidationError

    from convobase.auth.schemas import LoginIn

    try:
        return LoginIn(email=value, password="-").email  # noqa: S106 (validates the email only)
    except ValidationError as exc:
        err.print(f"[red]Error:[/red] invalid email address: {escape(repr(value))}")
        raise typer.Exit(2) from exc
