"""`guetteur config show`, `guetteur version`."""

from __future__ import annotations

import json

import typer

from guetteur import __version__
from guetteur.cli.common import settings_from
from guetteur.config import config_path


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @config_app.command("show")
    def show(ctx: typer.Context) -> None:
        """Print the settings in force (file + environment + defaults) as JSON."""
        settings = settings_from(ctx)
        source = config_path((ctx.obj or {}).get("config"))
        typer.echo(f"# configuration file: {source or '(none)'}", err=True)
        typer.echo(json.dumps(settings.model_dump(mode="json"), indent=2))

    @app.command("version")
    def version() -> None:
        """Print Guetteur's version."""
        typer.echo(f"guetteur {__version__}")
