"""`guetteur search QUERY`: the API's KQL search from the command line, on the configured
database (same compiler, same window rules, same order: newest first)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
import typer

from guetteur.cli.commands_store import owner_database
from guetteur.cli.common import settings_from
from guetteur.errors import QueryError
from guetteur.search.evaluate import elements
from guetteur.search.fields import spec
from guetteur.search.kql import KqlError
from guetteur.search.service import KnownFields, compile_search, window
from guetteur.store.pool import open_pool
from guetteur.store.search import SearchLimits, search

TABLE_COLUMNS = ("@timestamp", "host.name", "event.action", "message")


async def _run(dsn: str, query: str, start: str | None, end: str | None, limit: int,
               timeout: float) -> list[dict[str, Any]]:
    pool = await open_pool(dsn, max_size=2, application_name="guetteur-search")
    try:
        limits = SearchLimits(int(timeout * 1000))
        span = window(start, end)
        compiled = await compile_search(pool, query, KnownFields(), limits)
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(events) < limit:
            page, cursor = await search(pool, compiled, span, limit=min(1000, limit - len(events)), after=cursor,
                                        limits=limits)
            events.extend(page)
            if cursor is None:
                break
        return events
    finally:
        await pool.close()


def _cell(event: dict[str, Any], name: str, width: int) -> str:
    text = " ".join(v if isinstance(v, str) else orjson.dumps(v).decode() for v in elements(event, spec(name)))
    if not text and name == "message":  # web access, firewall... lines carry no message: show the line
        text = " ".join(v for v in elements(event, spec("event.original")) if isinstance(v, str))
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="KQL query, e.g. 'event.outcome:failure and source.ip:10.0.0.0/8'")],
    start: Annotated[str | None, typer.Option("--start", help="ISO 8601 or now-24h (default: end - 15 min)")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO 8601 or now (default: now)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1_000_000, help="most events to print")] = 100,
    output: Annotated[str, typer.Option("--format", help="table or ndjson (the stored ECS documents)")] = "table",
) -> None:
    """Search stored events with KQL (newest first)."""
    if output not in ("table", "ndjson"):
        raise typer.BadParameter("--format is table or ndjson")
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        try:
            events = asyncio.run(_run(dsn, query, start, end, limit, settings.search.statement_timeout))
        except KqlError as exc:
            typer.echo(query, err=True)
            typer.echo(" " * exc.position + "^ " + exc.reason, err=True)
            raise typer.Exit(2) from None
        except QueryError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
    if output == "ndjson":
        for event in events:
            typer.echo(orjson.dumps(event).decode())
        return
    widths = (24, 16, 20, 60)
    typer.echo("  ".join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths, strict=True)).rstrip())
    for event in events:
        typer.echo("  ".join(_cell(event, c, w).ljust(w) for c, w in zip(TABLE_COLUMNS, widths, strict=True)).rstrip())
    typer.echo(f"{len(events)} events")


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
