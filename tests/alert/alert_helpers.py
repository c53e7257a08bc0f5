"""Helpers of the alert tests: hits as the detection stage stores them, and a manager on a pool."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from guetteur.alert.manager import AlertManager
from guetteur.alert.model import StoredHit
from guetteur.config import AlertSettings
from guetteur.detect.hits import Hit
from guetteur.store.detection import insert_hits
from guetteur.store.pool import open_pool

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
BRUTE_FORCE = "012bad0a-65d1-4c47-b750-3df1d296229b"
EXFIL = "19018e69-1a8e-4947-8a7c-8dfe73cdf70a"
_ids = itertools.count(1)


def stored(rule_id: str = BRUTE_FORCE, *, at: float = 0.0, level: str = "medium",
           group: dict[str, Any] | None = None, tags: list[str] | None = None, events: int = 1,
           title: str = "SSH Brute Force", extra: dict[str, Any] | None = None) -> StoredHit:
    """A `StoredHit` whose events end `at` seconds after T0 (one second apart)."""
    times: list[datetime | None] = [T0 + timedelta(seconds=at - events + 1 + i) for i in range(events)]
    return StoredHit(next(_ids), T0 + timedelta(seconds=at + 1), rule_id, title, level,
                     tags if tags is not None else ["attack.credential-access", "attack.t1110.001"],
                     [f"ev-{next(_ids)}" for _ in range(events)], times,
                     group if group is not None else {"host.name": "web-01", "source.ip": "203.0.113.7",
                                                      "user.name": "deploy"}, "event_count", extra)


def hit(rule_id: str = BRUTE_FORCE, *, at: float = 0.0, level: str = "medium", group: dict[str, Any] | None = None,
        event: dict[str, Any] | None = None, tags: list[str] | None = None,
        title: str = "SSH Brute Force") -> Hit:
    """A detection `Hit` as the pipeline hands it to `insert_hits` (a correlation when `group`)."""
    when = (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
    return Hit(rule_id, title, level, tags if tags is not None else ["attack.credential-access", "attack.t1110.001"],
               [f"ev-{next(_ids)}"], [when], event, group_key=group, correlation="event_count" if group else None)


def store_hits(dsn: str, hits: list[Hit]) -> None:
    with psycopg.connect(dsn) as conn:
        insert_hits(conn, hits)


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode(), params).fetchall()


@asynccontextmanager
async def manager(dsn: str, **settings: Any) -> AsyncIterator[AlertManager]:
    """A manager (not started: the test calls `run_round`) on a pool of its own."""
    pool = await open_pool(dsn, max_size=4)
    try:
        yield AlertManager(AlertSettings(**settings), pool, dsn)
    finally:
        await pool.close()
