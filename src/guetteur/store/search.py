"""Searches on stored events with a compiled KQL condition (`guetteur.search.compile`).

Every read runs in its own transaction with `statement_timeout` set (`SearchLimits`), so one
huge query cannot hold a connection or the disk for long; a query PostgreSQL refuses for its
content (a regular expression too complex...) is a `QueryError`, never a server error.
Pages are newest first (or oldest first) on (ts, id), continued by an opaque cursor.
"""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from guetteur.errors import QueryError
from guetteur.model import Event
from guetteur.search.compile import Compiled
from guetteur.search.evaluate import elements as field_elements
from guetteur.search.fields import FieldSpec
from guetteur.store import rollup as rollups
from guetteur.store.encoding import pg_micros
from guetteur.store.events import row_to_event

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SELECT = sql.SQL("SELECT ts, id, ingested, doc::text, original FROM events WHERE ")
# Per search transaction: its time limit, and no JIT compilation. The planner asks for JIT on any
# scan of a large range (its cost estimate passes jit_above_cost); compiling the long expressions
# of a KQL condition took ~4.9 s of a 9.5 s free-text count at 5M events on the loaded 2-core
# machine (EXPLAIN ANALYZE), for far less than that saved in execution (docs/search.md).
_SETTINGS = "SELECT set_config('statement_timeout', %s, true), set_config('jit', 'off', true)"
# Events a free-text page tests in time order before reading the message texts (`search`): at
# the benchmark's 5M events over 24 h, ~100-200 ms of reading, which finds a page of 100 for a
# query matching one event in 1 000.
TEXT_FIRST_ROWS = 100_000
# When those hold some matches but less than a page, the rows a page needs at that rate (twice
# over) are tested in order again if they are at most this many (~1 s), before `event_text`.
TEXT_WIDER_ROWS = 1_000_000
# Candidates (`event_text` rows) a count or histogram of a query mixing free text and other
# fields tests on `events` by key at most (`_candidates`); beyond, it reads the window of
# `events`. A probe by key costs ~10 us: 100 000 of them ~1 s, against 6-8 s to read 5M events.
CANDIDATES_MAX = 100_000
# Nice bucket widths for histograms, smallest first.
BUCKETS = tuple(timedelta(seconds=s) for s in (
    1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400,
))


class SearchTimeout(QueryError):
    """The search ran past `statement_timeout`."""


@dataclass(frozen=True, slots=True)
class SearchLimits:
    statement_timeout_ms: int = 10_000


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime


def encode_cursor(ts: datetime, event_id: uuid.UUID) -> str:
    raw = f"{pg_micros(ts)}.{event_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        micros, hex_id = raw.split(".")
        return _PG_EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id)
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise QueryError("invalid cursor") from exc


def _where(compiled: Compiled, window: TimeRange) -> tuple[sql.Composed, list[Any]]:
    return (
        sql.Composed([sql.SQL("ts >= %s AND ts < %s AND "), compiled.where]),
        [window.start, window.end, *compiled.params],
    )


@contextmanager
def _refusals(limits: SearchLimits) -> Iterator[None]:
    """A search cancelled by `statement_timeout` or refused by PostgreSQL, as the caller's error."""
    try:
        yield
    except psycopg.errors.QueryCanceled:
        raise SearchTimeout(f"the search ran longer than {limits.statement_timeout_ms} ms; "
                            "narrow the time range or the query") from None
    except (psycopg.DataError, psycopg.errors.ProgramLimitExceeded) as exc:
        raise QueryError(f"the database refused this search: {exc.diag.message_primary or exc}") from None


async def _rows(pool: AsyncConnectionPool, query: sql.SQL | sql.Composed, params: list[Any],
                limits: SearchLimits) -> list[tuple[Any, ...]]:
    with _refusals(limits):
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(_SETTINGS, (str(limits.statement_timeout_ms),))
            cur = await conn.execute(query, params)
            return await cur.fetchall()


async def search(pool: AsyncConnectionPool, compiled: Compiled, window: TimeRange, *, limit: int,
                 after: str | None = None, newest_first: bool = True, limits: SearchLimits = SearchLimits(),
                 use_text: bool = True) -> tuple[list[Event], str | None]:
    """Matching events in the window, at most `limit`, and the cursor of the next page.

    A query answered by the message texts (`compiled.text`) first tests the `TEXT_FIRST_ROWS`
    newest (oldest) events of the window in order, which finds a page at once when the words are
    frequent (and, when those hold some matches, as many more as a page needs at that rate, up
    to `TEXT_WIDER_ROWS`); when that gives less than a page, the page comes from the texts
    (`event_text`: one scan of the window's short rows, whatever the words' frequency) and its
    events are read by key. Without it a rare word made the planner either walk the whole window in time order or
    read it all and sort (8-14 s at 5M events on the loaded machine). `use_text`: False reads
    `events` only, for tests and the benchmark."""
    order = sql.SQL(" ORDER BY ts DESC, id DESC" if newest_first else " ORDER BY ts, id")
    keyset: tuple[sql.Composable, list[Any]] = (sql.SQL(""), [])
    if after is not None:
        ts, event_id = decode_cursor(after)
        keyset = (sql.SQL(" AND (ts, id) < (%s, %s)" if newest_first else " AND (ts, id) > (%s, %s)"), [ts, event_id])
    if use_text and compiled.text is not None:
        first = sql.Composed([
            sql.SQL("SELECT ts, id, ingested, doc::text, original FROM (SELECT * FROM events"
                    " WHERE ts >= %s AND ts < %s"), keyset[0], order, sql.SQL(" LIMIT %s) AS recent WHERE "),
            compiled.where, order, sql.SQL(" LIMIT %s")])

        async def newest(count: int) -> list[tuple[Any, ...]]:
            return await _rows(pool, first, [window.start, window.end, *keyset[1], count, *compiled.params,
                                             limit + 1], limits)

        rows = await newest(TEXT_FIRST_ROWS)
        if 0 < len(rows) <= limit:  # some: twice the rows a page needs at that rate, when not too many
            wider = 2 * TEXT_FIRST_ROWS * (limit + 1) // len(rows)
            if wider <= TEXT_WIDER_ROWS:
                rows = await newest(wider)
        if len(rows) <= limit:
            matched, matched_params = _matched_keys(compiled, window)
            query = sql.Composed([
                sql.SQL("WITH page AS MATERIALIZED (SELECT ts, id, ingested FROM ("), matched,
                sql.SQL(") AS matched WHERE true"), keyset[0], order, sql.SQL(" LIMIT %s)"
                " SELECT e.ts, e.id, e.ingested, e.doc::text, e.original FROM page"
                " JOIN events e ON e.ingested = page.ingested AND e.ts = page.ts AND e.id = page.id"),
                sql.SQL(" ORDER BY e.ts DESC, e.id DESC" if newest_first else " ORDER BY e.ts, e.id")])
            rows = await _rows(pool, query, [*matched_params, *keyset[1], limit + 1], limits)
    else:
        where, params = _where(compiled, window)
        query = sql.Composed([_SELECT, where, keyset[0], order, sql.SQL(" LIMIT %s")])
        rows = await _rows(pool, query, [*params, *keyset[1], limit + 1], limits)
    page = rows[:limit]
    events = [row_to_event(r[2], r[3], r[4]) for r in page]
    cursor = encode_cursor(page[-1][0], page[-1][1]) if len(rows) > limit else None
    return events, cursor


async def _rollup_rows(pool: AsyncConnectionPool, compiled: Compiled, window: TimeRange, limits: SearchLimits,
                       build: Any) -> list[tuple[Any, ...]] | None:
    """Rows of `build(cut)` (a query over the per-minute counts, the window's edges and the
    batches not yet counted) in one REPEATABLE READ snapshot, or None when the counts cannot
    answer this query (guetteur.store.rollup)."""
    if compiled.rollup is None:
        return None
    with _refusals(limits):
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            await conn.execute(_SETTINGS, (str(limits.statement_timeout_ms),))
            cut = await rollups.split(conn, window.start, window.end)
            if cut is None:
                return None
            query, params = build(cut)
            cur = await conn.execute(query, params)
            return await cur.fetchall()


def _matched_keys(compiled: Compiled, window: TimeRange) -> tuple[sql.Composed, list[Any]]:
    """`SELECT ts, id, ingested` of the matching events of the window read from `event_text`
    (migration 0790), for a query that has its condition there (`compiled.text`): the rows whose message is a
    string, tested on their lower-cased text, and the few whose message is something else
    (NULL there), tested on `events`. Events without a message cannot match (the compiler's
    condition for `text`), and have no row there."""
    assert compiled.text is not None
    text, text_params = compiled.text
    query = sql.Composed([
        sql.SQL("SELECT ts, id, ingested FROM event_text WHERE ts >= %s AND ts < %s AND m IS NOT NULL AND "), text,
        sql.SQL(" UNION ALL SELECT ts, id, ingested FROM events WHERE ts >= %s AND ts < %s AND (ts, id) IN"
                " (SELECT ts, id FROM event_text WHERE ts >= %s AND ts < %s AND m IS NULL) AND "), compiled.where,
    ])
    span = [window.start, window.end]
    return query, [*span, *text_params, *span, *span, *compiled.params]


def _candidates(compiled: Compiled, window: TimeRange) -> tuple[sql.Composed, sql.Composed, list[Any], list[Any]]:
    """For a query with `compiled.text_filter`: the CTE `candidates` (at most `CANDIDATES_MAX` + 1
    `event_text` rows of the window meeting the filter, or whose message is not a string) and
    `FROM ... WHERE ...` joining each candidate to its event (by key, through the partition of
    its `ingested`) where `where` holds, empty when the candidates are too many; with their
    parameters."""
    assert compiled.text_filter is not None
    text_filter, filter_params = compiled.text_filter
    cte = sql.Composed([
        sql.SQL("WITH candidates AS MATERIALIZED (SELECT ingested, ts, id FROM event_text"
                " WHERE ts >= %s AND ts < %s AND (m IS NULL OR "), text_filter, sql.SQL(") LIMIT %s) "),
    ])
    joined = sql.Composed([
        sql.SQL(" FROM candidates AS c CROSS JOIN LATERAL (SELECT ts FROM events WHERE ingested = c.ingested"
                " AND ts = c.ts AND id = c.id AND "), compiled.where,
        sql.SQL(" LIMIT 1) AS e WHERE (SELECT count(*) FROM candidates) <= %s"),
    ])
    return (cte, joined, [window.start, window.end, *filter_params, CANDIDATES_MAX + 1],
            [*compiled.params, CANDIDATES_MAX])


async def has_word_index(pool: AsyncConnectionPool, limits: SearchLimits = SearchLimits()) -> bool:
    """Whether the optional word index on `message` exists (migration 0600, docs/search.md)."""
    rows = await _rows(pool, sql.SQL("SELECT to_regclass('events_message_words') IS NOT NULL"), [], limits)
    return bool(rows[0][0])


async def count(pool: AsyncConnectionPool, compiled: Compiled, window: TimeRange, *,
                limits: SearchLimits = SearchLimits(), use_rollup: bool = True, use_text: bool = True) -> int:
    """Matching events in the window; from the per-minute counts or the message texts when the
    query allows it (`use_rollup`, `use_text`: False reads `events`, for tests and the benchmark):
    a query on `message` alone from `event_text`, one that also tests other fields from the
    events of its candidates there when they are at most `CANDIDATES_MAX`."""
    if use_rollup and compiled.rollup is not None:
        rollup = compiled.rollup
        found = await _rollup_rows(pool, compiled, window, limits, lambda cut: rollups.count_query(
            compiled.where, compiled.params, rollup, window.start, window.end, cut))
        if found is not None:
            return int(found[0][0])
    if use_text and compiled.text is not None:
        matched, params = _matched_keys(compiled, window)
        query = sql.Composed([sql.SQL("SELECT count(*) FROM ("), matched, sql.SQL(") AS matched")])
        return int((await _rows(pool, query, params, limits))[0][0])
    if use_text and compiled.text_filter is not None:
        cte, joined, cte_params, joined_params = _candidates(compiled, window)
        query = sql.Composed([cte, sql.SQL("SELECT (SELECT count(*) FROM candidates), (SELECT count(*)"), joined,
                              sql.SQL(")")])
        tested, matching = (await _rows(pool, query, [*cte_params, *joined_params], limits))[0]
        if tested <= CANDIDATES_MAX:
            return int(matching)
    where, params = _where(compiled, window)
    rows = await _rows(pool, sql.Composed([sql.SQL("SELECT count(*) FROM events WHERE "), where]), params, limits)
    return int(rows[0][0])


def bucket_width(window: TimeRange, buckets: int) -> timedelta:
    """The smallest nice width giving at most `buckets` buckets over the window."""
    span = window.end - window.start
    for width in BUCKETS:
        if span / width <= buckets:
            return width
    return BUCKETS[-1]


async def histogram(pool: AsyncConnectionPool, compiled: Compiled, window: TimeRange, *, buckets: int = 60,
                    limits: SearchLimits = SearchLimits(), use_rollup: bool = True,
                    use_text: bool = True) -> tuple[timedelta, list[tuple[datetime, int]]]:
    """Counts per bucket (every bucket of the window, empty ones included) and the width; from
    the per-minute counts when the query and the width (whole minutes) allow it, or from the
    message texts (as `count`)."""
    width = bucket_width(window, buckets)
    rows: list[tuple[Any, ...]] | None = None
    if use_rollup and compiled.rollup is not None and width % rollups.MINUTE == timedelta(0):
        rollup = compiled.rollup
        rows = await _rollup_rows(pool, compiled, window, limits, lambda cut: rollups.histogram_query(
            compiled.where, compiled.params, rollup, window.start, window.end, width, cut))
    if rows is None and use_text and compiled.text is not None:
        matched, params = _matched_keys(compiled, window)
        query = sql.Composed([sql.SQL("SELECT date_bin(%s, ts, %s) AS b, count(*) FROM ("), matched,
                              sql.SQL(") AS matched GROUP BY b ORDER BY b")])
        rows = await _rows(pool, query, [width, _PG_EPOCH, *params], limits)
    if rows is None and use_text and compiled.text_filter is not None:
        cte, joined, cte_params, joined_params = _candidates(compiled, window)
        query = sql.Composed([cte, sql.SQL("SELECT NULL::timestamptz, (SELECT count(*) FROM candidates)"
                                           " UNION ALL (SELECT date_bin(%s, e.ts, %s) AS b, count(*)"), joined,
                              sql.SQL(" GROUP BY b)")])
        found = await _rows(pool, query, [*cte_params, width, _PG_EPOCH, *joined_params], limits)
        total = next(r[1] for r in found if r[0] is None)
        rows = [r for r in found if r[0] is not None] if total <= CANDIDATES_MAX else None
    if rows is None:
        where, params = _where(compiled, window)
        query = sql.Composed([
            sql.SQL("SELECT date_bin(%s, ts, %s) AS b, count(*) FROM events WHERE "), where,
            sql.SQL(" GROUP BY b ORDER BY b"),
        ])
        rows = await _rows(pool, query, [width, _PG_EPOCH, *params], limits)
    counts = {r[0]: int(r[1]) for r in rows}
    first = _PG_EPOCH + ((window.start - _PG_EPOCH) // width) * width
    out: list[tuple[datetime, int]] = []
    moment = first
    while moment < window.end and len(out) <= buckets * 2:
        out.append((moment, counts.get(moment, 0)))
        moment += width
    return width, out


async def top_values(pool: AsyncConnectionPool, compiled: Compiled, window: TimeRange, target: FieldSpec, *,
                     size: int = 10, sample: int = 500,
                     limits: SearchLimits = SearchLimits()) -> tuple[int, list[tuple[Any, int]]]:
    """The most frequent values of a field among the `sample` most recent matching events:
    (events sampled, [(value, events holding it)])."""
    where, params = _where(compiled, window)
    query = sql.Composed([sql.SQL("SELECT doc::text FROM events WHERE "), where,
                          sql.SQL(" ORDER BY ts DESC LIMIT %s")])
    rows = await _rows(pool, query, [*params, sample], limits)
    counter: Counter[Any] = Counter()
    for (text,) in rows:
        doc = orjson.loads(text)
        seen = {orjson.dumps(v) for v in field_elements(doc, target) if not isinstance(v, dict | list)}
        counter.update(seen)
    return len(rows), [(orjson.loads(v), n) for v, n in counter.most_common(size)]


def _leaves(doc: Any, prefix: str, out: dict[str, str], depth: int = 0) -> None:
    if not isinstance(doc, dict) or depth > 16:
        return
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _leaves(value, name + ".", out, depth + 1)
        elif value is not None and value != []:
            sample = value[0] if isinstance(value, list) else value
            out[name] = ("boolean" if isinstance(sample, bool) else "number" if isinstance(sample, int | float)
                         else "string" if isinstance(sample, str) else "object")


async def field_stats(pool: AsyncConnectionPool, window: TimeRange, *, sample: int = 500,
                      limits: SearchLimits = SearchLimits()) -> tuple[int, list[tuple[str, str, int]]]:
    """Fields of the `sample` most recent events of the window: (events sampled,
    [(field, JSON type, events holding it)]), most frequent first."""
    query = sql.SQL("SELECT doc::text FROM events WHERE ts >= %s AND ts < %s ORDER BY ts DESC LIMIT %s")
    rows = await _rows(pool, query, [window.start, window.end, sample], limits)
    counts: Counter[str] = Counter()
    types: dict[str, str] = {}
    for (text,) in rows:
        leaves: dict[str, str] = {}
        _leaves(orjson.loads(text), "", leaves)
        counts.update(leaves.keys())
        types.update(leaves)
    return len(rows), [(name, types[name], n) for name, n in counts.most_common()]


async def export_rows(pool: AsyncConnectionPool, compiled: Compiled, window: TimeRange, *, max_rows: int,
                      chunk: int = 1000, limits: SearchLimits = SearchLimits()) -> AsyncIterator[Event]:
    """Every matching event of the window, newest first, at most `max_rows`, read a page at a time."""
    sent = 0
    cursor: str | None = None
    while sent < max_rows:
        events, cursor = await search(pool, compiled, window, limit=min(chunk, max_rows - sent), after=cursor,
                                      limits=limits)
        for event in events:
            yield event
        sent += len(events)
        if cursor is None:
            return


async def surrounding(pool: AsyncConnectionPool, event_id: str, size: int, *,
                      limits: SearchLimits = SearchLimits()) -> tuple[list[Event], Event, list[Event]] | None:
    """The event with this id and up to `size` events of the same host before and after it
    (by @timestamp, within a day), oldest first; None when there is no such event."""
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return None
    found = await _rows(pool, sql.SQL("SELECT ts, host, ingested, doc::text, original FROM events WHERE id = %s"
                                      " ORDER BY ingested LIMIT 1"), [parsed], limits)
    if not found:
        return None
    ts, host = found[0][0], found[0][1]
    event = row_to_event(found[0][2], found[0][3], found[0][4])
    base = [host, ts - timedelta(days=1), ts + timedelta(days=1), ts, parsed, size]
    before = await _rows(pool, sql.SQL(
        "SELECT ts, id, ingested, doc::text, original FROM events WHERE host IS NOT DISTINCT FROM %s"
        " AND ts >= %s AND ts < %s AND (ts, id) < (%s, %s) ORDER BY ts DESC, id DESC LIMIT %s"), base, limits)
    after = await _rows(pool, sql.SQL(
        "SELECT ts, id, ingested, doc::text, original FROM events WHERE host IS NOT DISTINCT FROM %s"
        " AND ts >= %s AND ts < %s AND (ts, id) > (%s, %s) ORDER BY ts, id LIMIT %s"), base, limits)
    return ([row_to_event(r[2], r[3], r[4]) for r in reversed(before)], event,
            [row_to_event(r[2], r[3], r[4]) for r in after])


@dataclass(frozen=True, slots=True)
class SavedSearch:
    id: int
    name: str
    query: str
    time_range: str | None
    created_at: datetime
    updated_at: datetime


async def saved_searches(pool: AsyncConnectionPool, owner: str) -> list[SavedSearch]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, query, time_range, created_at, updated_at FROM saved_searches"
                                 " WHERE owner = %s ORDER BY name", (owner,))
        return [SavedSearch(*r) for r in await cur.fetchall()]


async def save_search(pool: AsyncConnectionPool, owner: str, name: str, query: str,
                      time_range: str | None) -> SavedSearch:
    """Creates or replaces the owner's saved search of that name."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO saved_searches (owner, name, query, time_range) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query, time_range = excluded.time_range,"
            " updated_at = now() RETURNING id, name, query, time_range, created_at, updated_at",
            (owner, name, query, time_range))
        row = await cur.fetchone()
    assert row is not None
    return SavedSearch(*row)


async def delete_saved_search(pool: AsyncConnectionPool, owner: str, search_id: int) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute("DELETE FROM saved_searches WHERE owner = %s AND id = %s", (owner, search_id))
        return cur.rowcount > 0
