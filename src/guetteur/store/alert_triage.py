"""Analysts' changes to alerts: status, assignee, comments, silencing one alert. Each change and
its `alert_history` row (the person's name as actor) are written in one transaction, under the
alert's row lock (the alert manager takes the same lock while it groups hits into the alert)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from guetteur.alert.lifecycle import StatusChange, change_status
from guetteur.errors import AlertInputError

MAX_COMMENT = 10_000

_LOCK = "SELECT status, close_reason, assignee, silenced FROM alerts WHERE id = %s FOR UPDATE"
_HISTORY = "INSERT INTO alert_history (alert_id, actor, action, details) VALUES (%s, %s, %s, %s)"


class AlertNotFound(LookupError):
    """No alert has this id."""


async def _lock(conn: AsyncConnection[Any], alert_id: int) -> tuple[Any, ...]:
    row = await (await conn.execute(_LOCK, (alert_id,))).fetchone()
    if row is None:
        raise AlertNotFound(alert_id)
    return tuple(row)


async def set_status(pool: AsyncConnectionPool, alert_id: int, actor: str, status: str,
                     close_reason: str | None = None) -> StatusChange:
    """Acknowledge, close (with a reason) or reopen; `AlertInputError` when the status does not allow it."""
    async with pool.connection() as conn, conn.transaction():
        current = await _lock(conn, alert_id)
        change = change_status(current[0], status, close_reason)
        await conn.execute("UPDATE alerts SET status = %s, close_reason = %s, updated = now() WHERE id = %s",
                           (change.status, change.close_reason, alert_id))
        details: dict[str, Any] = {"from": current[0], "to": change.status}
        if change.close_reason:
            details["reason"] = change.close_reason
        await conn.execute(_HISTORY, (alert_id, actor, change.action, Jsonb(details)))
    return change


async def set_assignee(pool: AsyncConnectionPool, alert_id: int, actor: str, user_id: int | None,
                       user_name: str | None) -> None:
    """Give the alert to a user (None: to nobody)."""
    async with pool.connection() as conn, conn.transaction():
        await _lock(conn, alert_id)
        await conn.execute("UPDATE alerts SET assignee = %s, updated = now() WHERE id = %s", (user_id, alert_id))
        await conn.execute(_HISTORY, (alert_id, actor, "assigned", Jsonb({"assignee": user_name})))


async def add_comment(pool: AsyncConnectionPool, alert_id: int, actor: str, text: str) -> int:
    """A comment (kept in the alert's history); returns its history id."""
    text = text.strip()
    if not text or len(text) > MAX_COMMENT:
        raise AlertInputError(f"a comment is 1 to {MAX_COMMENT} characters")
    async with pool.connection() as conn, conn.transaction():
        await _lock(conn, alert_id)
        await conn.execute("UPDATE alerts SET updated = now() WHERE id = %s", (alert_id,))
        cur = await conn.execute(_HISTORY + " RETURNING id", (alert_id, actor, "commented", Jsonb({"text": text})))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def mark_silenced(conn: AsyncConnection[Any], alert_id: int, actor: str, silence_id: int) -> None:
    """Silence this alert now (in the caller's transaction, with the silence's creation)."""
    await _lock(conn, alert_id)
    await conn.execute("UPDATE alerts SET silenced = true, silence_id = %s, updated = now() WHERE id = %s",
                       (silence_id, alert_id))
    await conn.execute(_HISTORY, (alert_id, actor, "silenced", Jsonb({"silence_id": silence_id})))
