"""The parser worker: a separate process that parses, detects and stores batches.

It receives `(seq, records)` on its task queue and answers `("ack", seq, stats)` on the
result queue once the batch is committed. `None` on the task queue means: flush what
parsers hold (auditd groups) and exit.

A failed write is classified (`guetteur.errors`): a recoverable error (connection lost,
database restarting, serialization failure, disk full) is retried with exponential backoff,
capped, for as long as it takes: the task queue then fills and backpressure reaches the
sources, and nothing accepted is dropped. Records the database refuses for their content do
not stall the worker: the writer isolates them inside the batch's transaction and stores
them in quarantine form (`store.writer`); the worker counts them per source (`quarantined`
in the stats) and moves on to the next batch.

The worker dies with the main process (`pipeline.lifeline`).
"""

from __future__ import annotations

import gc
import logging
import queue
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from guetteur.errors import GuetteurError
from guetteur.model import Event
from guetteur.pipeline.lifeline import expected_parent, parent_alive, tie_to_parent

if TYPE_CHECKING:
    import psycopg

    from guetteur.detect.hits import Hit

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 10.0


def batch_stats(events: list[Event], merged_by_source: dict[str, int],
                quarantined: Sequence[int] = ()) -> dict[str, dict[str, int]]:
    """Per source: events stored, of which unparsed, of which quarantined (positions in
    `events`), and records merged into others.

    Counted per event (`input.type`), not per batch: an assembler may close, in this
    batch, a group that started in another source's batch."""
    out: dict[str, dict[str, int]] = {}
    # a batch holds one source's records, so the per-source counts are looked up only when
    # the source changes from one event to the next
    current: object = None
    counts: dict[str, int] = {}
    for event in events:
        found = _source_of(event)
        if found != current:
            current = found
            counts = out.get(found) or out.setdefault(found, _zero_counts())
        counts["stored"] += 1
        tags = event.get("tags")
        if tags and "unparsed" in tags:
            counts["unparsed"] += 1
    for position in quarantined:
        out.setdefault(_source_of(events[position]), _zero_counts())["quarantined"] += 1
    for source, merged in merged_by_source.items():
        out.setdefault(source, _zero_counts())["merged"] += merged
    return out


def _source_of(event: Event) -> str:
    source: str = (event.get("input") or {}).get("type", "unknown")
    return source


def _zero_counts() -> dict[str, int]:
    return {"stored": 0, "unparsed": 0, "merged": 0, "quarantined": 0}


def hits_writer(events: list[Event], hits: list[Hit]) -> Callable[[psycopg.Connection, Sequence[int]], None] | None:
    """The writer's `with_events` callback storing `hits` with the events they came from, so
    that a hit that cannot be stored is isolated with its event (None when there are none)."""
    if not hits:
        return None
    from guetteur.store.detection import insert_hits

    position = {(event.get("event") or {}).get("id"): i for i, event in enumerate(events)}
    by_position: dict[int, list[Hit]] = {}
    for hit in hits:
        at = position.get(hit.event_ids[0] if hit.event_ids else None, 0)
        by_position.setdefault(at, []).append(hit)
    total = len(events)

    def store(conn: psycopg.Connection, positions: Sequence[int]) -> None:
        if len(positions) == total:
            insert_hits(conn, hits)
            return
        part = [hit for p in positions for hit in by_position.get(p, ())]
        if part:
            insert_hits(conn, part)

    return store


def retry_recoverable(attempt: Callable[[], T], what: str, keep_trying: Callable[[], bool] = lambda: True,
                      sleep: Callable[[float], object] = time.sleep) -> T:
    """`attempt()`, retried while it raises a recoverable `GuetteurError`, with exponential
    backoff capped at MAX_RETRY_DELAY, for as long as it takes. Before each wait,
    `keep_trying()` is asked; when it says no, SystemExit. An unrecoverable error (or
    anything not a `GuetteurError`) is raised at once."""
    delay = FIRST_RETRY_DELAY
    while True:
        try:
            return attempt()
        except GuetteurError as exc:
            if not exc.recoverable:
                raise
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
        if not keep_trying():
            log.error("the main process is gone; giving up %s", what)
            raise SystemExit(1)
        sleep(delay)
        delay = min(delay * 2, MAX_RETRY_DELAY)


def worker_main(worker_id: int, dsn: str, parse_settings: dict[str, Any], detect_settings: dict[str, Any],
                partitions_ahead: int, tasks: Any, results: Any, statistics: bool = False) -> None:
    """Entry point of a worker process (multiprocessing target).

    SIGINT and SIGTERM are ignored: Ctrl-C or a service manager signals the whole process
    group, and a worker that died then would lose its batch. The main process stops
    workers with the `None` sentinel after the last batch; a worker whose parent is gone
    (killed hard) is killed by the kernel (Linux) or exits on its own. With `statistics`, each
    acknowledgement carries the batch's `StatsBatch` for the statistical detectors.
    """
    parent = expected_parent()
    tie_to_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker-{worker_id} %(levelname)s %(message)s")
    from guetteur.config import DetectSettings, ParseSettings
    from guetteur.parse import BatchResult, flush_pending, parse_batch
    from guetteur.parse.context import configure
    from guetteur.pipeline.collector import settle_collector
    from guetteur.pipeline.detection import WorkerDetection
    from guetteur.pipeline.transfer import unpack
    from guetteur.store.writer import EventWriter

    def keep_trying() -> bool:
        return parent_alive(parent)

    configure(ParseSettings.model_validate(parse_settings))
    detection = WorkerDetection(DetectSettings.model_validate(detect_settings))
    writer = retry_recoverable(lambda: EventWriter(dsn, partitions_ahead_days=partitions_ahead),
                               "connecting to the database", keep_trying)

    def process(result: BatchResult) -> dict[str, Any]:
        """Detect, then store events and alert hits in one transaction; what the main
        process needs back (per-source counts, correlation input, per-rule counts)."""
        events = result.events
        if not events:
            return {"sources": batch_stats(events, result.merged_by_source)}
        found = detection.run(events)
        with_hits = hits_writer(events, found.alerts)
        receipt = retry_recoverable(lambda: writer.write_batch(events, with_hits, found.ids),
                                    f"storing a batch of {len(events)} events", keep_trying)
        return {"sources": batch_stats(events, result.merged_by_source, receipt.quarantined),
                "correlation": found.correlation, "hits": dict(found.per_rule), "alerts": len(found.alerts),
                "rule_stats": detection.stats_due(), "stats": detection.statistics(events) if statistics else None}

    # Batches allocate many short-lived dicts; the default collector thresholds spend a
    # large share of parse time re-scanning the long-lived modules and rule tables.
    settle_collector()
    results.put(("ready", worker_id, None, None))
    try:
        while True:
            try:
                item = tasks.get(timeout=1.0)
            except queue.Empty:
                if not parent_alive(parent):
                    log.error("the main process is gone; worker %d exits", worker_id)
                    return
                # idle: pick up changed rule files, let assemblers close groups that
                # waited too long (auditd)
                detection.maybe_reload()
                expired = parse_batch([])
                if expired.events:
                    results.put(("expired", worker_id, None, process(expired)))
                continue
            if item is None:
                results.put(("flushed", worker_id, None, process(flush_pending())))
                return
            seq, packed = item
            # No cyclic collection while a batch is alive: its events are hundreds of
            # thousands of young containers without cycles, which each collection would
            # scan again (3.5 µs/event). Once the batch is freed (reference counting), the
            # young generation is small again and collection resumes between batches.
            gc.disable()
            try:
                result = parse_batch(unpack(packed))
                stats = process(result)
                del result, packed, item
            finally:
                gc.enable()
            results.put(("ack", worker_id, seq, stats))
    finally:
        writer.close()
