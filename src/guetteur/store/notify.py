"""Notification storage (migration 0710): channels, routes, the router's cursor over
`alert_history`, held digests/summaries, throttle windows and the outbox.

`route_batch` is the router's transaction: it reads the alert changes past the cursor, lets the
caller route them, writes the outbox rows and held messages, and advances the cursor, all in one
commit, so a crash re-reads the same changes and nothing is sent twice by routing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from guetteur.notify.model import AlertChange, Match, Route
from guetteur.notify.routing import Held, RoutingState, ThrottleWindow

CURSOR = "main"
_CHANGES = (
    "SELECT h.id, h.alert_id, h.action, h.at, h.details, to_jsonb(a) FROM alert_history h"
    " JOIN alerts a ON a.id = h.alert_id"
    " WHERE h.id > %s AND h.action IN ('created', 'escalated') ORDER BY h.id LIMIT %s")


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def alert_change(history_id: int, alert_id: int, action: str, at: datetime, details: Any,
                 alert: dict[str, Any]) -> AlertChange:
    """An AlertChange from a history row and its alert (as `to_jsonb(alerts)`: extra columns ignored)."""
    details = details if isinstance(details, dict) else {}
    techniques = tuple(str(t) for t in alert.get("techniques") or ())
    tactics = tuple(str(t) for t in alert.get("tactics") or ())
    tags = tuple(str(t) for t in alert.get("tags") or ()) or (
        tuple(f"attack.{t.lower()}" for t in techniques) + tuple(f"attack.{t.replace('-', '_')}" for t in tactics))
    previous = next((details[k] for k in ("from", "previous_severity", "old_severity", "previous")
                     if isinstance(details.get(k), str)), None)
    raw_entity = alert.get("entity")
    entity: dict[str, Any] = raw_entity if isinstance(raw_entity, dict) else {}
    return AlertChange(
        history_id=history_id, alert_id=alert_id, action=action, at=at,
        rule_id=str(alert.get("rule_id") or ""), rule_title=str(alert.get("rule_title") or alert.get("rule_id") or ""),
        severity=str(alert.get("severity") or "low"),
        entity={str(k): str(v) for k, v in entity.items() if v is not None},
        techniques=techniques, tactics=tactics, tags=tags, first_seen=_when(alert.get("first_seen")),
        last_seen=_when(alert.get("last_seen")), count=int(alert.get("count") or 1),
        event_total=int(alert.get("event_total") or 0),
        risk_score=int(alert["risk_score"]) if alert.get("risk_score") is not None else None,
        silenced=bool(alert.get("silenced")), previous_severity=previous if action == "escalated" else None)


# --- channels and routes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelRow:
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    has_secret: bool
    enabled: bool
    created: datetime
    updated: datetime
    secret: bytes | None = None


def _channel(row: Any) -> ChannelRow:
    return ChannelRow(int(row[0]), row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6], row[7],
                      bytes(row[8]) if row[8] is not None else None)


async def list_channels(pool: AsyncConnectionPool) -> list[ChannelRow]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, kind, config, secret IS NOT NULL, enabled, created, updated, secret FROM notify_channels ORDER BY id")
        return [_channel(r) for r in await cur.fetchall()]


async def get_channel(pool: AsyncConnectionPool, channel_id: int) -> ChannelRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, kind, config, secret IS NOT NULL, enabled, created, updated, secret FROM notify_channels WHERE id = %s", (channel_id,))
        row = await cur.fetchone()
    return _channel(row) if row else None


def channel_by_name_sync(dsn: str, name: str) -> ChannelRow | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT id, name, kind, config, secret IS NOT NULL, enabled, created, updated, secret FROM notify_channels WHERE name = %s OR id::text = %s",
                           (name, name)).fetchone()
    return _channel(row) if row else None


async def create_channel(pool: AsyncConnectionPool, name: str, kind: str, config: dict[str, Any],
                         secret: bytes | None, enabled: bool) -> ChannelRow | None:
    """The new channel, or None when the name is taken."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO notify_channels (name, kind, config, secret, enabled) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (name) DO NOTHING RETURNING id, name, kind, config, secret IS NOT NULL, enabled, created, updated, secret",
            (name, kind, Jsonb(config), secret, enabled))
        row = await cur.fetchone()
    return _channel(row) if row else None


def upsert_channel_sync(dsn: str, name: str, kind: str, config: dict[str, Any], secret: bytes | None) -> int:
    """Create or replace a channel by name (the demo's mailbox channel); its id."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO notify_channels (name, kind, config, secret) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config,"
            " secret = excluded.secret, enabled = true, updated = now() RETURNING id",
            (name, kind, Jsonb(config), secret)).fetchone()
    assert row is not None
    return int(row[0])


async def update_channel(pool: AsyncConnectionPool, channel_id: int, name: str, kind: str, config: dict[str, Any],
                         secret: bytes | None, keep_secret: bool, enabled: bool) -> ChannelRow | None:
    """Replace a channel; `keep_secret` keeps the stored secrets (none were given). None when absent."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE notify_channels SET name = %s, kind = %s, config = %s,"
            " secret = CASE WHEN %s THEN secret ELSE %s END, enabled = %s, updated = now()"
            " WHERE id = %s RETURNING id, name, kind, config, secret IS NOT NULL, enabled, created, updated, secret",
            (name, kind, Jsonb(config), keep_secret, secret, enabled, channel_id))
        row = await cur.fetchone()
    return _channel(row) if row else None


async def delete_channel(pool: AsyncConnectionPool, channel_id: int) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute("DELETE FROM notify_channels WHERE id = %s", (channel_id,))
        return cur.rowcount > 0


def _route(row: Any) -> Route:
    match = row[3] or {}
    return Route(int(row[0]), row[1], int(row[2]),
                 Match(tuple(match.get("severities") or ()), tuple(match.get("rules") or ()),
                       tuple(match.get("tags") or ()), dict(match.get("entity") or {})),
                 row[4], int(row[5]), bool(row[6]))


def match_json(match: Match) -> dict[str, Any]:
    return {"severities": list(match.severities), "rules": list(match.rules), "tags": list(match.tags),
            "entity": match.entity}


async def list_routes(pool: AsyncConnectionPool) -> list[Route]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, channel_id, match, mode, digest_minutes, enabled FROM notify_routes ORDER BY id")
        return [_route(r) for r in await cur.fetchall()]


async def save_route(pool: AsyncConnectionPool, route_id: int | None, name: str, channel_id: int, match: Match,
                     mode: str, digest_minutes: int, enabled: bool) -> Route | None:
    """Create (`route_id` None) or replace a route. None when absent; raises
    psycopg.errors.UniqueViolation / ForeignKeyViolation for a taken name / unknown channel."""
    async with pool.connection() as conn:
        values = (name, channel_id, Jsonb(match_json(match)), mode, digest_minutes, enabled)
        if route_id is None:
            cur = await conn.execute(
                "INSERT INTO notify_routes (name, channel_id, match, mode, digest_minutes, enabled)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, name, channel_id, match, mode, digest_minutes, enabled", values)
        else:
            cur = await conn.execute(
                "UPDATE notify_routes SET name = %s, channel_id = %s, match = %s, mode = %s, digest_minutes = %s,"
                " enabled = %s WHERE id = %s RETURNING id, name, channel_id, match, mode, digest_minutes, enabled", (*values, route_id))
        row = await cur.fetchone()
    return _route(row) if row else None


def ensure_route_sync(dsn: str, name: str, channel_id: int) -> None:
    """An immediate route taking every alert to `channel_id`, unless one of that name exists."""
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO notify_routes (name, channel_id, mode) VALUES (%s, %s, 'immediate')"
                     " ON CONFLICT (name) DO UPDATE SET channel_id = excluded.channel_id", (name, channel_id))


async def delete_route(pool: AsyncConnectionPool, route_id: int) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute("DELETE FROM notify_routes WHERE id = %s", (route_id,))
        return cur.rowcount > 0


# --- routing -------------------------------------------------------------------------------


async def _load_state(conn: psycopg.AsyncConnection[Any]) -> RoutingState:
    state = RoutingState()
    cur = await conn.execute("SELECT channel_id, window_start, sent FROM notify_throttle")
    for channel_id, start, sent in await cur.fetchall():
        state.throttles[int(channel_id)] = ThrottleWindow(int(channel_id), start, int(sent))
    cur = await conn.execute("SELECT key, channel_id, route_id, kind, window_start, window_end, total, by_severity,"
                             " sample FROM notify_pending FOR UPDATE")
    for key, channel_id, route_id, kind, start, end, total, by_severity, sample in await cur.fetchall():
        state.held[key] = Held(key, int(channel_id), route_id, kind, start, end, int(total), dict(by_severity),
                               list(sample))
    return state


async def _save_state(conn: psycopg.AsyncConnection[Any], state: RoutingState, now: datetime) -> None:
    async with conn.cursor() as cur:
        if state.outgoing:
            await cur.executemany(
                "INSERT INTO notify_outbox (channel_id, route_id, kind, payload, next_attempt)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(o.channel_id, o.route_id, o.kind, Jsonb(o.payload), now) for o in state.outgoing])
        if state.flushed:
            await cur.execute("DELETE FROM notify_pending WHERE key = ANY(%s)", (sorted(state.flushed),))
        if state.dirty:
            await cur.executemany(
                "INSERT INTO notify_pending (key, channel_id, route_id, kind, window_start, window_end, total,"
                " by_severity, sample) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET"
                " window_start = excluded.window_start, window_end = excluded.window_end, total = excluded.total,"
                " by_severity = excluded.by_severity, sample = excluded.sample",
                [(h.key, h.channel_id, h.route_id, h.kind, h.window_start, h.window_end, h.total,
                  Jsonb(h.by_severity), Jsonb(h.sample)) for h in (state.held[k] for k in sorted(state.dirty))])
        if state.throttles:
            await cur.executemany(
                "INSERT INTO notify_throttle (channel_id, window_start, sent) VALUES (%s, %s, %s)"
                " ON CONFLICT (channel_id) DO UPDATE SET window_start = excluded.window_start, sent = excluded.sent",
                [(w.channel_id, w.start, w.sent) for w in state.throttles.values()])


async def channels_and_routes(conn: psycopg.AsyncConnection[Any]) -> tuple[dict[int, int | None], list[Route]]:
    """The enabled channels with their own throttle limit (None: the default), and the routes."""
    cur = await conn.execute("SELECT id, (config->>'throttle_limit')::int FROM notify_channels WHERE enabled")
    enabled = {int(r[0]): (int(r[1]) if r[1] is not None else None) for r in await cur.fetchall()}
    cur = await conn.execute("SELECT id, name, channel_id, match, mode, digest_minutes, enabled FROM notify_routes ORDER BY id")
    return enabled, [_route(r) for r in await cur.fetchall()]


async def route_batch(pool: AsyncConnectionPool, now: datetime, limit: int,
                      route: Callable[[list[AlertChange], RoutingState, dict[int, int | None], list[Route]], None],
                      ) -> int:
    """One routing transaction: changes past the cursor (at most `limit`), routed by `route`,
    outbox rows (due at `now`) and held rows written, cursor advanced. Returns the number of
    changes read."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute("SELECT history_id FROM notify_cursor WHERE name = %s FOR UPDATE", (CURSOR,))
        row = await cur.fetchone()
        after = int(row[0]) if row else 0
        cur = await conn.execute(_CHANGES, (after, limit))
        rows = await cur.fetchall()
        changes = [alert_change(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5]) for r in rows]
        state = await _load_state(conn)
        enabled, routes = await channels_and_routes(conn)
        route(changes, state, enabled, routes)
        await _save_state(conn, state, now)
        if changes:
            await conn.execute(
                "INSERT INTO notify_cursor (name, history_id) VALUES (%s, %s) ON CONFLICT (name)"
                " DO UPDATE SET history_id = excluded.history_id, updated = now()", (CURSOR, changes[-1].history_id))
        return len(changes)


# --- the outbox ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel_id: int
    channel_name: str
    route_id: int | None
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt: datetime
    last_error: str | None
    created: datetime
    sent_at: datetime | None


async def due_outbox(pool: AsyncConnectionPool, now: datetime, limit: int) -> list[tuple[OutboxRow, ChannelRow]]:
    """Pending rows whose time has come, oldest first, with their (enabled) channel."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT o.id, o.channel_id, c.name, o.route_id, o.kind, o.payload, o.status, o.attempts, o.next_attempt, o.last_error, o.created, o.sent_at, "
            "c.id, c.name, c.kind, c.config, c.secret IS NOT NULL, c.enabled, c.created, c.updated, c.secret"
            " FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
            " WHERE o.status = 'pending' AND o.next_attempt <= %s AND c.enabled ORDER BY o.id LIMIT %s",
            (now, limit))
        return [(OutboxRow(*r[:12]), _channel(r[12:])) for r in await cur.fetchall()]


async def mark_sent(pool: AsyncConnectionPool, outbox_id: int, now: datetime) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE notify_outbox SET status = 'sent', attempts = attempts + 1, sent_at = %s,"
                           " last_error = NULL WHERE id = %s", (now, outbox_id))


async def mark_failed(pool: AsyncConnectionPool, outbox_id: int, error: str, retry_at: datetime | None) -> None:
    """A failed try: pending again at `retry_at`, or dead (`retry_at` None)."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = %s,"
            " status = CASE WHEN %s::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,"
            " next_attempt = coalesce(%s::timestamptz, next_attempt) WHERE id = %s",
            (error[:1000], retry_at, retry_at, outbox_id))


async def list_outbox(pool: AsyncConnectionPool, status: str | None, limit: int,
                      before: int | None = None) -> list[OutboxRow]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT o.id, o.channel_id, c.name, o.route_id, o.kind, o.payload, o.status, o.attempts, o.next_attempt, o.last_error, o.created, o.sent_at"
            " FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
            " WHERE (%(status)s::text IS NULL OR o.status = %(status)s)"
            " AND (%(before)s::bigint IS NULL OR o.id < %(before)s) ORDER BY o.id DESC LIMIT %(limit)s",
            {"status": status, "before": before, "limit": limit})
        return [OutboxRow(*r) for r in await cur.fetchall()]


async def forget_sent(pool: AsyncConnectionPool, before: datetime) -> int:
    """Delete messages sent before `before` (kept meanwhile for `GET /api/v1/notify/outbox`)."""
    async with pool.connection() as conn:
        cur = await conn.execute("DELETE FROM notify_outbox WHERE status = 'sent' AND sent_at < %s", (before,))
        return cur.rowcount


async def retry_dead(pool: AsyncConnectionPool, outbox_id: int) -> bool:
    """A dead message pending again (now, attempts reset)."""
    async with pool.connection() as conn:
        cur = await conn.execute("UPDATE notify_outbox SET status = 'pending', attempts = 0, next_attempt = now()"
                                 " WHERE id = %s AND status = 'dead'", (outbox_id,))
        return cur.rowcount > 0


async def outbox_counts(pool: AsyncConnectionPool, now: datetime) -> dict[str, Any]:
    """pending, dead, the oldest pending message's age (seconds), dead per channel."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*), min(created) FROM notify_outbox WHERE status = 'pending'")
        pending, oldest = await cur.fetchone() or (0, None)
        cur = await conn.execute(
            "SELECT c.name, count(*), max(o.last_error) FROM notify_outbox o JOIN notify_channels c"
            " ON c.id = o.channel_id WHERE o.status = 'dead' GROUP BY c.name ORDER BY c.name")
        dead = {str(name): {"dead": int(n), "last_error": err} for name, n, err in await cur.fetchall()}
    return {"pending": int(pending), "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else None,
            "dead": sum(d["dead"] for d in dead.values()), "dead_by_channel": dead}
