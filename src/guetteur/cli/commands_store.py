"""Commands of the store area: `db migrate`, `db status`, `verify`, `keys create|list|revoke`,
`retention run [--dry-run]`.

Each command uses the configured database (`database_url`, else the embedded server, started for
the command and released after it), and applies pending migrations first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import typer

from guetteur.cli.common import console, settings_from
from guetteur.config import Settings
from guetteur.store.audit import AuditEntry, append_sync, verify_audit_chain
from guetteur.store.chain import verify
from guetteur.store.database import resolve_dsn
from guetteur.store.keys import SCOPES, ApiKeyError, create_key, list_keys, revoke_key
from guetteur.store.migrate import applied, migrate
from guetteur.store.partitions import ensure_partitions, list_partitions
from guetteur.store.retention import effective_retention, run_retention
from guetteur.store.settings import record_verification_sync

db_app = typer.Typer(help="The PostgreSQL database: schema migrations and status.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for machines (ingest) and read-only clients (read).", no_args_is_help=True)
retention_app = typer.Typer(help="Retention: delete stored data older than the retention settings (GDPR).",
                            no_args_is_help=True)


@contextmanager
def owner_database(settings: Settings) -> Iterator[str]:
    """The migrated database's owner DSN for the duration of a command."""
    dsn, server = resolve_dsn(settings)
    try:
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            ensure_partitions(conn, settings.store.partitions_ahead_days)
        yield dsn
    finally:
        if server is not None:
            server.stop()


@db_app.command("migrate")
def db_migrate(ctx: typer.Context) -> None:
    """Apply pending schema migrations and create the day partitions ahead."""
    settings = settings_from(ctx)
    dsn, server = resolve_dsn(settings)
    try:
        names = migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            last = ensure_partitions(conn, settings.store.partitions_ahead_days)
    finally:
        if server is not None:
            server.stop()
    for name in names:
        console.print(f"applied {name}")
    console.print(f"schema up to date ({len(names)} applied now); partitions up to {last.isoformat()}")


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Where the database is, which migrations are applied, partitions, batches and events."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        with psycopg.connect(dsn) as conn:
            parts = list_partitions(conn)
            row = conn.execute(
                "SELECT count(*), coalesce(sum(row_count), 0),"
                " (SELECT encode(chain_hash, 'hex') FROM batches ORDER BY seq DESC LIMIT 1),"
                " (SELECT coalesce(sum(rows_deleted), 0) FROM retention_log WHERE kind = 'events') FROM batches"
            ).fetchone()
        migrations = applied(dsn)
    assert row is not None
    where = "external (database_url)" if settings.database_url else f"embedded in {settings.data_dir / 'postgres'}"
    typer.echo(f"database:   {where}")
    typer.echo(f"migrations: {', '.join(name for name, _ in migrations)}")
    typer.echo(f"partitions: {len(parts)} ({parts[0] if parts else '-'} .. {parts[-1] if parts else '-'})")
    expired = f" (and {row[3]} expired by retention)" if row[3] else ""
    typer.echo(f"batches:    {row[0]}  events: {row[1] - row[3]}{expired}")
    typer.echo(f"chain head: {row[2] or '-'}")


def verify_command(ctx: typer.Context) -> None:
    """Recompute the hash chains of stored batches and of the audit trail; exit 1 and name the first
    broken batch or audit row."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        started = datetime.now(UTC)
        report = verify(dsn)
        audit = verify_audit_chain(dsn)
        with psycopg.connect(dsn) as conn:  # the console shows the last outcome (/api/v1/audit/verify)
            record_verification_sync(conn, report, started, "cli")
    if audit.ok:
        typer.echo(f"audit chain intact: {audit.rows_checked} rows; head {audit.head_hash}")
    else:
        typer.echo(f"AUDIT CHAIN BROKEN at seq {audit.first_broken_seq}: {audit.reason}")
        typer.echo(f"verified before it: {audit.rows_checked} audit rows")
    if report.ok:
        typer.echo(f"chain intact: {report.batches_checked} batches, {report.rows_checked} events; "
                   f"head {report.head_hash}")
        if report.retention:
            typer.echo(report.retention)
        if not audit.ok:
            raise typer.Exit(1)
        return
    where = f"batch {report.first_broken_batch}" if report.first_broken_batch is not None else "store"
    typer.echo(f"CHAIN BROKEN at {where}: {report.reason}")
    typer.echo(f"verified before it: {report.batches_checked} batches, {report.rows_checked} events")
    raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a name for the key (unique among active keys)")],
    scope: Annotated[str, typer.Option("--scope", help=f"one of: {', '.join(SCOPES)}")] = "ingest",
) -> None:
    """Create a key and print its token once (it cannot be shown again)."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        try:
            token = create_key(dsn, name, scope)
            append_sync(dsn, AuditEntry("cli", "key.create", "success", target=name.strip(), detail={"scope": scope}))
        except ApiKeyError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    console.print(f"key {name!r} ({scope}) created; store this token now, it is not shown again:")
    typer.echo(token)


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    all_keys: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
) -> None:
    """List keys (never their tokens)."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        keys = list_keys(dsn, include_revoked=all_keys)
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        typer.echo(f"{key.name}\t{key.scope}\t{state}\tcreated {key.created_at:%Y-%m-%d %H:%M}\tlast used {used}")


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke the active key with this name."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        done = revoke_key(dsn, name)
        if done:
            append_sync(dsn, AuditEntry("cli", "key.revoke", "success", target=name.strip()))
    if not done:
        console.print(f"[red]no active key named {name!r}[/red]")
        raise typer.Exit(1)
    console.print(f"key {name!r} revoked")


@retention_app.command("run")
def retention_run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what would be deleted")] = False,
) -> None:
    """Delete now what is older than the retention settings in force (the console's over the
    configuration's): whole day partitions of events, hits, closed alerts. `guetteur up` does
    this every hour; exit 1 when the run stopped early (the rest goes at the next run)."""
    settings = settings_from(ctx)
    with owner_database(settings) as dsn:
        with psycopg.connect(dsn) as conn:
            retention = effective_retention(conn, settings)
        report = run_retention(dsn, retention, actor="cli", dry_run=dry_run)
    for line in report.lines():
        typer.echo(line)
    if report.error:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
    app.add_typer(retention_app, name="retention")
    app.command("verify")(verify_command)
