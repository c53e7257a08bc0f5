"""The statistical detectors in the main process: what every batch brings, once a second the
judging, now and then a save.

Workers send a `StatsBatch` with each acknowledgement (`stats.batch`); `observe` turns it into
minute counts per series (frequency), arrivals (silent sources) and first-seen checks. `tick`
(once a second, with the wall clock; tests pass any clock) closes the minutes that are over,
checks for silent sources, stores the hits (seam 1 of issue 11: rows in `hits`) and saves the
learnt state every `stats.save_interval` seconds and at stop (`stats_state`, migration 0730).
A hit that cannot be stored (the database is away) waits for the next tick, at most
`MAX_PENDING` of them. The first-seen rules come from the rule files (`RuleSet.first_seen`),
hot-reloaded like the Sigma rules; a rule whose fields are unchanged keeps its state.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

import orjson

from guetteur.config import Settings, detect_settings
from guetteur.detect.hits import Hit
from guetteur.detect.local_rules import disabled_rules
from guetteur.pipeline.detection import RuleWatcher, load_ruleset
from guetteur.stats.batch import MAX_TEXT, StatsBatch
from guetteur.stats.first_seen import FirstSeenState
from guetteur.stats.first_seen_rule import FirstSeenRule
from guetteur.stats.frequency import DIMENSIONS, FrequencyDetector, SeriesKey, minute_epoch, series_of
from guetteur.stats.sources import SilentSources, SourceKey
from guetteur.store.detection import ainsert_hits
from guetteur.store.stats import aload_parts, asave_parts

if TYPE_CHECKING:
    from guetteur.config import StatsSettings

log = logging.getLogger(__name__)

MAX_PENDING = 10_000
FREQUENCY = "frequency"
SOURCES = "sources"
FIRST_SEEN = "first_seen:"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = (value if type(value) is str else str(value))[:MAX_TEXT]
    return text or None


class StatsStage:
    """Silent sources, frequency baselines and first-seen rules over the whole stream."""

    def __init__(self, settings: Settings, now: float, rules: list[FirstSeenRule] | None = None) -> None:
        """`rules`: the first-seen rules to run; None loads them from the rule files (and
        reloads them when the files change)."""
        self.settings = settings.stats
        detect = detect_settings(settings)
        self.watcher = RuleWatcher.of(detect, None if rules is None else 0)
        self._rules_dirs = detect.rule_folders()
        self._detect = detect
        self.disabled = disabled_rules(detect.disabled_rules, detect.switches_file())
        self.frequency = FrequencyDetector(self.settings)
        self.sources = SilentSources(self.settings, started=now)
        self.first_seen: dict[str, FirstSeenState] = {}
        self._saved: dict[str, tuple[int, bytes]] = {}  # restored parts of rules not loaded yet
        self._lock = threading.Lock()
        self._pending: list[Hit] = []
        self._last_save = now
        self.counters = {"untimed": 0, "hits_stored": 0, "hits_dropped": 0}
        self.install(load_ruleset(self._rules_dirs).first_seen if rules is None else rules)

    # -- rules -------------------------------------------------------------------------------

    def install(self, rules: list[FirstSeenRule]) -> None:
        """Use these first-seen rules; a rule whose id and fields are unchanged keeps its state."""
        with self._lock:
            kept: dict[str, FirstSeenState] = {}
            for rule in rules:
                if rule.id in self.disabled:
                    continue
                state = self.first_seen.get(rule.id)
                if state is not None and state.rule.fields == rule.fields and state.rule.where == rule.where:
                    state.rule = rule
                else:
                    state = FirstSeenState(rule, self.settings.first_seen_max_values)
                    saved = self._saved.get(FIRST_SEEN + rule.id)
                    if saved is not None:
                        self._restore_part(FIRST_SEEN + rule.id, saved, lambda data, s=state: s.restore(data))
                kept[rule.id] = state
            self.first_seen = kept

    # -- input -------------------------------------------------------------------------------

    def observe(self, batch: StatsBatch, now: float) -> None:
        """One batch's counts and first occurrences, arrived at `now`."""
        minutes: dict[str, int | None] = {}
        by_minute: dict[int, dict[SeriesKey, int]] = {}
        arrivals: set[SourceKey] = set()
        untimed = 0
        for key, count in batch.counts.items():
            minute_text, *values = key
            host, user, ip, category, outcome, dataset = (_text(v) for v in values)
            if host is not None:
                arrivals.add(("host.name", host))
            if dataset is not None:
                arrivals.add(("event.dataset", dataset))
            minute = minutes.get(minute_text, -1) if type(minute_text) is str else None
            if minute == -1:
                minute = minutes[minute_text] = minute_epoch(minute_text)
            if minute is None:
                untimed += count
                continue
            bucket = by_minute.setdefault(minute, {})
            for series in series_of((minute_text, host, user, ip, category, outcome, dataset)):
                bucket[series] = bucket.get(series, 0) + count
        with self._lock:
            self.counters["untimed"] += untimed
            for minute, counts in by_minute.items():
                self.frequency.observe(counts, minute, now)
            found: list[Hit] = self.sources.observe(arrivals, now)
            for rule_id, combos in batch.first_seen.items():
                state = self.first_seen.get(rule_id)
                if state is not None:
                    found.extend(state.observe(combos))
            self._queue(found)

    def _queue(self, hits: list[Hit]) -> None:
        room = MAX_PENDING - len(self._pending)
        if len(hits) > room:
            self.counters["hits_dropped"] += len(hits) - max(room, 0)
            hits = hits[:max(room, 0)]
        self._pending.extend(hits)

    # -- once a second -----------------------------------------------------------------------

    def judge(self, now: float) -> list[Hit]:
        """Close the minutes that are over, check for silence; every hit waiting to be stored."""
        with self._lock:
            self._queue(self.frequency.advance(now))
            self._queue(self.sources.check(now))
            hits, self._pending = self._pending, []
        return hits

    def use_settings(self, settings: StatsSettings) -> None:
        """Judge with these thresholds from now on (changed from the console, `runtime_settings`):
        the detectors read them on every judgement. The learnt state is kept; a changed
        `frequency_half_life_days` or `max_sources` still needs a restart."""
        with self._lock:
            self.settings = self.frequency.settings = self.sources.settings = settings

    async def tick(self, pool: Any, now: float) -> None:
        if self.watcher.changed():
            ruleset = await asyncio.to_thread(load_ruleset, self._rules_dirs)
            self.disabled = disabled_rules(self._detect.disabled_rules, self._detect.switches_file())
            self.install(ruleset.first_seen)
        hits = await asyncio.to_thread(self.judge, now)
        await self.store(pool, hits)
        if now - self._last_save >= self.settings.save_interval:
            await self.save(pool, now)

    async def store(self, pool: Any, hits: list[Hit]) -> None:
        if not hits:
            return
        try:
            async with pool.connection() as conn:
                await ainsert_hits(conn, hits)
        except BaseException:
            with self._lock:  # first in line at the next tick
                self._pending[:0] = hits[:MAX_PENDING]
            raise
        self.counters["hits_stored"] += len(hits)

    # -- persistence -------------------------------------------------------------------------

    def _parts(self) -> list[tuple[str, int, int, Any]]:
        with self._lock:
            parts: list[tuple[str, int, int, Any]] = [
                (FREQUENCY, 1, len(self.frequency.series), self.frequency.snapshot()),
                (SOURCES, 1, len(self.sources.sources), self.sources.snapshot())]
            parts.extend((FIRST_SEEN + rule_id, 1, len(state.values), state.snapshot())
                         for rule_id, state in self.first_seen.items())
        return parts

    def _encoded(self) -> list[tuple[str, int, int, bytes]]:
        return [(name, version, entries, orjson.dumps(data)) for name, version, entries, data in self._parts()]

    async def save(self, pool: Any, now: float) -> None:
        self._last_save = now
        parts = await asyncio.to_thread(self._encoded)
        async with pool.connection() as conn:
            await asave_parts(conn, parts)

    async def restore(self, pool: Any) -> None:
        async with pool.connection() as conn:
            saved = await aload_parts(conn)
        now_parts = dict(saved)
        with self._lock:
            self._saved = now_parts
            if FREQUENCY in saved:
                self._restore_part(FREQUENCY, saved[FREQUENCY],
                                   lambda data: self.frequency.restore(data, self.sources.started))
            if SOURCES in saved:
                self._restore_part(SOURCES, saved[SOURCES], self.sources.restore)
            for rule_id, state in self.first_seen.items():
                part = saved.get(FIRST_SEEN + rule_id)
                if part is not None:
                    self._restore_part(FIRST_SEEN + rule_id, part, state.restore)

    @staticmethod
    def _restore_part(name: str, part: tuple[int, bytes], restore: Any) -> None:
        try:
            count = restore(orjson.loads(part[1]))
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
            log.error("statistics state %r ignored (starting it afresh): %s", name, exc)
            return
        log.info("statistics state %r restored: %d entries", name, count)

    # -- views -------------------------------------------------------------------------------

    def series(self, dimension: str, value: str) -> dict[str, Any] | None:
        if dimension not in DIMENSIONS:
            return None
        with self._lock:
            return self.frequency.describe((dimension, value))

    def silent(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.sources.silent()

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"frequency": self.frequency.health(), "sources": self.sources.health(),
                    "silent": self.sources.silent(),
                    "first_seen": {rule_id: state.health() for rule_id, state in self.first_seen.items()},
                    "pending_hits": len(self._pending), **self.counters}
