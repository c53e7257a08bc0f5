"""The alert manager's SQL (tables of `migrations/0700_alerts.sql`), every statement parameterised.

The manager runs one transaction per round: `lock_cursor` (row lock: one manager at a time,
even if two processes were started on one database), `unlinked_hits`, `open_alerts` (row locks:
an analyst's change of the same alert waits for the round, or the round for it),
`write_changes` (alerts, their system history rows, the hit links, NOTIFY), `save_cursor`.
Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from guetteur.alert.grouping import AlertChange
from guetteur.alert.model import AlertRecord, StoredHit
from guetteur.alert.silences import Silence, silence_from_row

CHANNEL = "guetteur_alerts"  # NOTIFY payload: the alert id (created or escalated)
HITS_CHANNEL = "guetteur_hits"  # NOTIFY from the hit writers: new hits to read
MAX_NOTIFIES = 100  # per round; listeners also poll, so a storm costs no flood of notifications

_UNLINKED_ABOVE = (
    "SELECT h.id, h.created, h.rule_id, h.rule_title, h.level, h.tags, h.event_ids, h.event_times, h.group_key,"
    " h.correlation, h.extra FROM hits h WHERE h.id > %s"
    " AND NOT EXISTS (SELECT 1 FROM alert_hits l WHERE l.hit_id = h.id) ORDER BY h.id LIMIT %s")
_UNLINKED_AMONG = (
    "SELECT h.id, h.created, h.rule_id, h.rule_title, h.level, h.tags, h.event_ids, h.event_times, h.group_key,"
    " h.correlation, h.extra FROM hits h WHERE h.id = ANY(%s)"
    " AND NOT EXISTS (SELECT 1 FROM alert_hits l WHERE l.hit_id = h.id) ORDER BY h.id")
_OPEN = (
    "SELECT a.id, a.rule_id, a.rule_title, a.severity, a.status, a.entity, a.entity_key, a.tags, a.techniques,"
    " a.tactics, a.first_seen, a.last_seen, a.count, a.event_ids, a.event_total, a.risk_score, a.silenced,"
    " a.silence_id FROM unnest(%s::text[], %s::text[]) AS k(rule_id, entity_key)"
    " CROSS JOIN LATERAL (SELECT * FROM alerts x WHERE x.rule_id = k.rule_id AND x.entity_key = k.entity_key"
    " AND x.status <> 'closed' ORDER BY x.last_seen DESC, x.id DESC LIMIT 1 FOR UPDATE) AS a")
_INSERT_ALERT = (
    "INSERT INTO alerts (rule_id, rule_title, severity, status, entity, entity_key, tags, techniques, tactics,"
    " first_seen, last_seen, count, event_ids, event_total, risk_score, silenced, silence_id)"
    " VALUES (%s, %s, %s, 'open', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id")
_UPDATE_ALERT = (
    "UPDATE alerts SET severity = %s, first_seen = %s, last_seen = %s, count = %s, event_ids = %s,"
    " event_total = %s, risk_score = %s, techniques = %s, tactics = %s, silenced = %s, silence_id = %s,"
    " updated = now() WHERE id = %s")
_HISTORY = "INSERT INTO alert_history (alert_id, actor, action, details) VALUES (%s, 'system', %s, %s)"


def stored_hit(row: Sequence[Any]) -> StoredHit:
    return StoredHit(int(row[0]), row[1], row[2], row[3], row[4], list(row[5] or ()), list(row[6] or ()),
                     list(row[7] or ()), row[8] if isinstance(row[8], dict) else None, row[9],
                     row[10] if isinstance(row[10], dict) else None)


def alert_record(row: Sequence[Any]) -> AlertRecord:
    return AlertRecord(
        id=int(row[0]), rule_id=row[1], rule_title=row[2], severity=row[3], status=row[4],
        entity={str(k): str(v) for k, v in (row[5] or {}).items()}, entity_key=row[6], tags=list(row[7] or ()),
        techniques=list(row[8] or ()), tactics=list(row[9] or ()), first_seen=row[10], last_seen=row[11],
        count=int(row[12]), event_ids=list(row[13] or ()), event_total=int(row[14]), risk_score=int(row[15]),
        silenced=bool(row[16]), silence_id=row[17])


async def lock_cursor(conn: AsyncConnection[Any], name: str) -> int:
    """The cursor of manager `name`, row-locked until the transaction ends (0 at first)."""
    await conn.execute("INSERT INTO alert_cursor (name, hit_id) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING",
                       (name,))
    row = await (await conn.execute("SELECT hit_id FROM alert_cursor WHERE name = %s FOR UPDATE", (name,))).fetchone()
    return int(row[0]) if row else 0


async def save_cursor(conn: AsyncConnection[Any], name: str, hit_id: int) -> None:
    await conn.execute("UPDATE alert_cursor SET hit_id = %s, updated = now() WHERE name = %s", (hit_id, name))


async def unlinked_hits(conn: AsyncConnection[Any], above: int, among: Sequence[int], limit: int) -> list[StoredHit]:
    """Hits not yet in an alert: those of ids `among` (gaps seen earlier), then those above
    `above`, in id order, at most `limit` of the latter."""
    found: list[StoredHit] = []
    if among:
        found.extend(stored_hit(r) for r in await (await conn.execute(_UNLINKED_AMONG, (list(among),))).fetchall())
    found.extend(stored_hit(r) for r in await (await conn.execute(_UNLINKED_ABOVE, (above, limit))).fetchall())
    return found


async def open_alerts(conn: AsyncConnection[Any], keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], AlertRecord]:
    """The newest not-closed alert of each (rule id, entity key), row-locked."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    cur = await conn.execute(_OPEN, ([p[0] for p in pairs], [p[1] for p in pairs]))
    out: dict[tuple[str, str], AlertRecord] = {}
    for row in await cur.fetchall():
        record = alert_record(row)
        out[record.key] = record
    return out


async def silences_since(conn: AsyncConnection[Any], since: datetime) -> list[Silence]:
    """Silences still active at or after event time `since`, oldest first."""
    cur = await conn.execute("SELECT id, matchers, starts_at, ends_at FROM silences WHERE ends_at > %s ORDER BY id",
                             (since,))
    found = (silence_from_row(int(r[0]), r[1], r[2], r[3]) for r in await cur.fetchall())
    return [s for s in found if s is not None]


def _history_rows(change: AlertChange, alert_id: int) -> list[tuple[Any, ...]]:
    alert = change.alert
    rows: list[tuple[Any, ...]] = []
    if change.created:
        rows.append((alert_id, "created", Jsonb({"severity": alert.severity, "count": alert.count,
                                                 "silenced": alert.silenced, "risk_score": alert.risk_score})))
    elif change.escalated:
        rows.append((alert_id, "escalated", Jsonb({"from": change.severity_before, "to": alert.severity,
                                                   "count": alert.count})))
    else:
        rows.append((alert_id, "updated", Jsonb({"count": alert.count, "added": alert.count - change.count_before,
                                                 "last_seen": alert.last_seen.isoformat()})))
    if change.newly_silenced:
        rows.append((alert_id, "silenced", Jsonb({"silence_id": alert.silence_id})))
    return rows


async def write_changes(conn: AsyncConnection[Any], changes: Sequence[AlertChange]) -> list[int]:
    """Store the round's changes: alerts, their history, the hit links, and a NOTIFY per
    created or escalated alert (bounded). Returns the ids of the alerts it created or escalated."""
    created = [c for c in changes if c.created]
    updated = [c for c in changes if not c.created]
    if created:
        async with conn.cursor() as cur:
            await cur.executemany(_INSERT_ALERT, [_insert_params(c.alert) for c in created], returning=True)
            for position, change in enumerate(created):
                if position:
                    cur.nextset()
                row = await cur.fetchone()
                assert row is not None
                change.alert.id = int(row[0])
    if updated:
        async with conn.cursor() as cur:
            await cur.executemany(_UPDATE_ALERT, [_update_params(c.alert) for c in updated])
    history = [row for c in changes for row in _history_rows(c, _id(c))]
    async with conn.cursor() as cur:
        await cur.executemany(_HISTORY, history)
        async with cur.copy("COPY alert_hits (hit_id, alert_id, event_time) FROM STDIN") as copy:
            for change in changes:
                for hit_id, at in change.links:
                    await copy.write_row((hit_id, _id(change), at))
    loud = [_id(c) for c in changes if c.created or c.escalated]
    for alert_id in loud[:MAX_NOTIFIES]:
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(alert_id)))
    return loud


def _id(change: AlertChange) -> int:
    assert change.alert.id is not None
    return change.alert.id


def _insert_params(a: AlertRecord) -> tuple[Any, ...]:
    return (a.rule_id, a.rule_title, a.severity, Jsonb(a.entity), a.entity_key, a.tags, a.techniques, a.tactics,
            a.first_seen, a.last_seen, a.count, a.event_ids, a.event_total, a.risk_score, a.silenced, a.silence_id)


def _update_params(a: AlertRecord) -> tuple[Any, ...]:
    return (a.severity, a.first_seen, a.last_seen, a.count, a.event_ids, a.event_total, a.risk_score,
            a.techniques, a.tactics, a.silenced, a.silence_id, a.id)

