"""Reading events back: filtered, newest first, keyset-paginated (async, through the pool).

The filters are exact matches compiled by the KQL compiler (`search.filters`), as the search
bar's queries are. To serve "newest first" cheaply, also where only the BRIN indexes on `ts` and
`ingested` exist, `query_events` searches backwards in growing time
windows (1 h, 1 day, 7 days, 30 days, then everything older) and stops as soon as the page is
full, so a page of recent events reads only recent block ranges.

The order is (ts, id, batch_id) descending; the cursor is an opaque string holding the last row's
key, so every row is returned exactly once across pages even when rows share a timestamp (or,
for a replayed event, an id). Returned events are the stored ECS documents with `event.original`
put back and `event.ingested` set to the storage time.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from guetteur.ecs import iso_utc
from guetteur.errors import QueryError, StoreInconsistent
from guetteur.model import Event
from guetteur.search.filters import compile_filters
from guetteur.store.encoding import pg_micros
from guetteur.store.failures import one_row
from guetteur.store.ids import id_millis

MAX_LIMIT = 10_000
_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30))
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SELECT = sql.SQL("SELECT ts, id, batch_id, ingested, doc::text, original FROM events WHERE ")
_ORDER = sql.SQL(" ORDER BY ts DESC, id DESC, batch_id DESC LIMIT %s")


def _encode_cursor(ts: datetime, event_id: uuid.UUID, batch_id: int) -> str:
    raw = f"{pg_micros(ts)}.{event_id.hex}.{batch_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        micros, hex_id, batch = raw.split(".")
        ts = _PG_EPOCH + timedelta(microseconds=int(micros))
        return ts, uuid.UUID(hex=hex_id), int(batch)
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise QueryError("invalid cursor") from exc


def row_to_event(ingested: datetime, doc_text: str, original: str | None) -> Event:
    """A stored row back to its ECS document."""
    event = orjson.loads(doc_text)
    meta = event.get("event")
    if not isinstance(meta, dict):
        meta = {}
        event["event"] = meta
    if original is not None:
        meta["original"] = original
    meta["ingested"] = iso_utc(ingested)
    return dict(event)


async def query_events(pool: AsyncConnectionPool, *, start: datetime | None, end: datetime | None,
                       filters: dict[str, str], limit: int, after: str | None) -> tuple[list[Event], str | None]:
    """Events with `start <= @timestamp < end` matching every filter (`search.filters`: exact
    matches compiled by the KQL compiler; IP filters take an address or a CIDR network), newest
    first, at most `limit`.
    Returns the events and the cursor of the next page (None on the last page).
    Raises QueryError (a ValueError) for an unknown filter, a bad filter value, a bad cursor or limit."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    compiled = compile_filters(filters)
    clauses: list[sql.Composable] = [compiled.where]
    params: list[Any] = list(compiled.params)
    if start is not None:
        clauses.append(sql.SQL("ts >= %s"))
        params.append(start)
    if end is not None:
        clauses.append(sql.SQL("ts < %s"))
        params.append(end)
    anchor: datetime | None = end
    if after is not None:
        cursor_ts, cursor_id, cursor_batch = _decode_cursor(after)
        clauses.append(sql.SQL("(ts, id, batch_id) < (%s, %s, %s)"))
        params.extend([cursor_ts, cursor_id, cursor_batch])
        anchor = cursor_ts if anchor is None else min(anchor, cursor_ts)
    rows: list[tuple[Any, ...]] = []
    async with pool.connection() as conn:
        if anchor is None:
            now_row = await (await conn.execute("SELECT now()")).fetchone()
            anchor = one_row(now_row, "now()")[0]
        if anchor is None:
            raise StoreInconsistent("now() returned NULL")
        upper: datetime | None = None  # None: unbounded (events dated in the future come first)
        if end is not None or after is not None:
            upper = anchor + timedelta(microseconds=1)
        for width in (*_WINDOWS, None):
            try:
                lower = None if width is None else anchor - width
            except OverflowError:
                lower = None
            if start is not None and lower is not None and lower <= start:
                lower = None  # the `start` clause bounds this last window
            window = list(clauses)
            window_params = list(params)
            if lower is not None:
                window.append(sql.SQL("ts >= %s"))
                window_params.append(lower)
            if upper is not None:
                window.append(sql.SQL("ts < %s"))
                window_params.append(upper)
            where = sql.SQL(" AND ").join(window) if window else sql.SQL("true")
            query = sql.Composed([_SELECT, where, _ORDER])
            window_params.append(limit + 1 - len(rows))
            cur = await conn.execute(query, window_params)
            rows.extend(await cur.fetchall())
            if len(rows) > limit or lower is None:
                break
            upper = lower
    page = rows[:limit]
    events = [row_to_event(r[3], r[4], r[5]) for r in page]
    next_cursor = _encode_cursor(page[-1][0], page[-1][1], page[-1][2]) if len(rows) > limit else None
    return events, next_cursor


async def count_events(pool: AsyncConnectionPool) -> int:
    """Number of stored events (from the batch records: no table scan)."""
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT coalesce(sum(row_count), 0) FROM batches")).fetchone()
    return int(row[0]) if row else 0


async def get_event(pool: AsyncConnectionPool, event_id: str) -> Event | None:
    """The stored event with this `event.id` (a UUIDv7 from `guetteur.store.ids`), or None.

    The id's own time bounds the search: an event is stored after its id is made, so only
    partitions from a day before that time on are read."""
    try:
        parsed = uuid.UUID(event_id)
    except (ValueError, AttributeError, TypeError):
        return None
    try:
        since = datetime.fromtimestamp(id_millis(parsed.bytes) / 1000, UTC) - timedelta(days=1)
    except (ValueError, OverflowError, OSError):
        since = _PG_EPOCH
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT ingested, doc::text, original FROM events WHERE id = %s AND ingested >= %s"
            " ORDER BY ingested LIMIT 1",
            (parsed, since),
        )
        row = await cur.fetchone()
    return row_to_event(row[0], row[1], row[2]) if row else None
