"""What the rules API reads from the database: stored events to replay a rule on (`rule_events`)
and the hits of each rule over recent days (`rule_hits`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import orjson
import psycopg

from guetteur.model import Event

PAGE = 2000


async def rule_events(conn: psycopg.AsyncConnection[Any], since: datetime, limit: int,
                      timeout_ms: int) -> AsyncGenerator[list[Event], None]:
    """Stored events with `@timestamp` from `since`, oldest first, at most `limit`, in pages
    (a server-side cursor, so memory holds one page). `event.original` is put back into the
    document (keyword rules read it). The query runs under `timeout_ms` of statement timeout."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(timeout_ms),))
        cur = conn.cursor(name="guetteur_api_rule_replay")
        try:
            await cur.execute("SELECT doc, original FROM events WHERE ts >= %s AND ts <= now()"
                              " ORDER BY ts, id LIMIT %s", (since, limit))
            while rows := await cur.fetchmany(PAGE):
                page: list[Event] = []
                for doc, original in rows:
                    event: Event = doc if isinstance(doc, dict) else orjson.loads(doc)
                    if original is not None:
                        section = event.get("event")
                        if not isinstance(section, dict):
                            section = event["event"] = {}
                        section.setdefault("original", original)
                    page.append(event)
                yield page
        finally:
            await cur.close()


async def rule_hits(pool: Any, rule_id: str | None = None) -> dict[str, tuple[int, int]]:
    """Hits stored per rule over the last 24 hours and 7 days: rule id -> (24 h, 7 d). Only hits
    that raise alerts are stored (a rule that only feeds correlations stores none)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT rule_id, count(*) FILTER (WHERE created >= now() - interval '24 hours'), count(*)"
            " FROM hits WHERE created >= now() - interval '7 days' AND (%s::text IS NULL OR rule_id = %s)"
            " GROUP BY rule_id", (rule_id, rule_id))
        return {str(r[0]): (int(r[1]), int(r[2])) for r in await cur.fetchall()}
