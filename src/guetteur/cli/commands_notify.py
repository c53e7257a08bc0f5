"""`guetteur notify test CHANNEL` (send a test message now) and `guetteur notify mailbox` (the
demo's catch-all mailbox, `guetteur up --demo --mail`). Channels and routes are configured
through the API (`/api/v1/notify/...`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from guetteur.cli.commands_store import owner_database
from guetteur.cli.common import console, settings_from
from guetteur.notify.demo_mail import mailbox_path, read_mailbox
from guetteur.notify.model import DeliveryFailed
from guetteur.notify.service import Notifier
from guetteur.store.audit import AuditEntry, append_sync
from guetteur.store.notify import channel_by_name_sync

notify_app = typer.Typer(help="Notifications: test a channel, read the demo mailbox.", no_args_is_help=True)


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="the channel's name (or id)")],
) -> None:
    """Send a test message to a channel now; exit 1 with the reason when it fails."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        row = channel_by_name_sync(dsn, channel)
        if row is None:
            console.print(f"[red]no channel named {channel!r}[/red]")
            raise typer.Exit(2)
        try:
            answer = asyncio.run(Notifier(settings, None).send_test(row))
        except DeliveryFailed as exc:
            append_sync(dsn, AuditEntry("cli", "notify.channel.test", "failure", target=row.name,
                                        detail={"error": str(exc)[:200]}))
            console.print(f"[red]delivery to {row.name!r} failed:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
        append_sync(dsn, AuditEntry("cli", "notify.channel.test", "success", target=row.name))
    console.print(f"test message delivered to {row.name!r} ({row.kind}): {answer}")


@notify_app.command("mailbox")
def notify_mailbox(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="messages to show, newest first")] = 10,
    full: Annotated[bool, typer.Option("--full", help="print each message's text, not only its subject")] = False,
) -> None:
    """The messages the demo's catch-all mail server received (`guetteur up --demo --mail`)."""
    path = mailbox_path(settings_from(ctx))
    mails = read_mailbox(path, limit)
    if not mails:
        console.print(f"no message in {path}")
        return
    for mail in mails:
        typer.echo(f"{mail['date']}  {mail['subject']}")
        if full:
            typer.echo(mail["text"])
            typer.echo("-" * 72)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
