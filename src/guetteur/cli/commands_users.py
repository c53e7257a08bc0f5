"""`guetteur users create|list|set-role|disable|enable|reset-password`: people on the API.

Each change is written to the audit trail with actor `cli`. Passwords are prompted (twice,
hidden) or read from standard input with `--password-stdin`; `reset-password` prints a
generated one once.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from guetteur.auth import ROLES, AuthError
from guetteur.auth.passwords import hash_password, random_password
from guetteur.cli.commands_store import owner_database
from guetteur.cli.common import console, settings_from
from guetteur.store.audit import AuditEntry, append_sync
from guetteur.store.users import create_user_sync, list_users_sync, update_user_sync

users_app = typer.Typer(help="People on the API: admin, analyst and viewer accounts.", no_args_is_help=True)

_ROLE_HELP = f"one of: {', '.join(ROLES)}"


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the user name (unique)")],
    role: Annotated[str, typer.Option("--role", help=_ROLE_HELP)] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
) -> None:
    """Create a user (the password is prompted, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        password_hash = hash_password(password)
        with owner_database(settings_from(ctx)) as dsn:
            create_user_sync(dsn, name, role, password_hash)
            append_sync(dsn, AuditEntry("cli", "user.create", "success", target=name.strip(), detail={"role": role}))
    except AuthError as exc:
        raise _fail(str(exc)) from None
    console.print(f"user {name.strip()!r} ({role}) created")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """List users: name, role, state, second factor, creation."""
    with owner_database(settings_from(ctx)) as dsn:
        users = list_users_sync(dsn)
    for user in users:
        state = f"disabled {user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "active"
        totp = "totp" if user.totp_enabled else "no-totp"
        typer.echo(f"{user.name}\t{user.role}\t{state}\t{totp}\tcreated {user.created_at:%Y-%m-%d %H:%M}")


def _change(ctx: typer.Context, name: str, action: str, detail: dict[str, str], **change: object) -> None:
    with owner_database(settings_from(ctx)) as dsn:
        try:
            found = update_user_sync(dsn, name, **change)  # type: ignore[arg-type]
        except AuthError as exc:
            raise _fail(str(exc)) from None
        if not found:
            raise _fail(f"no user named {name!r}", 1)
        append_sync(dsn, AuditEntry("cli", action, "success", target=name, detail=detail))


@users_app.command("set-role")
def users_set_role(ctx: typer.Context, name: Annotated[str, typer.Argument()],
                   role: Annotated[str, typer.Argument(help=_ROLE_HELP)]) -> None:
    """Change a user's role (applies to their next request)."""
    _change(ctx, name, "user.change", {"role": role}, role=role)
    console.print(f"user {name!r} is now {role}")


@users_app.command("disable")
def users_disable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: their sessions end and they cannot log in."""
    _change(ctx, name, "user.change", {"disabled": "True"}, disabled=True)
    console.print(f"user {name!r} disabled")


@users_app.command("enable")
def users_enable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled user again."""
    _change(ctx, name, "user.change", {"disabled": "False"}, disabled=False)
    console.print(f"user {name!r} enabled")


@users_app.command("reset-password")
def users_reset_password(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Set a generated password (printed once); the user's sessions end."""
    password = random_password()
    _change(ctx, name, "password.change", {"by": "cli reset"}, password_hash=hash_password(password))
    console.print(f"password of {name!r} reset; give them this password (shown once):")
    typer.echo(password)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
