"""The `guetteur` command. Each area registers its commands from its own module."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from guetteur.cli import (
    commands_alerts,
    commands_config,
    commands_detect,
    commands_ingest,
    commands_notify,
    commands_risk,
    commands_search,
    commands_server,
    commands_store,
    commands_tls,
    commands_users,
)

app = typer.Typer(
    name="guetteur",
    help="Guetteur, an open-source SIEM: collect, normalise to ECS, detect with Sigma, alert.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML configuration file (default: $GUETTEUR_CONFIG, ./guetteur.toml)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # one line per HTTP request of the demo sender is noise
        logging.getLogger("httpx").setLevel(logging.WARNING)
    ctx.obj = {"config": config}


for _module in (commands_config, commands_server, commands_store, commands_ingest, commands_detect, commands_users,
                commands_search, commands_alerts, commands_risk, commands_notify, commands_tls):
    _module.register(app)


def main() -> None:
    app()
