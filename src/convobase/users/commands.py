"""`convobase users ...`: manage accounts from the shell (the same services as the admin API)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts import service as accounts
from convobase.auth.passwords import PasswordHasher
from convobase.cli_common import (
    console,
    email_or_exit,
    err,
    load_settings,
    run_in_transaction,
    run_with_runtime,
)
from convobase.db.session import run_after_commit
from convobase.models import User
from convobase.runtime import Runtime
from convobase.users import repository
from convobase.users.service import create_user

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


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
    settings = load_settings()
    address = email_or_exit(email)

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

    user = run_in_transaction(settings, work)
    console.print(f"Created {user.role} {user.email} ({user.id})")


@users_app.command("list")
def users_list(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """List accounts, newest first."""
    settings = load_settings()

    async def work(db: AsyncSession) -> list[User]:
        return list(
            (await db.execute(select(User).order_by(User.id.desc()).limit(limit))).scalars()
        )

    table = Table("id", "email", "name", "role", "disabled", "created")
    for user in run_in_transaction(settings, work):
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
    settings = load_settings()
    address = email_or_exit(email)

    async def work(db: AsyncSession) -> User | None:
        user = await repository.get_by_email(db, address)
        if user is not None:
            for key, value in values.items():
                setattr(user, key, value)
            await db.flush()
        return user

    user = run_in_transaction(settings, work)
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
    settings = load_settings()
    address = email_or_exit(email)
    if not yes and not typer.confirm(f"Delete {address} and everything it owns?"):
        raise typer.Exit(1)

    async def work(runtime: Runtime) -> None:
        async with runtime.database.session() as db:
            await accounts.delete_by_email(db, runtime, address)
            await db.commit()
        await run_after_commit(db)  # blobs, Redis sessions, quota counters

    run_with_runtime(settings, work)
    console.print(f"Deleted {address}.")
