"""The risk scorer: the task (in the `guetteur up` main process) that scores alert hits, keeps
each entity's risk over a sliding window, and raises risk alerts.

It never touches the per-event path: it reads what the alert manager already linked
(`alert_hits`), once a second. Each round is one transaction (`store/risk.py`):

1. every alert hit not scored yet gets its score (`risk.score_hit`) in `hit_risk`, and one
   `risk_contributions` row per entity field of its alert (`host.name`, `user.name`,
   `source.ip`) at the hit's event time; risk hits (`guetteur.risk.*`) are scored but never
   contribute, so a risk alert cannot feed the risk that raised it;
2. each entity touched is evaluated at the event time of its newest contribution T, over
   (T - window, T]: its score (`risk.entity_risk`, Elastic's), and its distinct ATT&CK tactics
   and rules;
3. a `guetteur.risk.score` hit when the score is at or above `risk.score_threshold`, a
   `guetteur.risk.tactics` hit when it spans `risk.tactics_threshold` tactics from
   `risk.tactics_min_rules` rules or more; each at most once per entity per window (event time,
   kept in `risk_entities`), each listing every contribution (`extra.contributions`);
4. the cursor moves on. A round cut short rolls back whole and is done again.

Contributions older than two windows before the newest event seen (never later than now) are
deleted now and then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from guetteur.alert.risk import (
    DECAY,
    ENTITY_FIELDS,
    MAX_RAW,
    SCORE_RULE,
    TACTICS_RULE,
    AssetCriticality,
    anomaly_score,
    apply_odds,
    entity_risk,
    hit_factors,
    is_risk_rule,
    score_hit,
)
from guetteur.alert.rounds import run_rounds
from guetteur.config import RiskSettings
from guetteur.detect.hits import Hit
from guetteur.store import risk as store
from guetteur.store.detection import ainsert_hits

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
PRUNE_EVERY = 60  # rounds
MAX_EVENT_IDS = 100  # event ids a risk hit carries (its contributions list them all)


@dataclass(frozen=True, slots=True)
class EntityVerdict:
    """One entity evaluated at event time `at`: its score and spread over the window."""

    field: str
    value: str
    at: datetime
    score: float
    raw: float
    multiplier: float
    criticality: str
    contributions: list[store.Contribution]
    tactics: list[str]
    rules: int

    def explained(self) -> list[dict[str, Any]]:
        """Every contribution with its rank, weight 1/i^1.5 and part s_i/i^1.5 of the raw sum."""
        out = []
        for rank, c in enumerate(self.contributions, start=1):
            weight = 1.0 / rank**DECAY
            out.append({**c.to_dict(), "rank": rank, "weight": round(weight, 6), "part": round(c.score * weight, 4)})
        return out

    def extra(self, settings: RiskSettings) -> dict[str, Any]:
        return {
            "entity": {self.field: self.value},
            "entity_score": round(self.score, 2),
            "raw": round(self.raw, 4),
            "normalised": round(100.0 * self.raw / MAX_RAW, 4),
            "criticality": self.criticality,
            "multiplier": self.multiplier,
            "window_hours": settings.window_hours,
            "window_end": self.at.isoformat(),
            "threshold": settings.score_threshold,
            "tactics": self.tactics,
            "rules": self.rules,
            "contributions": self.explained(),
        }


async def entity_verdict(conn: Any, settings: RiskSettings, criticality: AssetCriticality, field: str, value: str,
                         at: datetime) -> EntityVerdict:
    """An entity's score, tactics and contributions over (at - window, at]."""
    since = at - timedelta(hours=settings.window_hours)
    contributions = await store.window_contributions(conn, field, value, since, at, settings.max_contributions)
    tactics, rules = await store.window_spread(conn, field, value, since, at)
    multiplier = criticality.multiplier({field: value})
    scores = [c.score for c in contributions]
    raw = sum(s / i**DECAY for i, s in enumerate(scores, start=1))
    return EntityVerdict(field, value, at, entity_risk(scores, multiplier), raw, multiplier,
                         criticality.level(field, value), contributions, sorted(tactics), rules)


MAX_ENTITIES_READ = 10_000  # entities scored for one ranking (criticality can reorder them)


@dataclass(frozen=True, slots=True)
class RankedEntity:
    """An entity in a ranking: its window totals, its criticality and its score."""

    total: store.EntityTotal
    score: float
    criticality: str
    multiplier: float


async def riskiest_entities(conn: Any, settings: RiskSettings, criticality: AssetCriticality, at: datetime,
                            field: str | None, limit: int) -> list[RankedEntity]:
    """The `limit` riskiest entities (of one field, or all) over (at - window, at], highest first."""
    totals = await store.top_entities(conn, at - timedelta(hours=settings.window_hours), at,
                                      settings.max_contributions, field, MAX_ENTITIES_READ)
    ranked = []
    for t in totals:
        multiplier = criticality.multiplier({t.field: t.value})
        ranked.append(RankedEntity(t, apply_odds(100.0 * t.raw / MAX_RAW, multiplier),
                                   criticality.level(t.field, t.value), multiplier))
    ranked.sort(key=lambda e: (-e.score, e.total.field, e.total.value))
    return ranked[:limit]


class RiskScorer:
    def __init__(self, settings: RiskSettings, pool: Any, *, name: str = "main", batch_size: int = BATCH_SIZE,
                 runtime: Any = None) -> None:
        """`runtime`: a `runtime_settings.RuntimeSettings` whose asset criticality (changed from the
        console) each round uses; None keeps `settings`' for good."""
        self.settings = settings
        self.runtime = runtime
        self.pool = pool
        self.name = name
        self.batch_size = batch_size
        self.criticality = AssetCriticality.from_settings(settings)
        self.window = timedelta(hours=settings.window_hours)
        self.newest: datetime | None = None  # newest event time scored, at most now (for pruning)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self.scored = 0
        self.risk_hits = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ one round

    async def run_round(self) -> int:
        """Score the alert hits not scored yet (at most `batch_size`); returns how many."""
        if self.runtime is not None:
            self.criticality = self.runtime.criticality
        async with self.pool.connection() as conn, conn.transaction():
            floor = await store.lock_cursor(conn, self.name)
            ceiling = await store.alert_floor(conn)  # read before the hits: all at or below are linked
            hits = await store.unscored_hits(conn, floor, self.batch_size)
            touched = await self._score(conn, hits)
            raised = await self._evaluate(conn, touched)
            if raised:
                await ainsert_hits(conn, raised)  # NOTIFYs the alert manager at commit
            full = len(hits) >= self.batch_size
            cursor = max(floor, min(ceiling, hits[-1].hit_id) if full else ceiling)
            if cursor != floor:
                await store.save_cursor(conn, self.name, cursor)
            if self.newest is not None and self.rounds % PRUNE_EVERY == 0:
                await store.prune(conn, self.newest - 2 * self.window)
        self.rounds += 1
        self.scored += len(hits)
        self.risk_hits += len(raised)
        return len(hits)

    async def _score(self, conn: Any, hits: Sequence[store.AlertHit]) -> dict[tuple[str, str], datetime]:
        scores: list[tuple[int, int, int, dict[str, Any]]] = []
        contributions: list[tuple[str, str, store.AlertHit, int]] = []
        touched: dict[tuple[str, str], datetime] = {}
        for hit in hits:
            score = score_hit(hit.rule_id, hit.level, hit.tactics, hit.entity, hit.extra, self.criticality)
            factors: dict[str, Any] = hit_factors(hit.level, hit.tactics, hit.entity, self.criticality,
                                                  anomaly_score(hit.extra))
            scores.append((hit.hit_id, hit.alert_id, score, factors))
            if self.newest is None or hit.at > self.newest:
                self.newest = min(hit.at, datetime.now(UTC))  # a skewed far-future time must not prune the present
            if is_risk_rule(hit.rule_id):
                continue
            for field in ENTITY_FIELDS:
                value = hit.entity.get(field)
                if value:
                    key = (field, value[: store.MAX_VALUE])
                    contributions.append((field, key[1], hit, score))
                    touched[key] = max(touched.get(key, hit.at), hit.at)
        await store.insert_scores(conn, scores, contributions)
        return touched

    async def verdict(self, conn: Any, field: str, value: str, at: datetime) -> EntityVerdict:
        return await entity_verdict(conn, self.settings, self.criticality, field, value, at)

    async def _evaluate(self, conn: Any, touched: dict[tuple[str, str], datetime]) -> list[Hit]:
        """Totals of every touched entity in one statement; the full list of contributions only
        for the entities that raise a risk alert."""
        if not self.settings.enabled or not touched:
            return []
        keys = sorted(touched)
        totals = await store.window_totals(conn, keys, self.window, self.settings.max_contributions)
        states = await store.entity_states(conn, keys)
        raised: list[Hit] = []
        for key in keys:
            total = totals.get(key)
            if total is None:
                continue
            field, value = key
            at = total.at
            score = apply_odds(100.0 * total.raw / MAX_RAW, self.criticality.multiplier({field: value}))
            state = states.get(key, store.EntityState())
            crossed = score >= self.settings.score_threshold and self._due(state.score_alert_at, at)
            spread = (len(total.tactics) >= self.settings.tactics_threshold
                      and total.rules >= self.settings.tactics_min_rules and self._due(state.tactics_alert_at, at))
            if not (crossed or spread):
                continue
            verdict = await self.verdict(conn, field, value, at)
            new_state = state
            if crossed:
                raised.append(self._score_hit(verdict))
                new_state = store.EntityState(at, round(verdict.score, 2), state.tactics_alert_at, state.tactics_alerted)
            if spread:
                raised.append(self._tactics_hit(verdict))
                new_state = store.EntityState(new_state.score_alert_at, new_state.score_alerted, at,
                                              tuple(verdict.tactics))
            await store.save_entity_state(conn, field, value, new_state)
        return raised

    def _due(self, last: datetime | None, at: datetime) -> bool:
        return last is None or at >= last + self.window

    def _hit(self, verdict: EntityVerdict, rule_id: str, title: str, level: str, why: str) -> Hit:
        recent = sorted((c for c in verdict.contributions if c.event_id), key=lambda c: c.at)[-MAX_EVENT_IDS:]
        extra = verdict.extra(self.settings)
        extra["explanation"] = why
        return Hit(
            rule_id=rule_id, rule_title=title, level=level,
            tags=[f"attack.{t}" for t in verdict.tactics],
            event_ids=[c.event_id or "" for c in recent],
            event_times=[c.at.isoformat() for c in recent],
            event=None, group_key={verdict.field: verdict.value}, extra=extra,
        )

    def _score_hit(self, v: EntityVerdict) -> Hit:
        level = "critical" if v.score >= 90 else "high" if v.score >= 70 else "medium"
        why = (f"{v.field} {v.value}: risk {v.score:.1f} >= {self.settings.score_threshold:g} over "
               f"{self.settings.window_hours:g} h from {len(v.contributions)} contribution(s); "
               f"S = sum(s_i / i^1.5) = {v.raw:.2f}, normalised 100*S/{MAX_RAW:.1f} = {100 * v.raw / MAX_RAW:.2f}, "
               f"criticality {v.criticality} (odds x{v.multiplier:g})")
        return self._hit(v, SCORE_RULE, "Entity risk above threshold", level, why)

    def _tactics_hit(self, v: EntityVerdict) -> Hit:
        why = (f"{v.field} {v.value}: {len(v.tactics)} ATT&CK tactics ({', '.join(v.tactics)}) from {v.rules} "
               f"rule(s) in {self.settings.window_hours:g} h")
        return self._hit(v, TACTICS_RULE, "Entity activity across ATT&CK tactics", "high", why)

    # ------------------------------------------------------------------ the task

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="risk-scorer")

    async def stop(self) -> None:
        """Finish the round in progress, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    async def _run(self) -> None:
        await run_rounds(self, "risk scorer", self.run_round, self.batch_size, self.settings.interval)

    def health(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "scored": self.scored, "risk_hits": self.risk_hits,
                "last_error": self.last_error}
