"""Detection storage in PostgreSQL: correlation window snapshots, hits, and event replay.

The SQL of the detect area (tables from `store/migrations/0100_detect.sql`), every
statement parameterised. Sync functions take a `psycopg.Connection`, the `a`-prefixed ones an
`psycopg.AsyncConnection`; none commits unless the connection is in autocommit mode — the
caller owns the transaction.

Snapshots are written periodically and on clean shutdown (`save_snapshot`), and read once on
start (`restore_engine`). A snapshot that no longer fits the loaded rules restores only the
rules whose fingerprint is unchanged; a corrupt one is logged and ignored (the engine starts
empty rather than not at all).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from guetteur import ecs
from guetteur.detect.correlation import SNAPSHOT_VERSION, CorrelationEngine, parse_timestamp
from guetteur.detect.hits import Hit
from guetteur.model import Event

log = logging.getLogger(__name__)

DEFAULT_ENGINE = "main"

_UPSERT = (
    "INSERT INTO correlation_state (engine, version, saved_at, rules, groups, data)"
    " VALUES (%s, %s, now(), %s, %s, %s)"
    " ON CONFLICT (engine) DO UPDATE SET version = excluded.version, saved_at = excluded.saved_at,"
    " rules = excluded.rules, groups = excluded.groups, data = excluded.data"
)
_SELECT = "SELECT version, data FROM correlation_state WHERE engine = %s"


def _snapshot_params(engine: CorrelationEngine, name: str) -> tuple[Any, ...]:
    stats = engine.stats()
    rules_with_state = sum(1 for spec in engine.specs if engine.rule_stats(spec.rule_id)["groups"])
    return (name, SNAPSHOT_VERSION, rules_with_state, stats["groups"], engine.snapshot())


def save_snapshot(
    conn: psycopg.Connection[Any], engine: CorrelationEngine, name: str = DEFAULT_ENGINE
) -> None:
    """Store the engine's windows under `name` (replacing the previous snapshot)."""
    conn.execute(_UPSERT, _snapshot_params(engine, name))


def load_snapshot(conn: psycopg.Connection[Any], name: str = DEFAULT_ENGINE) -> bytes | None:
    row = conn.execute(_SELECT, (name,)).fetchone()
    if row is None or row[0] != SNAPSHOT_VERSION:
        return None
    return bytes(row[1])


def restore_engine(
    conn: psycopg.Connection[Any], engine: CorrelationEngine, name: str = DEFAULT_ENGINE
) -> int:
    """Restore the saved windows into `engine`; returns groups restored (0 when none/corrupt)."""
    return _restore(engine, load_snapshot(conn, name), name)


async def asave_snapshot(
    conn: psycopg.AsyncConnection[Any], engine: CorrelationEngine, name: str = DEFAULT_ENGINE
) -> None:
    await conn.execute(_UPSERT, _snapshot_params(engine, name))


async def aload_snapshot(conn: psycopg.AsyncConnection[Any], name: str = DEFAULT_ENGINE) -> bytes | None:
    cursor = await conn.execute(_SELECT, (name,))
    row = await cursor.fetchone()
    if row is None or row[0] != SNAPSHOT_VERSION:
        return None
    return bytes(row[1])


async def arestore_engine(
    conn: psycopg.AsyncConnection[Any], engine: CorrelationEngine, name: str = DEFAULT_ENGINE
) -> int:
    return _restore(engine, await aload_snapshot(conn, name), name)


def _restore(engine: CorrelationEngine, data: bytes | None, name: str) -> int:
    if data is None:
        return 0
    try:
        count = engine.restore(data)
    except ValueError as exc:
        log.error("correlation snapshot %r ignored: %s", name, exc)
        return 0
    log.info("correlation windows restored: %d groups from snapshot %r", count, name)
    return count


# ---------------------------------------------------------------------- hits

_COPY_HITS = (
    "COPY hits (rule_id, rule_title, level, tags, event_ids, event_times, group_key, correlation, extra)"
    " FROM STDIN"
)
_NOTIFY_HITS = "SELECT pg_notify('guetteur_hits', '')"  # guetteur.store.alerts.HITS_CHANNEL


def hit_entity(hit: Hit) -> dict[str, str]:
    """The alert entity of a single-event hit: the event's host, user and source address
    (a correlation's entity is its `group_key`)."""
    if hit.event is None:
        return {}
    found = {"host.name": hit.host, "user.name": ecs.get(hit.event, "user.name"),
             "source.ip": ecs.get(hit.event, "source.ip")}
    return {name: str(value) for name, value in found.items() if value is not None and value != ""}


def _hit_row(hit: Hit) -> tuple[Any, ...]:
    times = []
    for text in hit.event_times:
        parsed = parse_timestamp(text) if isinstance(text, str) else None
        try:
            times.append(datetime.fromtimestamp(parsed, UTC) if parsed is not None else None)
        except (ValueError, OverflowError, OSError):  # outside years 1-9999 in UTC: not a usable time
            times.append(None)
    extra = orjson.loads(orjson.dumps(hit.extra, default=str)) if hit.extra else None
    if hit.group_key is None:
        entity = hit_entity(hit)
        if entity:
            extra = {**(extra or {}), "entity": entity}
    return (
        hit.rule_id,
        hit.rule_title,
        hit.level,
        list(hit.tags),
        [None if e is None else str(e) for e in hit.event_ids],
        times,
        Jsonb(hit.group_key) if hit.group_key is not None else None,
        hit.correlation,
        Jsonb(extra) if extra is not None else None,
    )


def insert_hits(conn: psycopg.Connection[Any], hits: Iterable[Hit]) -> int:
    """Append hits with one COPY and wake the alert manager (NOTIFY `guetteur_hits`, delivered
    at commit); returns the row count."""
    count = 0
    with conn.cursor() as cur:
        with cur.copy(_COPY_HITS) as copy:
            for hit in hits:
                copy.write_row(_hit_row(hit))
                count += 1
        if count:
            cur.execute(_NOTIFY_HITS)
    return count


async def ainsert_hits(conn: psycopg.AsyncConnection[Any], hits: Iterable[Hit]) -> int:
    count = 0
    async with conn.cursor() as cur:
        async with cur.copy(_COPY_HITS) as copy:
            for hit in hits:
                await copy.write_row(_hit_row(hit))
                count += 1
        if count:
            await cur.execute(_NOTIFY_HITS)
    return count


# ---------------------------------------------------------------------- replay


def stored_events(
    conn: psycopg.Connection[Any], since: datetime, until: datetime | None = None, limit: int | None = None
) -> Iterator[Event]:
    """Stored events with `@timestamp` in [since, until), oldest first, streamed (server cursor).

    `event.original` is put back into the document (it is stored apart) so keyword rules see it.
    """
    until = until or datetime.now(UTC)
    query = "SELECT doc, original FROM events WHERE ts >= %s AND ts < %s ORDER BY ts, id"
    params: tuple[Any, ...] = (since, until)
    if limit is not None:
        query += " LIMIT %s"
        params = (since, until, limit)
    # a server-side cursor lives in a transaction (a savepoint when one is already open)
    with conn.transaction(), conn.cursor(name="guetteur_rules_replay") as cur:
        cur.itersize = 2000
        cur.execute(query, params)
        for doc, original in cur:
            event: Event = doc if isinstance(doc, dict) else orjson.loads(doc)
            if original is not None:
                section = event.get("event")
                if not isinstance(section, dict):
                    section = {}
                    event["event"] = section
                section.setdefault("original", original)
            yield event
