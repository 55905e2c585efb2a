"""`convobase users ...`: manage accounts from the shell (the same services as the admin API).

Heavy modules (SQLAlchemy, the models, the services) are imported inside the commands: see
cli_common.py.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convobase.cli_common import (
    console,
    email_or_exit,
    err,
    fail,
    load_settings,
    run_in_transaction,
    run_with_runtime,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from convobase.models import User
    from convobase.runtime import Runtime

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
PASSWORD_ENV = "CONVOBASE_NEW_USER_PASSWORD"  # noqa: S105 (a variable name)


def _password(given: str | None, from_stdin: bool) -> str:
    """The new account's password: --password (or its variable), the first line of stdin with
    --password-stdin, else asked twice on the terminal without echo."""
    if given is not None and from_stdin:
        fail("give --password or --password-stdin, not both", 2)
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("--password-stdin: no password on standard input", 2)
        return line
    if given is not None:
        return given
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(metavar="EMAIL", help="Email address (login).")],
    password: Annotated[
        str | None,
        typer.Option(
            metavar="PASSWORD",
            envvar=PASSWORD_ENV,
            show_envvar=True,
            help="Password. When omitted it is asked twice, hidden. Without a terminal use "
            "--password-stdin or the variable: a --password value shows in the process list "
            "and the shell history.",
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
) -> None:
    """Create an account."""
    from convobase.auth.passwords import PasswordHasher
    from convobase.users.service import create_user

    settings = load_settings()
    address = email_or_exit(email)
    secret = _password(password, password_stdin)

    async def work(db: AsyncSession) -> User:
        return await create_user(
            db,
            PasswordHasher.from_settings(settings),
            settings,
            email=address,
            password=secret,
            name=name,
            role="admin" if admin else "user",
        )

    user = run_in_transaction(settings, work)
    console.print(f"Created {user.role} {user.email} ({user.id})", soft_wrap=True)


@users_app.command("list")
def users_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, metavar="N", help="At most N.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (one object per account).")
    ] = False,
) -> None:
    """List accounts, newest first: a table on a terminal, tab-separated lines otherwise."""
    from rich.table import Table
    from sqlalchemy import select

    from convobase.models import User

    settings = load_settings()

    async def work(db: AsyncSession) -> list[User]:
        return list(
            (await db.execute(select(User).order_by(User.id.desc()).limit(limit))).scalars()
        )

    users = run_in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps([_user_json(user) for user in users], indent=2))
        return
    rows = [
        (
            str(user.id),
            user.email,
            user.name or "",
            user.role,
            "yes" if user.disabled else "",
            user.created_at.isoformat(timespec="seconds"),
        )
        for user in users
    ]
    columns = ("id", "email", "name", "role", "disabled", "created")
    if not console.is_terminal:  # piped: whole values, one line each, for cut/awk/grep
        for row in (columns, *rows):
            typer.echo("\t".join(value.replace("\t", " ") for value in row))
        return
    table = Table(*columns)
    for column in table.columns:
        column.overflow = "fold"  # wrap a long value in its cell rather than cut it
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


def _update_user(email: str, **values: Any) -> None:
    from convobase.users import repository

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
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The account's email.")],
    role: Annotated[str, typer.Argument(metavar="ROLE", help="user or admin.")],
) -> None:
    """Make an account a user or an admin."""
    if role not in ("user", "admin"):
        err.print("[red]Error:[/red] role must be 'user' or 'admin'")
        raise typer.Exit(2)
    _update_user(email, role=role)


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The account's email.")],
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")] = False,
) -> None:
    """Disable an account (its sessions and API keys stop working at once)."""
    _update_user(email, disabled=not enable)


@users_app.command("delete")
def users_delete(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The account's email.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account and everything it owns (its usage is kept, anonymised)."""
    from convobase.accounts import service as accounts
    from convobase.db.session import run_after_commit

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
