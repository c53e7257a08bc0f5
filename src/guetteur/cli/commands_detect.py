"""Commands of the detect area: `guetteur hunt` (this module) and `guetteur rules ...`.

`register(app)` is what `guetteur.cli` calls; it registers both parts. The correlation/rules
helper adds its commands in `register_rules(app)` (here or in `cli/commands_rules.py`).
"""

from __future__ import annotations

import typer


def register_hunt(app: typer.Typer) -> None:
    """`guetteur hunt PATH... [--rules DIR]... [--format table|json]` (see `detect/hunt.py`)."""
    from guetteur.detect.hunt import hunt_command

    app.command(
        "hunt",
        help="Offline threat hunting: run the Sigma rules over log files (EVTX, any parsed format, folders).",
    )(hunt_command)


def register_rules(app: typer.Typer) -> None:
    """`guetteur rules ...` subcommands (owned by the correlation/rules helper)."""
    try:
        from guetteur.cli import commands_rules
    except ImportError:
        return
    commands_rules.register(app)


def register(app: typer.Typer) -> None:
    register_hunt(app)
    register_rules(app)
