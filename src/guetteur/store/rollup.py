"""Per-minute event counts (`event_rollup`, migration 0780): kept up to date off the writers'
path, and read by counts and histograms of compatible queries.

`roll_up` adds the rows of the next committed batches (chain order, after the cursor) to the
counts and moves the cursor, in one transaction. A reader takes, in one snapshot, the cursor,
the counts of whole minutes inside its window and, from `events`, the partial minutes at the
window's edges and the rows of batches past the cursor: the sum is exactly what a count over
`events` gives (tests/search/test_rollup.py). Parameterised statements only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

MINUTE = timedelta(minutes=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Past this many stored rows not yet counted (the task stopped or fell behind), a reader reads
# `events` directly: reading them by batch would cost more than the plain scan.
MAX_PENDING_ROWS = 200_000
MAX_PENDING_BATCHES = 5_000  # their ids travel as one array parameter

_NEXT = "SELECT batch_id, seq FROM batches WHERE seq > %s ORDER BY seq LIMIT %s"
# `irregular`: a NULL column while the document holds something at that field.
_ADD = """
INSERT INTO event_rollup AS r (minute, day, host, outcome, source_type, irregular, events)
SELECT date_bin('1 minute', ts, %s), (ingested AT TIME ZONE 'UTC')::date, host, outcome, source_type,
       (host IS NULL AND doc #> '{host,name}' IS NOT NULL)
       OR (outcome IS NULL AND doc #> '{event,outcome}' IS NOT NULL)
       OR (source_type IS NULL AND doc #> '{event,dataset}' IS NOT NULL),
       count(*)
FROM events WHERE batch_id = ANY(%s)
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT ON CONSTRAINT event_rollup_key DO UPDATE SET events = r.events + excluded.events
"""


def roll_up(conn: psycopg.Connection[Any], max_batches: int = 200) -> int:
    """Count the next committed batches (at most `max_batches`); returns how many."""
    with conn.transaction():
        row = conn.execute("SELECT seq FROM event_rollup_cursor FOR UPDATE").fetchone()
        if row is None:
            return 0
        batches = conn.execute(_NEXT, (row[0], max_batches)).fetchall()
        if not batches:
            return 0
        conn.execute(_ADD, (EPOCH, [b[0] for b in batches]))
        conn.execute("UPDATE event_rollup_cursor SET seq = %s, updated_at = now()", (batches[-1][1],))
    return len(batches)


async def aroll_up(conn: psycopg.AsyncConnection[Any], max_batches: int = 200) -> int:
    """`roll_up` on an async connection."""
    async with conn.transaction():
        cur = await conn.execute("SELECT seq FROM event_rollup_cursor FOR UPDATE")
        row = await cur.fetchone()
        if row is None:
            return 0
        cur = await conn.execute(_NEXT, (row[0], max_batches))
        batches = await cur.fetchall()
        if not batches:
            return 0
        await conn.execute(_ADD, (EPOCH, [b[0] for b in batches]))
        await conn.execute("UPDATE event_rollup_cursor SET seq = %s, updated_at = now()", (batches[-1][1],))
    return len(batches)


@dataclass(frozen=True, slots=True)
class Split:
    """A window cut for a rollup read: whole minutes [inner_start, inner_end) from the counts,
    the edges and the batches past the cursor (`pending`) from `events`."""

    inner_start: datetime
    inner_end: datetime
    pending: list[int]


def _ceil(moment: datetime) -> datetime:
    floor = _floor(moment)
    return floor if floor == moment else floor + MINUTE


def _floor(moment: datetime) -> datetime:
    return EPOCH + ((moment - EPOCH) // MINUTE) * MINUTE


async def split(conn: psycopg.AsyncConnection[Any], start: datetime, end: datetime) -> Split | None:
    """How to answer [start, end) from the counts, in the caller's snapshot; None when the
    counts cannot serve (no whole minute, counts far behind, or irregular rows in the window)."""
    inner_start, inner_end = _ceil(start), _floor(end)
    if inner_start >= inner_end:
        return None
    cur = await conn.execute(
        "SELECT coalesce(sum(b.row_count), 0), coalesce(array_agg(b.batch_id), '{}') FROM ("
        " SELECT batch_id, row_count FROM batches WHERE seq > (SELECT seq FROM event_rollup_cursor)"
        " ORDER BY seq LIMIT %s) AS b", (MAX_PENDING_BATCHES + 1,))
    row = await cur.fetchone()
    if row is None or int(row[0]) > MAX_PENDING_ROWS or len(row[1]) > MAX_PENDING_BATCHES:
        return None
    cur = await conn.execute("SELECT EXISTS (SELECT FROM event_rollup WHERE minute >= %s AND minute < %s"
                             " AND irregular)", (inner_start, inner_end))
    irregular = await cur.fetchone()
    if irregular is None or irregular[0]:
        return None
    return Split(inner_start, inner_end, list(row[1]))


def count_query(where: sql.Composable, params: list[Any], rollup: tuple[sql.Composable, list[Any]],
                start: datetime, end: datetime, cut: Split) -> tuple[sql.Composed, list[Any]]:
    """One statement: the counts of the inner minutes + the raw edges + the pending batches."""
    query = sql.Composed([
        sql.SQL("SELECT (SELECT coalesce(sum(events), 0) FROM event_rollup WHERE minute >= %s AND minute < %s AND "),
        rollup[0],
        sql.SQL(") + (SELECT count(*) FROM events WHERE ((ts >= %s AND ts < %s) OR (ts >= %s AND ts < %s)) AND "),
        where,
        sql.SQL(") + (SELECT count(*) FROM events WHERE batch_id = ANY(%s) AND ts >= %s AND ts < %s AND "),
        where, sql.SQL(")"),
    ])
    return query, [cut.inner_start, cut.inner_end, *rollup[1],
                   start, cut.inner_start, cut.inner_end, end, *params,
                   cut.pending, cut.inner_start, cut.inner_end, *params]


def histogram_query(where: sql.Composable, params: list[Any], rollup: tuple[sql.Composable, list[Any]],
                    start: datetime, end: datetime, width: timedelta, cut: Split) -> tuple[sql.Composed, list[Any]]:
    """Counts per bucket of `width` (a whole number of minutes, buckets aligned on EPOCH)."""
    query = sql.Composed([
        sql.SQL("SELECT b, sum(n) FROM ("
                "SELECT date_bin(%s, minute, %s) AS b, sum(events) AS n FROM event_rollup"
                " WHERE minute >= %s AND minute < %s AND "), rollup[0],
        sql.SQL(" GROUP BY 1 UNION ALL SELECT date_bin(%s, ts, %s), count(*) FROM events"
                " WHERE ((ts >= %s AND ts < %s) OR (ts >= %s AND ts < %s)) AND "), where,
        sql.SQL(" GROUP BY 1 UNION ALL SELECT date_bin(%s, ts, %s), count(*) FROM events"
                " WHERE batch_id = ANY(%s) AND ts >= %s AND ts < %s AND "), where,
        sql.SQL(" GROUP BY 1) AS parts GROUP BY b"),
    ])
    return query, [width, EPOCH, cut.inner_start, cut.inner_end, *rollup[1],
                   width, EPOCH, start, cut.inner_start, cut.inner_end, end, *params,
                   width, EPOCH, cut.pending, cut.inner_start, cut.inner_end, *params]
