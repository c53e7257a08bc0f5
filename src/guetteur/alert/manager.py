"""The alert manager: the one task (in the `guetteur up` main process) that turns hits into alerts.

Each round is one transaction: lock the cursor row, read hits that have no alert link yet,
lock the open alerts of their (rule, entity), group (`grouping.Grouper`), write the alerts,
their system history rows, one `alert_hits` link per hit and the cursor, and NOTIFY
`guetteur_alerts` with the id of each created or escalated alert. A hit is turned into an alert
exactly once: its link's primary key says so, in the transaction that used it; a round cut by
SIGKILL rolls back whole and the next run does it again.

Worker transactions commit out of id order: when hit 11 is visible before hit 10, id 10 is a
*gap*. The manager keeps reading gaps (and everything above the highest id it read) until they
appear or `alert.gap_grace` seconds pass (a rolled-back transaction leaves a gap forever). The
stored cursor never passes a gap still waited for, so a restart reads them again.

Rounds start when a hit writer NOTIFYs `guetteur_hits` (LISTEN on a connection of its own), at
the latest every `alert.poll_interval` seconds, and back to back while a round was full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql

from guetteur.alert.grouping import Grouper
from guetteur.alert.model import StoredHit, alert_key
from guetteur.alert.rounds import RETRY_SECONDS, run_rounds
from guetteur.config import AlertSettings, Settings
from guetteur.store import alerts as store

log = logging.getLogger(__name__)

MAX_GAPS = 100_000
STOP_ROUND_SECONDS = 5.0


def risk_function(settings: Settings, runtime: Any = None) -> Callable[[StoredHit, list[str], dict[str, str]], int] | None:
    """The per-hit risk score of `alert/risk.py`, with the configured asset criticality (a risk
    alert's hit scores the entity score it reports). With `runtime` (a
    `runtime_settings.RuntimeSettings`), the criticality in force when the hit is scored."""
    from guetteur.alert.risk import AssetCriticality, score_hit

    fixed = AssetCriticality.from_settings(settings.risk)

    def risk_of(hit: StoredHit, tactics: list[str], entity: dict[str, str]) -> int:
        criticality = fixed if runtime is None else runtime.criticality
        return score_hit(hit.rule_id, hit.level, tactics, entity, hit.extra, criticality)

    return risk_of


class AlertManager:
    def __init__(self, settings: AlertSettings, pool: Any, dsn: str | None = None, *, name: str = "main",
                 risk_of: Callable[[StoredHit, list[str], dict[str, str]], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.pool = pool
        self.dsn = dsn
        self.name = name
        self.risk_of = risk_of
        self._clock = clock
        self._high: int | None = None  # highest hit id read (every id at or below is read or a gap)
        self._gaps: dict[int, float] = {}  # missing hit id -> when it was first missed
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self.hits = 0
        self.alerts_created = 0
        self.rounds = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ one round

    async def run_round(self) -> int:
        """Group the hits not yet in an alert (at most `batch_size` new ones); returns how many."""
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await store.lock_cursor(conn, self.name)
            if self._high is None or self._high < cursor:
                self._high, self._gaps = cursor, {}
            hits = await store.unlinked_hits(conn, self._high, sorted(self._gaps), self.settings.batch_size)
            self._track_gaps(hits)
            if hits:
                grouper = Grouper(
                    window=timedelta(seconds=self.settings.group_window),
                    max_event_ids=self.settings.max_event_ids,
                    severity_overrides=self.settings.severity_overrides,
                    silences=await store.silences_since(conn, min(h.first_time for h in hits)),
                    risk_of=self.risk_of)
                keys = {alert_key(h) for h in hits}
                changes = grouper.group(hits, await store.open_alerts(conn, keys))
                await store.write_changes(conn, changes)
                self.alerts_created += sum(1 for c in changes if c.created)
            safe = min(self._gaps) - 1 if self._gaps else self._high
            if safe != cursor:
                await store.save_cursor(conn, self.name, safe)
        self.hits += len(hits)
        self.rounds += 1
        return len(hits)

    def _track_gaps(self, hits: list[StoredHit]) -> None:
        assert self._high is not None
        now = self._clock()
        for hit in hits:
            self._gaps.pop(hit.id, None)
        above = [h.id for h in hits if h.id > self._high]
        if above:
            present = set(above)
            for missing in range(self._high + 1, above[-1]):
                if missing not in present and len(self._gaps) < MAX_GAPS:
                    self._gaps.setdefault(missing, now)
            self._high = above[-1]
        grace = self.settings.gap_grace
        for missing in [g for g, seen in self._gaps.items() if now - seen > grace]:
            del self._gaps[missing]

    # ------------------------------------------------------------------ the task

    async def start(self) -> None:
        self._stopping = False
        if self.dsn is not None:
            self._listener = asyncio.create_task(self._listen(), name="alert-listen")
        self._task = asyncio.create_task(self._run(), name="alert-manager")

    async def stop(self) -> None:
        """Stop the task (a round cut short rolls back whole), then one last round, bounded by
        `STOP_ROUND_SECONDS`, for the hits of the pipeline's last batches (it stopped just
        before); what it cannot do, the next start does."""
        self._stopping = True
        self._wake.set()
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._listener = None
        try:
            await asyncio.wait_for(self.run_round(), STOP_ROUND_SECONDS)
        except (TimeoutError, psycopg.Error, OSError) as exc:
            log.warning("alert manager: last round at stop not done (%s); the next start does it", exc or "timeout")

    async def _run(self) -> None:
        await run_rounds(self, "alert manager", self.run_round, self.settings.batch_size, self.settings.poll_interval)

    async def _listen(self) -> None:
        """Wake a round on each NOTIFY of the hit writers; reconnect when the database goes away."""
        assert self.dsn is not None
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(store.HITS_CHANNEL)))
                    async for _ in conn.notifies():
                        self._wake.set()
            except (psycopg.Error, OSError) as exc:
                log.debug("alert manager listener: %s", exc)
            await asyncio.sleep(RETRY_SECONDS)

    def health(self) -> dict[str, Any]:
        return {"hits": self.hits, "alerts_created": self.alerts_created, "rounds": self.rounds,
                "waiting_gaps": len(self._gaps), "last_error": self.last_error}

