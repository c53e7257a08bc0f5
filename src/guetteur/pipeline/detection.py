"""Detection inside the pipeline.

Stateless Sigma rules run in every worker (`WorkerDetection`), on each parsed batch, before
it is stored: hits of alerting rules are stored in the batch's transaction. Correlation
rules need one view of the whole stream, so they run in a single stage in the main process
(`CorrelationStage`): workers send it only the events that hit a rule a correlation
references. Its windows are saved to PostgreSQL every `SNAPSHOT_SECONDS` and at a clean
stop, and restored at start.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.engine import Detector
from guetteur.detect.hits import Hit
from guetteur.detect.rules import RuleSet, default_rule_paths, load_rules
from guetteur.detect.state import ainsert_hits, arestore_engine, asave_snapshot, insert_hits
from guetteur.model import Event
from guetteur.store.ids import ensure_event_id

log = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 30.0
STATS_SECONDS = 5.0

CorrelationInput = list[tuple[Event, list[Hit]]]


def load_ruleset(rules_dirs: list[str] | list[Path]) -> RuleSet:
    """The built-in pack plus the configured folders; bad rules are logged, never fatal."""
    ruleset = load_rules(default_rule_paths(Path(p) for p in rules_dirs))
    for error in ruleset.errors:
        log.warning("rule not loaded: %s: %s", error.file, error.reason)
    return ruleset


class WorkerDetection:
    """The stateless half of detection, one per worker process."""

    def __init__(self, rules_dirs: list[str], lateness: float) -> None:
        ruleset = load_ruleset(rules_dirs)
        self.detector = Detector(ruleset)
        # only used to know which hits feed a correlation (the stage in the main process
        # holds the windows)
        self._router = CorrelationEngine(ruleset.correlations, lateness=lateness)
        self._last_stats = 0.0

    def run(self, events: list[Event]) -> tuple[list[Hit], CorrelationInput, Counter[str]]:
        """(hits to store as alerts, (event, hits) pairs for correlation, hits per rule)."""
        alerts: list[Hit] = []
        for_correlation: CorrelationInput = []
        per_rule: Counter[str] = Counter()
        for event in events:
            ensure_event_id(event)  # ids exist before hits reference them
            hits = self.detector.match(event)
            if not hits:
                continue
            feeding = []
            for hit in hits:
                per_rule[hit.rule_id] += 1
                if hit.alert:
                    alerts.append(hit)
                if self._router.wants(hit):
                    feeding.append(hit)
            if feeding:
                for_correlation.append((event, feeding))
        return alerts, for_correlation, per_rule

    def stats_due(self) -> dict[str, Any] | None:
        """Per-rule counters (hits, errors, time) at most every STATS_SECONDS."""
        now = time.monotonic()
        if now - self._last_stats < STATS_SECONDS:
            return None
        self._last_stats = now
        return {rule_id: stats.to_dict() for rule_id, stats in self.detector.stats().items()}

    @staticmethod
    def store_hits(hits: list[Hit]) -> Any:
        """The `with_batch` callback storing `hits` in the batch transaction (None if none)."""
        if not hits:
            return None

        def store(conn: psycopg.Connection) -> None:
            insert_hits(conn, hits)

        return store


class CorrelationStage:
    """The correlation engine of the whole stream, in the main process."""

    def __init__(self, rules_dirs: list[str] | list[Path], lateness: float) -> None:
        ruleset = load_ruleset(rules_dirs)
        self.engine = CorrelationEngine(ruleset.correlations, lateness=lateness)
        self.rules = len(ruleset.rules)
        self.correlations = len(ruleset.correlations)
        self.rule_errors = len(ruleset.errors) + len(self.engine.errors)
        self.hits = 0
        self._last_snapshot = time.monotonic()

    @property
    def active(self) -> bool:
        return self.correlations > 0

    async def restore(self, pool: Any) -> None:
        if not self.active:
            return
        async with pool.connection() as conn:
            await arestore_engine(conn, self.engine)

    def correlate(self, items: CorrelationInput) -> list[Hit]:
        """Feed (event, base hits) pairs in arrival order; the alerts that fired."""
        fired: list[Hit] = []
        for event, hits in items:
            fired.extend(h for h in self.engine.process(event, hits) if h.alert)
        return fired

    async def tick(self, pool: Any) -> None:
        """Once a second: close windows by wall-clock time, snapshot now and then."""
        if not self.active:
            return
        await self.store(pool, [h for h in self.engine.advance() if h.alert])
        if time.monotonic() - self._last_snapshot >= SNAPSHOT_SECONDS:
            await self.save(pool)

    async def save(self, pool: Any) -> None:
        if not self.active:
            return
        self._last_snapshot = time.monotonic()
        async with pool.connection() as conn:
            await asave_snapshot(conn, self.engine)

    async def store(self, pool: Any, alerts: list[Hit]) -> None:
        if not alerts:
            return
        async with pool.connection() as conn:
            await ainsert_hits(conn, alerts)
        self.hits += len(alerts)

    def health(self) -> dict[str, Any]:
        return {"rules": self.rules, "correlations": self.correlations, "rule_errors": self.rule_errors,
                "correlation_alerts": self.hits, "engine": self.engine.stats() if self.active else {}}
