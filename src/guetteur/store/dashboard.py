"""Reading alerts and hits for the dashboard and the ATT&CK coverage page: open alerts per
status and severity, alert activity per time bucket (by severity or by tactic), and per
ATT&CK technique the alerts and hits of a recent window. Every statement is parameterised.

Activity is counted the way the alert list filters (`since`: last_seen at or after, `until`:
first_seen before): an alert counts in every bucket its activity (first_seen to last_seen)
overlaps, so the alerts listed with a bucket's `since`/`until` are exactly the ones counted.
The database returns one row per (key, first bucket, last bucket); a difference array turns
them into per-bucket counts, so the cost is one scan of the alerts active in the window
(`alerts_last_seen`), whatever their lengths.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # buckets are aligned as the search histogram's
_ONE_MICRO = timedelta(microseconds=1)

_COUNTS = ("SELECT status, severity, count(*) FROM alerts WHERE status <> 'closed' GROUP BY status, severity")
_BY_SEVERITY = (
    "SELECT severity, date_bin(%(width)s, greatest(first_seen, %(start)s), %(origin)s),"
    " date_bin(%(width)s, least(last_seen, %(last)s), %(origin)s), count(*)"
    " FROM alerts WHERE last_seen >= %(start)s AND first_seen < %(end)s"
    " AND (%(status)s::text[] IS NULL OR status = ANY(%(status)s))"
    " GROUP BY 1, 2, 3")
_BY_TACTIC = (
    "SELECT u.tactic, date_bin(%(width)s, greatest(a.first_seen, %(start)s), %(origin)s),"
    " date_bin(%(width)s, least(a.last_seen, %(last)s), %(origin)s), count(*)"
    " FROM alerts a CROSS JOIN LATERAL (SELECT DISTINCT t AS tactic FROM unnest(a.tactics) t) u"
    " WHERE a.last_seen >= %(start)s AND a.first_seen < %(end)s"
    " AND (%(status)s::text[] IS NULL OR a.status = ANY(%(status)s))"
    " GROUP BY 1, 2, 3")
# per top-level technique (T1110.001 counts for T1110), each alert once
_ALERTS_BY_TECHNIQUE = (
    "SELECT p.technique, count(*) FROM alerts a"
    " CROSS JOIN LATERAL (SELECT DISTINCT split_part(upper(t), '.', 1) AS technique FROM unnest(a.techniques) t) p"
    " WHERE a.last_seen >= %s GROUP BY 1")
# per rule, then the rule's tags at its latest hit (one index probe per rule): grouping the
# window's hits by their tag arrays directly costs twice as much (bench/dashboard.py)
_HITS_BY_RULE = "SELECT rule_id, count(*) FROM hits WHERE created >= %s GROUP BY rule_id"
_RULE_TAGS = (
    "SELECT r.rule_id, (SELECT h.tags FROM hits h WHERE h.rule_id = r.rule_id AND h.created >= %s"
    " ORDER BY h.created DESC, h.id DESC LIMIT 1) FROM unnest(%s::text[]) AS r(rule_id)")


@dataclass(frozen=True, slots=True)
class Buckets:
    """The buckets of a window: `count` buckets of `width` from `first` (aligned on ORIGIN);
    the first starts at or before `start`, the last ends at or after `end`."""

    start: datetime
    end: datetime
    width: timedelta
    first: datetime
    count: int

    @classmethod
    def over(cls, start: datetime, end: datetime, width: timedelta) -> Buckets:
        first = ORIGIN + ((start - ORIGIN) // width) * width
        count = -(-(end - first) // width)  # ceil
        return cls(start, end, width, first, max(1, count))

    def bounds(self, index: int) -> tuple[datetime, datetime]:
        """The part of the window bucket `index` covers: the alert list's `since` and `until`."""
        low = self.first + index * self.width
        return max(low, self.start), min(low + self.width, self.end)

    def index(self, moment: datetime) -> int:
        return (moment - self.first) // self.width


def spread(rows: list[tuple[str, datetime, datetime, int]], buckets: Buckets) -> dict[str, list[int]]:
    """Per key, alerts active in each bucket, from (key, first bucket, last bucket, alerts)."""
    deltas: dict[str, list[int]] = {}
    for key, first, last, count in rows:
        into = deltas.setdefault(key, [0] * (buckets.count + 1))
        low = min(max(buckets.index(first), 0), buckets.count - 1)
        high = min(max(buckets.index(last), low), buckets.count - 1)
        into[low] += count
        into[high + 1] -= count
    result: dict[str, list[int]] = {}
    for key, delta in deltas.items():
        running = 0
        counts = []
        for step in delta[:-1]:
            running += step
            counts.append(running)
        result[key] = counts
    return result


async def open_counts(pool: AsyncConnectionPool) -> dict[str, dict[str, int]]:
    """{status: {severity: alerts}} of the alerts not closed (open, acknowledged)."""
    found: dict[str, dict[str, int]] = {}
    async with pool.connection() as conn:
        for status, severity, count in await (await conn.execute(_COUNTS)).fetchall():
            found.setdefault(str(status), {})[str(severity)] = int(count)
    return found


async def activity(pool: AsyncConnectionPool, buckets: Buckets, *, by: str,
                   status: list[str] | None = None) -> dict[str, list[int]]:
    """Per severity (`by="severity"`) or ATT&CK tactic (`by="tactic"`), the alerts active in each
    bucket (see the module's docstring)."""
    statement = {"severity": _BY_SEVERITY, "tactic": _BY_TACTIC}[by]
    params = {"width": buckets.width, "start": buckets.start, "end": buckets.end,
              "last": buckets.end - _ONE_MICRO, "origin": ORIGIN, "status": status}
    async with pool.connection() as conn:
        rows = await (await conn.execute(statement, params)).fetchall()
    return spread([(str(r[0]), r[1], r[2], int(r[3])) for r in rows], buckets)


async def technique_activity(pool: AsyncConnectionPool, since: datetime) -> tuple[Counter[str], list[tuple[list[str], int]]]:
    """Since `since`: alerts active per top-level technique id, and (tags, hits) per rule with
    hits stored: the rule's tags at its latest hit in the window (the caller resolves tags to
    techniques with the ATT&CK catalogue)."""
    async with pool.connection() as conn:
        alerts = Counter({str(t): int(n) for t, n in await (await conn.execute(_ALERTS_BY_TECHNIQUE, (since,))).fetchall()
                          if t})
        per_rule = {str(r): int(n) for r, n in await (await conn.execute(_HITS_BY_RULE, (since,))).fetchall()}
        tags = await (await conn.execute(_RULE_TAGS, (since, list(per_rule)))).fetchall()
    return alerts, [(list(t or ()), per_rule[str(r)]) for r, t in tags]
