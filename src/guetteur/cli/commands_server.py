"""`guetteur up` and `guetteur demo`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from guetteur.cli.common import console, settings_from


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        ctx: typer.Context,
        demo: Annotated[bool, typer.Option("--demo", help="also send demo traffic (normal use and attacks)")] = False,
        mail: Annotated[bool, typer.Option(
            "--mail", help="with --demo: a local catch-all mail server receives the alert mails "
                           "(read them with `guetteur notify mailbox`)")] = False,
    ) -> None:
        """Start everything: database, parser workers, syslog listeners, file inputs, API."""
        from guetteur.errors import ConfigError
        from guetteur.pipeline.collector import settle_collector
        from guetteur.server import ShutdownIncomplete, serve

        settings = settings_from(ctx)
        if mail and not demo:
            console.print("[red]--mail goes with --demo[/red]")
            raise typer.Exit(2)
        try:
            # once serving, the process is built: its collector settles (pipeline/collector.py)
            asyncio.run(serve(settings, demo=demo, demo_mail=mail, on_ready=lambda _info: settle_collector()))
        except (OSError, ConfigError) as exc:
            console.print(f"[red]cannot start:[/red] {exc}")
            raise typer.Exit(1) from None
        except ShutdownIncomplete as exc:
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None

    @app.command("demo")
    def demo(
        ctx: typer.Context,
        rate: Annotated[float, typer.Option(help="normal lines per second")] = 50.0,
        attack_every: Annotated[float, typer.Option(help="seconds between attack scenarios")] = 30.0,
        duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
        seed: Annotated[int | None, typer.Option(help="random seed, for repeatable traffic")] = None,
    ) -> None:
        """Send demo traffic to a running Guetteur (its syslog and HTTP ports)."""
        from guetteur.demo import run_demo
        from guetteur.server import demo_key, reachable
        from guetteur.store.database import resolve_dsn

        settings = settings_from(ctx)
        dsn, embedded = resolve_dsn(settings)
        try:
            key = demo_key(dsn, "demo-cli")
        finally:
            if embedded is not None:
                embedded.stop()
        stats = asyncio.run(run_demo(syslog_host=reachable(settings.syslog.host), syslog_port=settings.syslog.tcp_port,
                                     syslog_udp_port=settings.syslog.udp_port,
                                     http_url=f"http://{reachable(settings.api.host)}:{settings.api.port}",
                                     api_key=key, rate=rate, attack_every=attack_every, duration=duration, seed=seed))
        console.print_json(data=stats.as_dict())
