"""`guetteur alerts list|show|ack|close`: the alerts from the database (docs/alerts.md).

Changes are made as actor `cli`: they go to the alert's history and the audit trail, as the
API's do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from guetteur.alert.model import CLOSE_REASONS, SEVERITIES, STATUSES
from guetteur.cli.commands_store import owner_database
from guetteur.cli.common import console, settings_from
from guetteur.errors import AlertInputError
from guetteur.store import alert_queries as queries
from guetteur.store import alert_triage as triage
from guetteur.store.audit import AuditEntry, append_sync
from guetteur.store.pool import open_pool

alerts_app = typer.Typer(help="Alerts: list, show, acknowledge, close (docs/alerts.md).", no_args_is_help=True)
T = TypeVar("T")
ACTOR = "cli"


def _run(dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        pool = await open_pool(dsn, max_size=2, application_name="guetteur-cli")
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _entity(entity: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in entity.items())


def _as_dict(row: queries.AlertRow) -> dict[str, Any]:
    out = dataclasses.asdict(row)
    for name in ("first_seen", "last_seen", "created", "updated"):
        out[name] = out[name].isoformat()
    return out


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    status: Annotated[list[str] | None, typer.Option(help=f"one of {', '.join(STATUSES)} (repeatable)")] = None,
    severity: Annotated[list[str] | None, typer.Option(help=f"one of {', '.join(SEVERITIES)} (repeatable)")] = None,
    rule: Annotated[str | None, typer.Option(help="rule id")] = None,
    host: Annotated[str | None, typer.Option(help="entity host.name")] = None,
    user: Annotated[str | None, typer.Option(help="entity user.name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Alerts, most recent activity first."""
    for value, allowed, name in ((status, STATUSES, "--status"), (severity, SEVERITIES, "--severity")):
        if value and not set(value) <= set(allowed):
            raise _fail(f"{name} must be among {', '.join(allowed)}")
    filters = queries.AlertFilters(status=status or None, severity=severity or None, rule_id=rule, host=host,
                                   user=user)
    with owner_database(settings_from(ctx)) as dsn:
        rows = _run(dsn, lambda pool: queries.list_alerts(pool, filters, limit=limit))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(_as_dict(row)))
        return
    table = Table(title="Alerts")
    for column in ("id", "severity", "status", "rule", "entity", "count", "last seen"):
        table.add_column(column, justify="right" if column in ("id", "count") else "left")
    for r in rows:
        status_text = r.status + (" (silenced)" if r.silenced else "")
        table.add_row(str(r.id), r.severity, status_text, r.rule_title, _entity(r.entity), str(r.count),
                      f"{r.last_seen:%Y-%m-%d %H:%M:%S}")
    console.print(table if rows else "no alert")


@alerts_app.command("show")
def alerts_show(ctx: typer.Context, alert_id: Annotated[int, typer.Argument(min=1)],
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One alert and its history."""
    async def read(pool: Any) -> tuple[queries.AlertRow | None, list[queries.HistoryRow]]:
        row = await queries.get_alert(pool, alert_id)
        return row, (await queries.alert_history(pool, alert_id) if row else [])

    with owner_database(settings_from(ctx)) as dsn:
        row, history = _run(dsn, read)
    if row is None:
        raise _fail(f"no alert {alert_id}", 1)
    if as_json:
        typer.echo(json.dumps({**_as_dict(row), "history": [
            {"at": h.at.isoformat(), "actor": h.actor, "action": h.action, "details": h.details} for h in history]}))
        return
    console.print(f"[bold]#{row.id} {row.rule_title}[/bold] ({row.rule_id})")
    console.print(f"severity {row.severity}, status {row.status}"
                  + (f" ({row.close_reason})" if row.close_reason else "")
                  + (", silenced" if row.silenced else "") + f", assignee {row.assignee or '-'}")
    console.print(f"entity: {_entity(row.entity)}")
    console.print(f"ATT&CK: {', '.join(row.techniques) or '-'} ({', '.join(row.tactics) or '-'})")
    console.print(f"{row.count} detection(s), {row.event_total} event(s), risk {row.risk_score}, "
                  f"{row.first_seen:%Y-%m-%d %H:%M:%S} .. {row.last_seen:%Y-%m-%d %H:%M:%S}")
    for h in history:
        console.print(f"  {h.at:%Y-%m-%d %H:%M:%S} {h.actor}: {h.action} {json.dumps(h.details)}")


def _set_status(ctx: typer.Context, alert_id: int, target: str, reason: str | None) -> None:
    with owner_database(settings_from(ctx)) as dsn:
        try:
            _run(dsn, lambda pool: triage.set_status(pool, alert_id, ACTOR, target, reason))
        except triage.AlertNotFound:
            raise _fail(f"no alert {alert_id}", 1) from None
        except AlertInputError as exc:
            raise _fail(str(exc)) from None
        detail = {"status": target, **({"close_reason": reason} if reason else {})}
        append_sync(dsn, AuditEntry(ACTOR, "alert.change", "success", target=str(alert_id), detail=detail))
    console.print(f"alert {alert_id}: {target}")


@alerts_app.command("ack")
def alerts_ack(ctx: typer.Context, alert_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Acknowledge an open alert."""
    _set_status(ctx, alert_id, "acknowledged", None)


@alerts_app.command("close")
def alerts_close(ctx: typer.Context, alert_id: Annotated[int, typer.Argument(min=1)],
                 reason: Annotated[str, typer.Option(help=f"one of {', '.join(CLOSE_REASONS)}")]) -> None:
    """Close an alert with a reason."""
    _set_status(ctx, alert_id, "closed", reason)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
