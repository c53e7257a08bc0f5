"""`guetteur risk top`: the riskiest entities over the risk window (docs/risk.md), from the database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import typer
from rich.table import Table

from guetteur.alert.risk import AssetCriticality, risk_level
from guetteur.alert.risk_scorer import RankedEntity, riskiest_entities
from guetteur.cli.commands_store import owner_database
from guetteur.cli.common import console, settings_from
from guetteur.config import RiskSettings

risk_app = typer.Typer(help="Risk scores of hosts, users and source addresses (docs/risk.md).", no_args_is_help=True)
FIELDS = ("host.name", "user.name", "source.ip")


async def _ranking(dsn: str, settings: RiskSettings, at: datetime, field: str | None, limit: int) -> list[RankedEntity]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return await riskiest_entities(conn, settings, AssetCriticality.from_settings(settings), at, field, limit)


@risk_app.command("top")
def top(
    ctx: typer.Context,
    field: Annotated[str | None, typer.Option(help="only host.name, user.name or source.ip")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="entities shown")] = 20,
    at: Annotated[datetime | None, typer.Option(help="end of the window (default: now; UTC when no zone)",
                                                formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The riskiest entities over the last `risk.window_hours` (24 h), highest first."""
    if field is not None and field not in FIELDS:
        console.print(f"[red]--field must be one of {', '.join(FIELDS)}[/red]")
        raise typer.Exit(2)
    settings = settings_from(ctx)
    at = datetime.now(UTC) if at is None else at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    with owner_database(settings) as dsn:
        ranked = asyncio.run(_ranking(dsn, settings.risk, at, field, limit))
    if as_json:
        for e in ranked:
            typer.echo(json.dumps({"field": e.total.field, "value": e.total.value, "score": round(e.score, 2),
                                   "level": risk_level(e.score), "criticality": e.criticality,
                                   "contributions": e.total.contributions, "tactics": e.total.tactics}))
        return
    table = Table(title=f"Riskiest entities, {settings.risk.window_hours:g} h to {at:%Y-%m-%d %H:%M} UTC")
    for column in ("score", "level", "entity", "criticality", "hits", "tactics"):
        table.add_column(column, justify="right" if column in ("score", "hits") else "left")
    for e in ranked:
        table.add_row(f"{e.score:.1f}", risk_level(e.score), f"{e.total.field}={e.total.value}", e.criticality,
                      str(e.total.contributions), ", ".join(e.total.tactics))
    console.print(table if ranked else "no entity has risk in the window")


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")
