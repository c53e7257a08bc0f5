"""Silences in PostgreSQL (`silences` of migration 0700): create, list, read, edit, expire.
An expired silence stays (its `ends_at` is in the past), so what was muted remains explainable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool


@dataclass(slots=True)
class SilenceRow:
    id: int
    created: datetime
    updated: datetime
    author: str
    reason: str
    matchers: list[dict[str, str]]
    starts_at: datetime
    ends_at: datetime
    expired_by: str | None
    alerts: int  # alerts it silenced


_SELECT = ("SELECT s.id, s.created, s.updated, s.author, s.reason, s.matchers, s.starts_at, s.ends_at, s.expired_by,"
           " (SELECT count(*) FROM alerts a WHERE a.silence_id = s.id) FROM silences s")


def _row(r: Sequence[Any]) -> SilenceRow:
    return SilenceRow(int(r[0]), r[1], r[2], r[3], r[4], list(r[5]), r[6], r[7], r[8], int(r[9]))


async def create_silence(conn: AsyncConnection[Any], author: str, reason: str, matchers: list[dict[str, str]],
                         starts_at: datetime, ends_at: datetime) -> int:
    """Insert a silence (in the caller's transaction); returns its id."""
    cur = await conn.execute(
        "INSERT INTO silences (author, reason, matchers, starts_at, ends_at) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (author, reason, Jsonb(matchers), starts_at, ends_at))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def get_silence(pool: AsyncConnectionPool, silence_id: int) -> SilenceRow | None:
    async with pool.connection() as conn:
        row = await (await conn.execute(_SELECT + " WHERE s.id = %s", (silence_id,))).fetchone()
    return _row(row) if row else None


async def list_silences(pool: AsyncConnectionPool, *, active_at: datetime | None, limit: int,
                        before: int | None = None) -> list[SilenceRow]:
    """Silences newest first (only those active at `active_at` when given), ids below `before`."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            _SELECT + " WHERE (%(at)s::timestamptz IS NULL OR (s.starts_at <= %(at)s AND s.ends_at > %(at)s))"
            " AND (%(before)s::bigint IS NULL OR s.id < %(before)s) ORDER BY s.id DESC LIMIT %(limit)s",
            {"at": active_at, "before": before, "limit": limit})
        return [_row(r) for r in await cur.fetchall()]


async def update_silence(pool: AsyncConnectionPool, silence_id: int, *, reason: str | None,
                         matchers: list[dict[str, str]] | None, starts_at: datetime | None,
                         ends_at: datetime | None, expired_by: str | None = None) -> SilenceRow | None:
    """Change what is given (None keeps it); None when no such silence. The window is checked by
    the table (`ends_at > starts_at`)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE silences SET reason = coalesce(%s, reason), matchers = coalesce(%s, matchers),"
            " starts_at = coalesce(%s, starts_at), ends_at = coalesce(%s, ends_at),"
            " expired_by = coalesce(%s, expired_by), updated = now() WHERE id = %s RETURNING id",
            (reason, Jsonb(matchers) if matchers is not None else None, starts_at, ends_at, expired_by, silence_id))
        if await cur.fetchone() is None:
            return None
    return await get_silence(pool, silence_id)
