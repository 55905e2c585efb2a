"""The `convobase` command: serve, db upgrade, users ..., keys rotate, prune."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts import guests
from convobase.accounts import service as accounts
from convobase.auth.passwords import PasswordHasher
from convobase.auth.schemas import LoginIn
from convobase.config import Settings
from convobase.db.engine import Database
from convobase.db.migrate import upgrade
from convobase.db.session import run_after_commit
from convobase.errors import ConfigError, ConvobaseError
from convobase.keys import service as vault
from convobase.models import User
from convobase.runtime import Runtime
from convobase.transfer import commands as transfer
from convobase.users import repository
from convobase.users.service import create_user

app = typer.Typer(
    help="Convobase: the open-source backend for AI chat applications.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="The provider key vault.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.check()
    except (ConfigError, ValidationError) as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings


@asynccontextmanager
async def _unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    """The CLI's transaction boundary: one commit per command, as the request has for HTTP."""
    database = Database.from_settings(settings)
    try:
        async with database.session() as db:
            yield db
            await db.commit()
    finally:
        await database.dispose()


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _unit_of_work(settings) as db:
            return await work(db)

    try:
        return asyncio.run(main())
    except ConvobaseError as exc:
        err.print(f"[red]Error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def _run_with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
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


def _email(value: str) -> str:
    try:
        return LoginIn(email=value, password="-").email  # noqa: S106 (validates the email only)
    except ValidationError as exc:
        err.print(f"[red]Error:[/red] invalid email address: {value!r}")
        raise typer.Exit(2) from exc


async def _ensure_admin(db: AsyncSession, settings: Settings) -> str | None:
    """Create CONVOBASE_ADMIN_EMAIL as an admin unless that account exists already."""
    if not (settings.admin_email and settings.admin_password):
        return None
    email = _email(settings.admin_email)
    if await repository.get_by_email(db, email) is not None:
        return None
    await create_user(
        db,
        PasswordHasher.from_settings(settings),
        settings,
        email=email,
        password=settings.admin_password.get_secret_value(),
        role="admin",
    )
    return email


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (CONVOBASE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CONVOBASE_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first.")] = True,
) -> None:
    """Apply migrations and serve the API (SQLite and ./data unless configured)."""
    import uvicorn

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    if migrate:
        upgrade(settings.resolved_database_url)
    created = _run(settings, lambda db: _ensure_admin(db, settings))
    if created:
        err.print(f"Created admin account {created}")
    if settings.public_url is None:
        os.environ["CONVOBASE_PUBLIC_URL"] = f"http://{host}:{port}"
    uvicorn.run(
        "convobase.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations up to REVISION (default: head)."""
    settings = _settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"Database at revision {revision}.")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Email address (login).")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CONVOBASE_NEW_USER_PASSWORD",
            help="Password (prompted when omitted).",
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
) -> None:
    """Create an account."""
    settings = _settings()
    address = _email(email)

    async def work(db: AsyncSession) -> User:
        return await create_user(
            db,
            PasswordHasher.from_settings(settings),
            settings,
            email=address,
            password=password,
            name=name,
            role="admin" if admin else "user",
        )

    user = _run(settings, work)
    console.print(f"Created {user.role} {user.email} ({user.id})")


@users_app.command("list")
def users_list(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """List accounts, newest first."""
    settings = _settings()

    async def work(db: AsyncSession) -> list[User]:
        return list(
            (await db.execute(select(User).order_by(User.id.desc()).limit(limit))).scalars()
        )

    table = Table("id", "email", "name", "role", "disabled", "created")
    for user in _run(settings, work):
        table.add_row(
            str(user.id),
            user.email,
            user.name or "",
            user.role,
            "yes" if user.disabled else "",
            user.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def _update_user(email: str, **values: Any) -> None:
    settings = _settings()
    address = _email(email)

    async def work(db: AsyncSession) -> User | None:
        user = await repository.get_by_email(db, address)
        if user is not None:
            for key, value in values.items():
                setattr(user, key, value)
            await db.flush()
        return user

    user = _run(settings, work)
    if user is None:
        err.print(f"[red]Error:[/red] no account {address}")
        raise typer.Exit(1)
    console.print(f"{user.email}: role={user.role} disabled={user.disabled}")


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    role: Annotated[str, typer.Argument(help="user or admin.")],
) -> None:
    """Make an account a user or an admin."""
    if role not in ("user", "admin"):
        err.print("[red]Error:[/red] role must be 'user' or 'admin'")
        raise typer.Exit(2)
    _update_user(email, role=role)


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")] = False,
) -> None:
    """Disable an account (its sessions and API keys stop working at once)."""
    _update_user(email, disabled=not enable)


@users_app.command("delete")
def users_delete(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account and everything it owns (its usage is kept, anonymised)."""
    settings = _settings()
    address = _email(email)
    if not yes and not typer.confirm(f"Delete {address} and everything it owns?"):
        raise typer.Exit(1)

    async def work(runtime: Runtime) -> None:
        async with runtime.database.session() as db:
            await accounts.delete_by_email(db, runtime, address)
            await db.commit()
        await run_after_commit(db)  # blobs, Redis sessions, quota counters

    _run_with_runtime(settings, work)
    console.print(f"Deleted {address}.")


@app.command()
def prune() -> None:
    """Delete guests idle longer than CONVOBASE_GUEST_IDLE_HOURS (with all they own), expired
    sessions, sign-in states and quota reservations. Safe to run while serving (cron)."""
    settings = _settings()
    report = _run_with_runtime(settings, guests.prune)
    console.print(
        f"Pruned {report.guests} idle guests, {report.sessions} expired sessions, "
        f"{report.reservations} stale quota reservations."
    )


@app.command("import")
def import_history(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="conversations.json or a zip."
        ),
    ],
    user: Annotated[str, typer.Option("--user", help="Email of the account to import into.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Import ChatGPT's conversations.json or export zip, or a Convobase export, into an account.

    Idempotent: conversations imported before are skipped. Malformed conversations are skipped
    and reported; the rest is imported, committed every CONVOBASE_IMPORT_BATCH_SIZE."""
    settings = _settings()
    address = _email(user)
    report = _run_with_runtime(
        settings, lambda runtime: transfer.run_import(runtime, address, file, err)
    )
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        transfer.print_report(console, report)


@app.command("export")
def export_account(
    user: Annotated[str, typer.Option("--user", help="Email of the account to export.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Zip to write (default: ./convobase-export-<email>.zip).",
        ),
    ] = None,
) -> None:
    """Write an account's whole history (conversations, files, preferences, usage) as a zip in
    Convobase's export format, with a Markdown copy of each conversation."""
    settings = _settings()
    address = _email(user)
    target = output or Path(f"convobase-export-{address.replace('@', '_at_')}.zip")
    size = _run_with_runtime(
        settings, lambda runtime: transfer.run_export(runtime, address, target, err)
    )
    console.print(f"Exported {address} to {target} ({size:,} bytes).")


_ROTATE_HELP = (
    "Re-encrypt every stored provider key under the current secret key.\n\n"
    "Rotation: add the old secret to CONVOBASE_PREVIOUS_SECRET_KEYS (a JSON list), set the new "
    "CONVOBASE_SECRET_KEY, restart the servers, run this, then drop the old secret.\n\n"
    "Safe while serving: each batch is one short transaction and every key stays readable "
    "throughout. Exits 1 when some keys open with none of the configured secrets (they are left "
    "as they are)."
)


@keys_app.command("rotate", help=_ROTATE_HELP)
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Keys re-encrypted per transaction.")
    ] = 100,
) -> None:
    """Re-encrypt every stored provider key under the current secret key."""
    settings = _settings()

    async def rotate() -> tuple[int, int]:
        database = Database.from_settings(settings)
        rotated = failed = 0
        after = None
        try:
            while True:
                async with database.session() as db:
                    batch = await vault.rotate_batch(db, settings, after=after, limit=batch_size)
                    await db.commit()
                if batch.seen == 0:
                    return rotated, failed
                rotated += batch.rotated
                failed += batch.failed
                after = batch.last_id
        finally:
            await database.dispose()

    rotated, failed = asyncio.run(rotate())
    console.print(f"Re-encrypted {rotated} provider keys under the current secret key.")
    if failed:
        err.print(
            f"[red]Error:[/red] {failed} provider keys could not be decrypted with the configured "
            "secrets (CONVOBASE_SECRET_KEY, CONVOBASE_PREVIOUS_SECRET_KEYS) and were left as "
            "they are; add the secret that encrypted them and run this again, or have their "
            "owners enter them again."
        )
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # raised by a worker's settings check
        err.print(f"[red]Configuration error:[/red] {exc}")
        sys.exit(2)
