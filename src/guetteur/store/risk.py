"""The risk scorer's and the risk API's SQL (tables of `migrations/0720_risk.sql`), parameterised.

The scorer runs one transaction per round: `lock_cursor` (one scorer at a time), `alert_floor`
(the alert manager's cursor: every hit at or below it that will ever have an alert link has it),
`unscored_hits`, then `insert_scores`, the window reads and `save_entity_state` for the entities
it touched, and `save_cursor`. Nothing here commits: the caller owns the transaction.

Entity windows (`window_contributions`, `top_entities`) leave out contributions whose alert is
silenced or was closed as a false or benign positive: what an analyst dismissed adds no risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

# Close reasons that take an alert's hits out of entity risk.
DISMISSED = ["false_positive", "benign_positive"]
MAX_VALUE = 512



@dataclass(frozen=True, slots=True)
class AlertHit:
    """One hit the alert manager linked to an alert, with what scoring needs."""

    hit_id: int
    alert_id: int
    at: datetime  # event time (the link's), else when the hit was stored
    rule_id: str
    rule_title: str
    level: str
    extra: dict[str, Any] | None
    event_ids: list[str | None]
    entity: dict[str, str]
    tactics: list[str]


@dataclass(frozen=True, slots=True)
class Contribution:
    """One hit's part in one entity's risk."""

    hit_id: int
    alert_id: int
    at: datetime
    score: int
    rule_id: str
    rule_title: str
    tactics: list[str]
    event_id: str | None = None  # the hit's (last) event

    def to_dict(self) -> dict[str, Any]:
        return {"hit_id": self.hit_id, "alert_id": self.alert_id, "at": self.at.isoformat(), "score": self.score,
                "rule_id": self.rule_id, "rule_title": self.rule_title, "tactics": list(self.tactics),
                "event_id": self.event_id}


@dataclass(frozen=True, slots=True)
class EntityState:
    """When an entity last raised each kind of risk alert (event time)."""

    score_alert_at: datetime | None = None
    score_alerted: float | None = None
    tactics_alert_at: datetime | None = None
    tactics_alerted: tuple[str, ...] = ()


# ------------------------------------------------------------------ the scorer's round


async def lock_cursor(conn: AsyncConnection[Any], name: str) -> int:
    """The cursor of scorer `name`, row-locked until the transaction ends (0 at first)."""
    await conn.execute("INSERT INTO risk_cursor (name, hit_id) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING", (name,))
    row = await (await conn.execute("SELECT hit_id FROM risk_cursor WHERE name = %s FOR UPDATE", (name,))).fetchone()
    return int(row[0]) if row else 0


async def save_cursor(conn: AsyncConnection[Any], name: str, hit_id: int) -> None:
    await conn.execute("UPDATE risk_cursor SET hit_id = %s, updated = now() WHERE name = %s", (hit_id, name))


async def alert_floor(conn: AsyncConnection[Any]) -> int:
    """The lowest alert manager cursor: every hit at or below it is linked (or never will be)."""
    row = await (await conn.execute("SELECT min(hit_id) FROM alert_cursor")).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


_UNSCORED = (
    "SELECT l.hit_id, l.alert_id, coalesce(l.event_time, h.created), h.rule_id, h.rule_title, h.level, h.extra,"
    " h.event_ids, a.entity, a.tactics"
    " FROM alert_hits l JOIN hits h ON h.id = l.hit_id JOIN alerts a ON a.id = l.alert_id"
    " WHERE l.hit_id > %s AND NOT EXISTS (SELECT 1 FROM hit_risk r WHERE r.hit_id = l.hit_id)"
    " ORDER BY l.hit_id LIMIT %s")


async def unscored_hits(conn: AsyncConnection[Any], above: int, limit: int) -> list[AlertHit]:
    """Alert hits above hit id `above` without a score yet, in id order, at most `limit`."""
    cur = await conn.execute(_UNSCORED, (above, limit))
    return [
        AlertHit(hit_id=int(r[0]), alert_id=int(r[1]), at=r[2], rule_id=r[3], rule_title=r[4], level=r[5],
                 extra=r[6] if isinstance(r[6], dict) else None, event_ids=list(r[7] or ()),
                 entity={str(k): str(v) for k, v in (r[8] or {}).items()}, tactics=list(r[9] or ()))
        for r in await cur.fetchall()
    ]


async def insert_scores(conn: AsyncConnection[Any], scores: Iterable[tuple[int, int, int, dict[str, Any]]],
                        contributions: Iterable[tuple[str, str, AlertHit, int]]) -> None:
    """`hit_risk` rows (hit id, alert id, score, factors) and `risk_contributions` rows
    (entity field, value, hit, score)."""
    async with conn.cursor() as cur:
        async with cur.copy("COPY hit_risk (hit_id, alert_id, score, factors) FROM STDIN") as copy:
            for hit_id, alert_id, score, factors in scores:
                await copy.write_row((hit_id, alert_id, score, Jsonb(factors)))
        async with cur.copy("COPY risk_contributions (entity_field, entity_value, at, score, hit_id, alert_id,"
                            " rule_id, rule_title, tactics) FROM STDIN") as copy:
            for field, value, hit, score in contributions:
                await copy.write_row((field, value[:MAX_VALUE], hit.at, score, hit.hit_id, hit.alert_id,
                                      hit.rule_id, hit.rule_title, hit.tactics))


async def window_contributions(conn: AsyncConnection[Any], field: str, value: str, since: datetime,
                               until: datetime, limit: int) -> list[Contribution]:
    """An entity's counted contributions with event time in (since, until], highest score first."""
    cur = await conn.execute(
        "SELECT c.hit_id, c.alert_id, c.at, c.score, c.rule_id, c.rule_title, c.tactics,"
        " h.event_ids[cardinality(h.event_ids)] FROM risk_contributions c LEFT JOIN hits h ON h.id = c.hit_id"
        " WHERE c.entity_field = %s AND c.entity_value = %s AND c.at > %s AND c.at <= %s AND"
        " NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = c.alert_id AND (a.silenced OR a.close_reason = ANY(%s)))"
        " ORDER BY c.score DESC, c.at DESC, c.hit_id LIMIT %s",
        (field, value[:MAX_VALUE], since, until, DISMISSED, limit))
    return [Contribution(int(r[0]), int(r[1]), r[2], int(r[3]), r[4], r[5], list(r[6] or ()), r[7])
            for r in await cur.fetchall()]


async def window_spread(conn: AsyncConnection[Any], field: str, value: str, since: datetime,
                        until: datetime) -> tuple[list[str], int]:
    """(distinct tactics, distinct rules) of an entity's counted contributions in (since, until]."""
    cur = await conn.execute(
        "SELECT coalesce(array_agg(DISTINCT t) FILTER (WHERE t IS NOT NULL), '{}'), count(DISTINCT c.rule_id)"
        " FROM risk_contributions c LEFT JOIN LATERAL unnest(c.tactics) AS t ON true"
        " WHERE c.entity_field = %s AND c.entity_value = %s AND c.at > %s AND c.at <= %s AND"
        " NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = c.alert_id AND (a.silenced OR a.close_reason = ANY(%s)))",
        (field, value[:MAX_VALUE], since, until, DISMISSED))
    row = await cur.fetchone()
    return (list(row[0] or ()), int(row[1])) if row else ([], 0)


@dataclass(frozen=True, slots=True)
class WindowTotal:
    """An entity's window ending at its newest contribution: raw sum, counts, tactics."""

    at: datetime
    raw: float
    contributions: int
    rules: int
    tactics: list[str]


async def window_totals(conn: AsyncConnection[Any], keys: Sequence[tuple[str, str]], window: timedelta,
                        per_entity: int) -> dict[tuple[str, str], WindowTotal]:
    """For each entity, its window (at - window, at] ending at its newest contribution `at`: the
    raw sum of its highest `per_entity` counted scores, how many, from how many rules, which tactics.
    One statement for every entity of a round."""
    if not keys:
        return {}
    cur = await conn.execute(
        "SELECT k.f, k.v, last.at, w.raw, w.n, w.rules, tt.tactics FROM unnest(%s::text[], %s::text[]) AS k(f, v)"
        " CROSS JOIN LATERAL (SELECT max(c.at) AS at FROM risk_contributions c"
        "  WHERE c.entity_field = k.f AND c.entity_value = k.v) AS last"
        " CROSS JOIN LATERAL (SELECT coalesce(sum(x.score / power(x.i, 1.5)) FILTER (WHERE x.i <= %s), 0) AS raw,"
        "  count(*) AS n, count(DISTINCT x.rule_id) AS rules FROM (SELECT c.score, c.rule_id,"
        "  row_number() OVER (ORDER BY c.score DESC, c.at DESC) AS i FROM risk_contributions c"
        "  WHERE c.entity_field = k.f AND c.entity_value = k.v AND c.at > last.at - %s AND c.at <= last.at AND"
        "  NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = c.alert_id AND (a.silenced OR a.close_reason = ANY(%s)))"
        "  ) AS x) AS w"
        " CROSS JOIN LATERAL (SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}') AS tactics"
        "  FROM risk_contributions c CROSS JOIN LATERAL unnest(c.tactics) AS t"
        "  WHERE c.entity_field = k.f AND c.entity_value = k.v AND c.at > last.at - %s AND c.at <= last.at AND"
        "  NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = c.alert_id AND (a.silenced OR a.close_reason = ANY(%s)))"
        " ) AS tt WHERE last.at IS NOT NULL",
        ([k[0] for k in keys], [k[1][:MAX_VALUE] for k in keys], per_entity, window, DISMISSED, window, DISMISSED))
    return {(r[0], r[1]): WindowTotal(r[2], float(r[3] or 0.0), int(r[4]), int(r[5]), list(r[6] or ()))
            for r in await cur.fetchall()}


async def entity_states(conn: AsyncConnection[Any], keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], EntityState]:
    if not keys:
        return {}
    cur = await conn.execute(
        "SELECT e.entity_field, e.entity_value, e.score_alert_at, e.score_alerted, e.tactics_alert_at,"
        " e.tactics_alerted FROM risk_entities e JOIN unnest(%s::text[], %s::text[]) AS k(f, v)"
        " ON e.entity_field = k.f AND e.entity_value = k.v FOR UPDATE OF e",
        ([k[0] for k in keys], [k[1][:MAX_VALUE] for k in keys]))
    return {(r[0], r[1]): EntityState(r[2], r[3], r[4], tuple(r[5] or ())) for r in await cur.fetchall()}


async def save_entity_state(conn: AsyncConnection[Any], field: str, value: str, state: EntityState) -> None:
    await conn.execute(
        "INSERT INTO risk_entities (entity_field, entity_value, score_alert_at, score_alerted, tactics_alert_at,"
        " tactics_alerted) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (entity_field, entity_value) DO UPDATE SET"
        " score_alert_at = excluded.score_alert_at, score_alerted = excluded.score_alerted,"
        " tactics_alert_at = excluded.tactics_alert_at, tactics_alerted = excluded.tactics_alerted, updated = now()",
        (field, value[:MAX_VALUE], state.score_alert_at, state.score_alerted, state.tactics_alert_at,
         list(state.tactics_alerted)))


async def prune(conn: AsyncConnection[Any], before: datetime) -> int:
    """Delete contributions with event time before `before`; returns how many."""
    cur = await conn.execute("DELETE FROM risk_contributions WHERE at < %s", (before,))
    return cur.rowcount


# ------------------------------------------------------------------ the API's reads


@dataclass(frozen=True, slots=True)
class EntityTotal:
    field: str
    value: str
    raw: float  # sum(s_i / i^1.5) of its counted top contributions
    contributions: int
    tactics: list[str]
    last_at: datetime


async def top_entities(conn: AsyncConnection[Any], since: datetime, until: datetime, per_entity: int,
                       field: str | None, max_entities: int) -> list[EntityTotal]:
    """Every entity with counted contributions in (since, until], its raw decayed sum, highest
    first (at most `max_entities`; criticality is applied by the caller)."""
    cur = await conn.execute(
        "WITH c AS (SELECT c.entity_field AS f, c.entity_value AS v, c.score, c.at, c.tactics,"
        " row_number() OVER (PARTITION BY c.entity_field, c.entity_value ORDER BY c.score DESC, c.at DESC) AS i"
        " FROM risk_contributions c WHERE c.at > %s AND c.at <= %s AND (%s::text IS NULL OR c.entity_field = %s)"
        " AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = c.alert_id AND (a.silenced OR a.close_reason = ANY(%s)))),"
        " t AS (SELECT f, v, array_agg(DISTINCT tactic ORDER BY tactic) AS tactics FROM c, unnest(c.tactics) AS tactic"
        " GROUP BY f, v)"
        " SELECT c.f, c.v, sum(c.score / power(c.i, 1.5)) FILTER (WHERE c.i <= %s), count(*),"
        " coalesce(min(t.tactics), '{}'), max(c.at)"
        " FROM c LEFT JOIN t ON t.f = c.f AND t.v = c.v GROUP BY c.f, c.v ORDER BY 3 DESC, 1, 2 LIMIT %s",
        (since, until, field, field, DISMISSED, per_entity, max_entities))
    return [EntityTotal(r[0], r[1], float(r[2] or 0.0), int(r[3]), list(r[4] or ()), r[5])
            for r in await cur.fetchall()]


async def alert_scores(conn: AsyncConnection[Any], alert_id: int) -> list[tuple[int, int, dict[str, Any], list[str]]]:
    """(hit id, score, factors, event ids) of each scored hit of an alert, oldest hit first."""
    cur = await conn.execute(
        "SELECT r.hit_id, r.score, r.factors, h.event_ids FROM hit_risk r JOIN hits h ON h.id = r.hit_id"
        " WHERE r.alert_id = %s ORDER BY r.hit_id LIMIT 10000", (alert_id,))
    return [(int(r[0]), int(r[1]), dict(r[2] or {}), [e for e in (r[3] or ()) if e is not None])
            for r in await cur.fetchall()]


async def event_risk_scores(conn: AsyncConnection[Any], alert_id: int) -> dict[str, int]:
    """`event.risk_score` of an alert's events: event id -> the score of its hit (the highest
    when several hits of the alert share an event). Events are append-only: the score lives here."""
    scores: dict[str, int] = {}
    for _, score, _, event_ids in await alert_scores(conn, alert_id):
        for event_id in event_ids:
            scores[event_id] = max(score, scores.get(event_id, 0))
    return scores
