"""Detection inside the pipeline.

Stateless Sigma rules run in every worker (`WorkerDetection`), on each parsed batch, before
it is stored: hits of alerting rules are stored in the batch's transaction. Correlation
rules need one view of the whole stream, so they run in a single stage in the main process
(`CorrelationStage`): workers send it only the events that hit a rule a correlation
references, and of those events only the fields a correlation reads (`@timestamp`,
`event.id`, every `group-by` and value field: `CorrelationFeed`), with the ids and names
of the rules hit; the main process, which also runs every listener, then unpickles a few
hundred bytes per event instead of whole events and `Hit` objects. The fields naming the
event's stream (`detect/clocks.STREAM_FIELDS`) go too: event time is kept per stream.

The live server's windows are saved to PostgreSQL under one snapshot name (`DEFAULT_ENGINE`,
"main") every `SNAPSHOT_SECONDS` and at a clean stop, and restored at start. A stage without
a snapshot name (`guetteur import`) has a state of its own: it restores nothing, saves
nothing, and at its stop evaluates its open windows (`flush`) instead.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from guetteur.config import DetectSettings
from guetteur.detect.clocks import STREAM_FIELDS
from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.engine import CompiledRule, Detector
from guetteur.detect.hits import Hit
from guetteur.detect.local_rules import disabled_rules
from guetteur.detect.rule_catalogue import RuleCatalogue
from guetteur.detect.rules import RuleSet, default_rule_paths, iter_rule_files, load_rules
from guetteur.model import Event
from guetteur.pipeline.projection import PathTrie, add_path, project
from guetteur.stats.batch import StatsBatch, collect_batch
from guetteur.store.detection import (
    DEFAULT_ENGINE,
    ainsert_hits,
    arestore_engine,
    asave_snapshot,
    insert_hits,
)
from guetteur.store.ids import assign_event_ids

log = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 30.0
STATS_SECONDS = 5.0

# What a worker sends for correlation: per event, the projected event and, per rule hit,
# (rule id, rule name, rule title, level).
RuleRef = tuple[str, str | None, str, str]
CorrelationFeed = list[tuple[Event, list[RuleRef]]]



def load_ruleset(rules_dirs: list[str] | list[Path]) -> RuleSet:
    """The built-in pack plus the configured folders; bad rules are logged, never fatal."""
    ruleset = load_rules(default_rule_paths(Path(p) for p in rules_dirs))
    for error in ruleset.errors:
        log.warning("rule not loaded: %s: %s", error.file, error.reason)
    return ruleset


class RuleWatcher:
    """Notices added, changed and removed rule files (hot reload), checking at most every
    `interval` seconds: a stat of each rule file, no parsing. `extra` files (the operator's
    switches, `detect/local_rules.py`) are watched too."""

    def __init__(self, rules_dirs: list[str] | list[Path], interval: float, extra: tuple[Path, ...] = ()) -> None:
        self.paths = default_rule_paths(Path(p) for p in rules_dirs)
        self.extra = extra
        self.interval = interval
        self._fingerprint = self._scan()
        self._next_check = time.monotonic() + interval

    def _scan(self) -> tuple[tuple[str, int, int, int], ...]:
        found = []
        for path in [*iter_rule_files(p for p in self.paths if p.exists()), *self.extra]:
            try:
                stat = path.stat()
            except OSError:  # removed while we looked
                continue
            # the inode too: an atomic replace (rename) within the same tick is still a change
            found.append((str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))
        return tuple(sorted(found))

    @classmethod
    def of(cls, settings: DetectSettings, interval: float | None = None) -> RuleWatcher:
        """The watcher of every rule folder of `settings` and of its switches file."""
        switches = settings.switches_file()
        return cls(settings.rule_folders(watch=True), settings.reload_interval if interval is None else interval,
                   (switches,) if switches is not None else ())

    def changed(self) -> bool:
        if self.interval <= 0 or time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + self.interval
        fingerprint = self._scan()
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        return True


class BatchDetection(NamedTuple):
    """What detection made of one batch."""

    ids: list[bytes]  # the events' ids (16 bytes each), in order, as `assign_event_ids` gave them
    alerts: list[Hit]  # hits of alerting rules, to store with the batch
    correlation: CorrelationFeed  # what the correlation stage needs of the events feeding it
    per_rule: Counter[str]  # hits per rule id


class WorkerDetection:
    """The stateless half of detection, one per worker process."""

    def __init__(self, settings: DetectSettings) -> None:
        self.settings = settings
        self.watcher = RuleWatcher.of(settings)
        self.detector = Detector(RuleSet(), placeholders=settings.placeholders)
        self._last_stats = 0.0
        self._install(load_ruleset(settings.rule_folders()))

    def _install(self, ruleset: RuleSet) -> None:
        self.detector.reload(ruleset)
        off = disabled_rules(self.settings.disabled_rules, self.settings.switches_file())
        for rule_id, rule in self.detector.rules.items():
            wanted = rule_id not in off and (rule.name or "") not in off
            if rule.enabled != wanted:  # switches survive reloads: a rule turned back on is set too
                self.detector.enable(rule_id, wanted)
        self.first_seen = [rule for rule in ruleset.first_seen if rule.id not in off]
        # only used to know which hits feed a correlation (the stage in the main process
        # holds the windows)
        self._router = CorrelationEngine(ruleset.correlations, lateness=self.settings.correlation_lateness)
        # Every field any correlation reads, so chained correlations (which read the fields
        # of their base events through the hits) see them too.
        self._fields: PathTrie = {}
        add_path(self._fields, ("@timestamp",))
        add_path(self._fields, ("event", "id"))
        for path in STREAM_FIELDS:
            add_path(self._fields, path)
        for spec in self._router.specs:
            for per_rule in (*spec.group_paths, *spec.value_paths):
                for alternatives in per_rule:
                    for path in alternatives:
                        add_path(self._fields, path)
        self._feeding: dict[tuple[str, str | None], RuleRef | None] = {}

    def maybe_reload(self) -> bool:
        """Reload the rules when their files changed (hot reload; rule stats are kept)."""
        if not self.watcher.changed():
            return False
        self._install(load_ruleset(self.settings.rule_folders()))
        log.info("rules reloaded: %d rules", len(self.detector.rules))
        return True

    def _feed_ref(self, rule: CompiledRule) -> RuleRef | None:
        """The `RuleRef` sent with events hitting `rule` when its hits feed a correlation
        (`CorrelationEngine.wants`, by id and name), else None. One tuple per rule: pickled
        once per batch (pickle's memo), and shared again once unpickled in the main process."""
        key = (rule.id, rule.name)
        if key not in self._feeding:
            wanted = self._router.wants(rule.hit({}))
            self._feeding[key] = (rule.id, rule.name, rule.title, rule.level) if wanted else None
        return self._feeding[key]

    def run(self, events: list[Event]) -> BatchDetection:
        """Give the events their ids (hits reference them), then match every rule."""
        self.maybe_reload()
        ids = assign_event_ids(events)
        alerts: list[Hit] = []
        for_correlation: CorrelationFeed = []
        per_rule: Counter[str] = Counter()
        matching_rules = self.detector.matching_rules
        feed_ref = self._feed_ref
        fields = self._fields
        for event in events:
            rules = matching_rules(event)
            if not rules:
                continue
            feeding: list[RuleRef] = []
            for rule in rules:
                per_rule[rule.id] += 1
                if rule.alert:
                    alerts.append(rule.hit(event))
                ref = feed_ref(rule)
                if ref is not None:
                    feeding.append(ref)
            if feeding:
                for_correlation.append((project(event, fields), feeding))
        return BatchDetection(ids, alerts, for_correlation, per_rule)

    def statistics(self, events: list[Event]) -> StatsBatch:
        """What the statistical detectors need of the batch (after `run`: events have ids)."""
        return collect_batch(events, self.first_seen)

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


def correlation_engine(correlations: list[Any], settings: DetectSettings) -> CorrelationEngine:
    """A correlation engine with the time settings of `settings`."""
    return CorrelationEngine(
        correlations,
        lateness=settings.correlation_lateness,
        max_future=settings.correlation_max_future,
        max_clocks=settings.correlation_max_clocks,
        clock_idle=settings.correlation_clock_idle,
    )


class CorrelationStage:
    """The correlation engine of the whole stream, in the main process.

    snapshot: the name its windows are restored from and saved under (`DEFAULT_ENGINE` for the
        live server); None for a state of its own that never touches a saved one.

    In the pipeline the engine runs on a thread of its own (`start_thread`): `feed` queues what
    a batch brought and returns at once (5,000 SSH failures cost the engine 0.25-0.45 s of CPU,
    which on the event loop stalled the API and the listeners), the thread correlates the
    batches in the order they were fed, and `take_fired` hands over the alerts that fired.
    Every use of the engine (correlate, advance, reload, snapshot, flush) holds `_lock`, so
    the event loop's once-a-second work waits for the batch being correlated, never the reverse
    order of batches. `backlog` (batches fed, not yet correlated) lets the pipeline stop
    dispatching while the thread is behind, which bounds the queue.
    """

    def __init__(self, settings: DetectSettings, snapshot: str | None = DEFAULT_ENGINE) -> None:
        self.settings = settings
        self.snapshot = snapshot
        self.watcher = RuleWatcher.of(settings)
        ruleset = load_ruleset(settings.rule_folders())
        self.engine = correlation_engine(self._enabled(ruleset), settings)
        self._counts(ruleset)
        self.hits = 0
        self._last_snapshot = time.monotonic()
        self._lock = threading.Lock()  # the engine, one user at a time
        self._queue: queue.SimpleQueue[CorrelationFeed | None] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._backlog = 0
        self._fired: list[Hit] = []
        self._thread: threading.Thread | None = None
        self._stats: dict[str, Any] = self.engine.stats() if self.active else {}

    def _enabled(self, ruleset: RuleSet) -> list[Any]:
        off = disabled_rules(self.settings.disabled_rules, self.settings.switches_file())
        return [c for c in ruleset.correlations if c.id not in off and (c.rule.name or "") not in off]

    def _counts(self, ruleset: RuleSet) -> None:
        self.rules = len(ruleset.rules)
        self.correlations = len(ruleset.correlations)
        self.rule_errors = len(ruleset.errors) + len(self.engine.errors)
        off = disabled_rules(self.settings.disabled_rules, self.settings.switches_file())
        self.catalogue = RuleCatalogue.from_ruleset(ruleset, off)  # for the API

    async def maybe_reload(self) -> bool:
        """Hot reload: when rule files changed, replace the correlations; the windows of
        unchanged correlations are kept."""
        if not self.watcher.changed():
            return False
        ruleset = await asyncio.to_thread(load_ruleset, self.settings.rule_folders())
        await asyncio.to_thread(self._locked, self.engine.reload, self._enabled(ruleset))
        self._counts(ruleset)
        log.info("correlations reloaded: %d", self.correlations)
        return True

    @property
    def active(self) -> bool:
        return self.correlations > 0

    async def restore(self, pool: Any) -> None:
        if not self.active or self.snapshot is None:
            return
        async with pool.connection() as conn:
            await arestore_engine(conn, self.engine, self.snapshot)

    def correlate(self, items: CorrelationFeed) -> list[Hit]:
        """Feed what workers sent (projected events and the rules they hit), in arrival
        order; the alerts that fired."""
        fired: list[Hit] = []
        process = self.engine.process
        for event, refs in items:
            meta = event.get("event")
            event_ids: list[Any] = [meta.get("id") if type(meta) is dict else None]
            event_times: list[Any] = [event.get("@timestamp")]
            # Positional: a dataclass built from keywords costs twice as much, once per base hit.
            # (rule_id, rule_title, level, tags, event_ids, event_times, event, group_key,
            # correlation, rule_name, source, alert)
            hits = [Hit(rule_id, title, level, [], event_ids, event_times, event, None, None, name, None, False)
                    for rule_id, name, title, level in refs]
            out = process(event, hits)
            if out:
                fired.extend([h for h in out if h.alert])
        return fired

    # -- the correlation thread -------------------------------------------------------------

    def start_thread(self) -> None:
        """Correlate what `feed` queues on a thread of its own, in order."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="correlation", daemon=True)
            self._thread.start()

    def feed(self, items: CorrelationFeed) -> None:
        """Queue one batch's feed (never blocks); correlated now when no thread runs."""
        if self._thread is None:
            with self._lock:
                fired = self.correlate(items)
            self._fired.extend(fired)
            return
        with self._idle:
            self._backlog += 1
        self._queue.put(items)

    @property
    def backlog(self) -> int:
        """Batches fed and not yet correlated."""
        return self._backlog

    def take_fired(self) -> list[Hit]:
        """The alerts fired since the last call, in order."""
        with self._idle:
            fired, self._fired = self._fired, []
        return fired

    def give_back(self, fired: list[Hit]) -> None:
        """Alerts `take_fired` returned that could not be stored: first in line again."""
        with self._idle:
            self._fired[:0] = fired

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every batch fed is correlated; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._backlog == 0, timeout)

    def stop_thread(self) -> None:
        """Correlate what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while (items := self._queue.get()) is not None:
            fired: list[Hit] = []
            try:
                with self._lock:
                    fired = self.correlate(items)
                    self._stats = self.engine.stats()
            except Exception:  # one bad feed must not end correlation for the whole stream
                log.exception("correlation of one batch failed; its events are not correlated")
            with self._idle:
                self._fired.extend(fired)
                self._backlog -= 1
                self._idle.notify_all()

    def _locked(self, call: Any, *args: Any) -> Any:
        with self._lock:
            return call(*args)

    async def tick(self, pool: Any) -> None:
        """Once a second: reload changed rules, close windows by wall-clock time, snapshot
        now and then."""
        await self.maybe_reload()
        if not self.active:
            return
        advanced = await asyncio.to_thread(self._locked, self.engine.advance)
        await self.store(pool, [h for h in advanced if h.alert])
        if time.monotonic() - self._last_snapshot >= SNAPSHOT_SECONDS:
            await self.save(pool)

    async def save(self, pool: Any) -> None:
        """Save the windows under the stage's snapshot name (nothing without one)."""
        if not self.active or self.snapshot is None:
            return
        self._last_snapshot = time.monotonic()
        async with pool.connection() as conn:
            await self._acquire()  # not in the middle of a batch
            try:
                await asave_snapshot(conn, self.engine, self.snapshot)
            finally:
                self._lock.release()

    async def _acquire(self) -> None:
        """Take `_lock` without blocking the event loop. Cancelled while waiting (a stop
        cancels the once-a-second task), the lock is released as soon as the waiting thread
        gets it, instead of staying held and stopping the correlation thread for good."""
        taking = asyncio.ensure_future(asyncio.to_thread(self._lock.acquire))
        try:
            await asyncio.shield(taking)
        except asyncio.CancelledError:
            taking.add_done_callback(lambda _: self._lock.release())
            raise

    async def close(self, pool: Any) -> None:
        """At a clean stop: save the windows, or, for a state of its own (an import), evaluate
        the open closing windows and store their alerts: nothing is left for a later run."""
        if self.snapshot is not None:
            await self.save(pool)
        elif self.active:
            flushed = await asyncio.to_thread(self._locked, self.engine.flush)
            await self.store(pool, [h for h in flushed if h.alert])

    async def store(self, pool: Any, alerts: list[Hit]) -> None:
        if not alerts:
            return
        async with pool.connection() as conn:
            await ainsert_hits(conn, alerts)
        self.hits += len(alerts)

    def health(self) -> dict[str, Any]:
        return {"rules": self.rules, "correlations": self.correlations, "rule_errors": self.rule_errors,
                "correlation_alerts": self.hits,
                "engine": (self._stats if self._thread is not None else self.engine.stats()) if self.active else {}}
