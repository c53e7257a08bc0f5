"""Reading alerts for the API and the CLI: the filtered list (keyset pages), one alert with its
history, its events, its entity's timeline and risk contributions, and per-rule statistics.
Every statement is parameterised; filters are NULL when unused."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from guetteur.model import Event
from guetteur.store.events import row_to_event
from guetteur.store.ids import id_millis, parse_event_id

TIMELINE_AROUND = timedelta(hours=1)
TIMELINE_LIMIT = 100
HISTORY_LIMIT = 1000
EVENTS_LIMIT = 100


@dataclass(slots=True)
class AlertRow:
    id: int
    rule_id: str
    rule_title: str
    severity: str
    status: str
    entity: dict[str, str]
    tags: list[str]
    techniques: list[str]
    tactics: list[str]
    first_seen: datetime
    last_seen: datetime
    count: int
    event_ids: list[str]
    event_total: int
    risk_score: int
    silenced: bool
    silence_id: int | None
    assignee: str | None
    close_reason: str | None
    created: datetime
    updated: datetime


@dataclass(slots=True)
class HistoryRow:
    id: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(slots=True)
class AlertFilters:
    """Every filter is optional; `technique` matches its sub-techniques too (T1110 -> T1110.001)."""

    status: list[str] | None = None
    severity: list[str] | None = None
    rule_id: str | None = None
    technique: str | None = None
    tactic: str | None = None
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    assignee: str | None = None
    silenced: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


_LIST = (
    "SELECT a.id, a.rule_id, a.rule_title, a.severity, a.status, a.entity, a.tags, a.techniques, a.tactics,"
    " a.first_seen, a.last_seen, a.count, a.event_ids, a.event_total, a.risk_score, a.silenced, a.silence_id,"
    " u.name, a.close_reason, a.created, a.updated FROM alerts a LEFT JOIN users u ON u.id = a.assignee"
    " WHERE (%(status)s::text[] IS NULL OR a.status = ANY(%(status)s))"
    " AND (%(severity)s::text[] IS NULL OR a.severity = ANY(%(severity)s))"
    " AND (%(rule_id)s::text IS NULL OR a.rule_id = %(rule_id)s)"
    " AND (%(technique)s::text IS NULL OR a.techniques && ARRAY[%(technique)s::text]"
    "      OR EXISTS (SELECT 1 FROM unnest(a.techniques) t WHERE starts_with(t, %(technique)s || '.')))"
    " AND (%(tactic)s::text IS NULL OR %(tactic)s = ANY(a.tactics))"
    " AND (%(entity)s::jsonb IS NULL OR a.entity @> %(entity)s)"
    " AND (%(assignee)s::text IS NULL OR u.name = %(assignee)s)"
    " AND (%(silenced)s::boolean IS NULL OR a.silenced = %(silenced)s)"
    " AND (%(since)s::timestamptz IS NULL OR a.last_seen >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR a.first_seen < %(until)s)"
    " AND (%(after_seen)s::timestamptz IS NULL OR (a.last_seen, a.id) < (%(after_seen)s, %(after_id)s))"
    " ORDER BY a.last_seen DESC, a.id DESC LIMIT %(limit)s")
_ONE = (
    "SELECT a.id, a.rule_id, a.rule_title, a.severity, a.status, a.entity, a.tags, a.techniques, a.tactics,"
    " a.first_seen, a.last_seen, a.count, a.event_ids, a.event_total, a.risk_score, a.silenced, a.silence_id,"
    " u.name, a.close_reason, a.created, a.updated FROM alerts a LEFT JOIN users u ON u.id = a.assignee"
    " WHERE a.id = %s")


def alert_row(row: Sequence[Any]) -> AlertRow:
    return AlertRow(int(row[0]), row[1], row[2], row[3], row[4], dict(row[5] or {}), list(row[6] or ()),
                    list(row[7] or ()), list(row[8] or ()), row[9], row[10], int(row[11]), list(row[12] or ()),
                    int(row[13]), int(row[14]), bool(row[15]), row[16], row[17], row[18], row[19], row[20])


async def list_alerts(pool: AsyncConnectionPool, filters: AlertFilters, *, limit: int,
                      after: tuple[datetime, int] | None = None) -> list[AlertRow]:
    """Alerts matching `filters`, most recent activity first, at most `limit`, after the keyset
    `after` = (last_seen, id) of the previous page's last alert."""
    entity = {k: v for k, v in (("host.name", filters.host), ("user.name", filters.user),
                                ("source.ip", filters.source_ip)) if v is not None}
    params = {
        "status": filters.status, "severity": filters.severity, "rule_id": filters.rule_id,
        "technique": filters.technique, "tactic": filters.tactic, "entity": Jsonb(entity) if entity else None,
        "assignee": filters.assignee, "silenced": filters.silenced, "since": filters.since, "until": filters.until,
        "after_seen": after[0] if after else None, "after_id": after[1] if after else None, "limit": limit,
    }
    async with pool.connection() as conn:
        cur = await conn.execute(_LIST, params)
        return [alert_row(r) for r in await cur.fetchall()]


async def get_alert(pool: AsyncConnectionPool, alert_id: int) -> AlertRow | None:
    async with pool.connection() as conn:
        row = await (await conn.execute(_ONE, (alert_id,))).fetchone()
    return alert_row(row) if row else None


async def alert_history(pool: AsyncConnectionPool, alert_id: int) -> list[HistoryRow]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, at, actor, action, details FROM alert_history WHERE alert_id = %s"
                                 " ORDER BY id LIMIT %s", (alert_id, HISTORY_LIMIT))
        return [HistoryRow(int(r[0]), r[1], r[2], r[3], dict(r[4] or {})) for r in await cur.fetchall()]


async def alert_events(pool: AsyncConnectionPool, event_ids: Sequence[str]) -> list[Event]:
    """The stored events of these ids (event ids are UUIDv7: their time bounds the partitions read)."""
    raw = [r for r in (parse_event_id(e) for e in event_ids[:EVENTS_LIMIT]) if r is not None]
    if not raw:
        return []
    millis = [id_millis(r) for r in raw]
    low = datetime.fromtimestamp(min(millis) / 1000 - 3600, UTC)
    high = datetime.fromtimestamp(max(millis) / 1000 + 3600, UTC)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT ts, ingested, doc::text, original FROM events WHERE id = ANY(%s::uuid[])"
            " AND ingested >= %s AND ingested <= %s ORDER BY ts, id LIMIT %s",
            ([uuid.UUID(bytes=r) for r in raw], low, high, EVENTS_LIMIT))
        return [row_to_event(r[1], r[2], r[3]) for r in await cur.fetchall()]


async def entity_timeline(pool: AsyncConnectionPool, alert: AlertRow) -> list[Event]:
    """Events of the alert's host, user or source address from an hour before its first event to
    an hour after its last, newest first (at most TIMELINE_LIMIT)."""
    host, user, address = (alert.entity.get(k) for k in ("host.name", "user.name", "source.ip"))
    if host is None and user is None and address is None:
        return []
    start, end = alert.first_seen - TIMELINE_AROUND, alert.last_seen + TIMELINE_AROUND
    async with pool.connection() as conn:
        try:
            cur = await conn.execute(
                "SELECT ts, ingested, doc::text, original FROM events WHERE ts >= %(start)s AND ts <= %(end)s"
                " AND ingested >= %(ingested)s AND (host = %(host)s OR user_name = %(user)s"
                " OR source_ip = %(address)s::inet) ORDER BY ts DESC, id DESC LIMIT %(limit)s",
                {"start": start, "end": end, "ingested": start - timedelta(days=1), "host": host, "user": user,
                 "address": address, "limit": TIMELINE_LIMIT})
        except psycopg.errors.InvalidTextRepresentation:  # a source.ip that is not an address
            return []
        return [row_to_event(r[1], r[2], r[3]) for r in await cur.fetchall()]


async def risk_contributions(pool: AsyncConnectionPool, alert_id: int) -> list[dict[str, Any]]:
    """The risk contributions recorded for this alert (`risk_contributions`, when risk scoring's
    migration is there; none otherwise)."""
    async with pool.connection() as conn:
        present = await (await conn.execute("SELECT to_regclass('risk_contributions') IS NOT NULL")).fetchone()
        if not present or not present[0]:
            return []
        cur = await conn.execute(
            "SELECT to_jsonb(c) FROM risk_contributions c WHERE c.alert_id = %s ORDER BY c.at LIMIT 500",
            (alert_id,))
        return [dict(r[0]) for r in await cur.fetchall()]


@dataclass(slots=True)
class RuleStatistics:
    rule_id: str
    rule_title: str
    alerts: int
    open: int
    acknowledged: int
    closed: int
    silenced: int
    reasons: dict[str, int]

    @property
    def false_positive_ratio(self) -> float | None:
        """False positives among the alerts closed with a reason (None before any is closed)."""
        return None if not self.closed else self.reasons.get("false_positive", 0) / self.closed


async def rule_statistics(pool: AsyncConnectionPool, days: int = 30,
                          rule_id: str | None = None) -> list[RuleStatistics]:
    """Per rule, over the alerts created in the last `days` days: counts by status and by
    close reason (the false-positive ratio comes from these)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT rule_id, max(rule_title), count(*), count(*) FILTER (WHERE status = 'open'),"
            " count(*) FILTER (WHERE status = 'acknowledged'), count(*) FILTER (WHERE status = 'closed'),"
            " count(*) FILTER (WHERE silenced),"
            " coalesce(jsonb_object_agg(close_reason, n) FILTER (WHERE close_reason IS NOT NULL), '{}')"
            " FROM (SELECT rule_id, rule_title, status, silenced, close_reason,"
            "       count(*) OVER (PARTITION BY rule_id, close_reason) AS n FROM alerts"
            "       WHERE created >= now() - make_interval(days => %s)"
            "       AND (%s::text IS NULL OR rule_id = %s)) AS x"
            " GROUP BY rule_id ORDER BY count(*) DESC, rule_id",
            (days, rule_id, rule_id))
        return [RuleStatistics(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]),
                               {str(k): int(v) for k, v in dict(r[7]).items()}) for r in await cur.fetchall()]


_CHANGES = (
    "SELECT h.id, h.at, h.actor, h.action, h.details, a.id, a.rule_id, a.rule_title, a.severity, a.status, a.entity,"
    " a.techniques, a.tactics, a.first_seen, a.last_seen, a.count, a.event_total, a.risk_score, a.silenced,"
    " a.close_reason FROM alert_history h JOIN alerts a ON a.id = h.alert_id"
    " WHERE h.id > %s OR h.id = ANY(%s) ORDER BY h.id LIMIT %s")


async def last_alert_change(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT coalesce(max(id), 0) FROM alert_history")).fetchone()
    return int(row[0]) if row else 0


async def alert_changes(conn: psycopg.AsyncConnection[Any], after: int, among: Sequence[int],
                        limit: int) -> list[dict[str, Any]]:
    """History rows with id above `after` (or among `among`), each with its alert as it is now,
    in id order: what the live stream pushes."""
    cur = await conn.execute(_CHANGES, (after, list(among), limit))
    keys = ("rule_id", "rule_title", "severity", "status", "entity", "techniques", "tactics", "first_seen",
            "last_seen", "count", "event_total", "risk_score", "silenced", "close_reason")
    return [{"change": int(r[0]), "at": r[1], "actor": r[2], "action": r[3], "details": r[4],
             "alert": {"id": int(r[5]), **dict(zip(keys, r[6:], strict=True))}} for r in await cur.fetchall()]
