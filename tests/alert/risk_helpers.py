"""Helpers of the risk tests: hits through the real alert manager, then the risk scorer, on a fresh database."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from guetteur.alert.manager import AlertManager
from guetteur.alert.risk_scorer import RiskScorer
from guetteur.config import AlertSettings, RiskSettings
from guetteur.detect.hits import Hit
from guetteur.store.detection import insert_hits
from guetteur.store.pool import open_pool

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
HOST = {"host.name": "web-01"}
_events = itertools.count(1)


def hit(rule_id: str, level: str, tags: list[str], *, hours: float = 0.0, entity: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None) -> Hit:
    """A correlation-style hit on `entity` (its group-by), `hours` after T0 (event time)."""
    when = (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    return Hit(rule_id, f"rule {rule_id}", level, tags, [f"ev-{next(_events)}"], [when], None,
               group_key=dict(entity if entity is not None else HOST), correlation="event_count",
               extra=dict(extra or {}))


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode(), params).fetchall()


def store_hits(dsn: str, hits: list[Hit]) -> None:
    with psycopg.connect(dsn) as conn:
        insert_hits(conn, hits)


def execute(dsn: str, query: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(query.encode(), params)


def risk_hits(dsn: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(rule id, group key, extra) of the risk hits, in id order."""
    return [(r[0], r[1], r[2]) for r in rows(
        dsn, "SELECT rule_id, group_key, extra FROM hits WHERE rule_id LIKE 'guetteur.risk.%%' ORDER BY id")]


@dataclass
class Rig:
    """The alert manager and the risk scorer on one database, driven round by round."""

    dsn: str
    manager: AlertManager
    scorer: RiskScorer

    async def feed(self, *hits: Hit) -> None:
        """Store hits, then one manager round (alerts) and one scorer round (risk)."""
        store_hits(self.dsn, list(hits))
        await self.settle()

    async def settle(self) -> None:
        await self.manager.run_round()
        await self.scorer.run_round()


@asynccontextmanager
async def rig(dsn: str, **risk: Any) -> AsyncIterator[Rig]:
    pool = await open_pool(dsn, max_size=4)
    try:
        yield Rig(dsn, AlertManager(AlertSettings(), pool, dsn), RiskScorer(RiskSettings(**risk), pool))
    finally:
        await pool.close()
