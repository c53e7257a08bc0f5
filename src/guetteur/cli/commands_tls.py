"""`guetteur tls fingerprint`: the certificates syslog over TLS and HTTPS serve."""

from __future__ import annotations

import typer

from guetteur.cli.common import console, settings_from
from guetteur.errors import ConfigError


def register(app: typer.Typer) -> None:
    tls_app = typer.Typer(help="TLS certificates (syslog over TLS, HTTPS).", no_args_is_help=True)
    app.add_typer(tls_app, name="tls")

    @tls_app.command("fingerprint")
    def fingerprint(ctx: typer.Context) -> None:
        """Print the SHA-256 fingerprint of the certificate each TLS listener serves (the self-signed
        pair is generated now if it does not exist yet): what senders pin or compare on first use."""
        from guetteur.tls import server_identity

        settings = settings_from(ctx)
        listeners = [("syslog_tls", settings.syslog.tls), ("api", settings.api.tls)]
        try:
            for name, tls in listeners:
                identity = server_identity(tls, settings.data_dir)
                kind = "self-signed, generated" if identity.generated else "configured"
                typer.echo(f"{name}\t{identity.fingerprint}\t{identity.cert_file}\t({kind})")
        except ConfigError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
