"""The parser worker: a separate process that parses, detects and stores batches.

It receives `(seq, records)` on its task queue and answers `("ack", seq, stats)` on the
result queue once the batch is committed. A database error is retried (with backoff)
rather than dropping the batch: the task queue then fills and backpressure reaches the
sources. `None` on the task queue means: flush what parsers hold (auditd groups) and exit.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import signal
import time
from collections.abc import Callable
from typing import Any

from guetteur.model import Event

log = logging.getLogger(__name__)

def batch_stats(events: list[Event], merged_by_source: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per source: events stored, of which unparsed, and records merged into others.

    Counted per event (`input.type`), not per batch: an assembler may close, in this
    batch, a group that started in another source's batch."""
    out: dict[str, dict[str, int]] = {}
    for event in events:
        source = (event.get("input") or {}).get("type", "unknown")
        counts = out.get(source)
        if counts is None:
            counts = out[source] = {"stored": 0, "unparsed": 0, "merged": 0}
        counts["stored"] += 1
        if "unparsed" in (event.get("tags") or ()):
            counts["unparsed"] += 1
    for source, merged in merged_by_source.items():
        out.setdefault(source, {"stored": 0, "unparsed": 0, "merged": 0})["merged"] += merged
    return out


def _write_with_retry(write: Callable[[list[Event]], Any], events: list[Event]) -> None:
    delay = 0.5
    while True:
        try:
            write(events)
            return
        except Exception:  # the database may be restarting; never drop an accepted batch
            log.exception("storing a batch of %d events failed; retrying in %.1fs", len(events), delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def worker_main(worker_id: int, dsn: str, parse_settings: dict[str, Any], detect_settings: dict[str, Any],
                partitions_ahead: int, tasks: Any, results: Any) -> None:
    """Entry point of a worker process (multiprocessing target).

    SIGINT and SIGTERM are ignored: Ctrl-C or a service manager signals the whole process
    group, and a worker that died then would lose its batch. The main process stops
    workers with the `None` sentinel after the last batch; a worker whose parent is gone
    (killed hard) exits on its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker-{worker_id} %(levelname)s %(message)s")
    from guetteur.config import DetectSettings, ParseSettings
    from guetteur.parse import flush_pending, parse_batch
    from guetteur.parse.context import configure
    from guetteur.pipeline.detection import WorkerDetection
    from guetteur.pipeline.transfer import unpack
    from guetteur.store.writer import EventWriter

    configure(ParseSettings.model_validate(parse_settings))
    detection = WorkerDetection(DetectSettings.model_validate(detect_settings))
    writer = EventWriter(dsn, partitions_ahead_days=partitions_ahead)

    def process(events: list[Event]) -> dict[str, Any]:
        """Detect, then store events and alert hits in one transaction; what the main
        process needs back (correlation input, per-rule counts)."""
        found = detection.run(events)
        _write_with_retry(lambda batch: writer.write_batch(batch, detection.store_hits(found.alerts), found.ids),
                          events)
        return {"correlation": found.correlation, "hits": dict(found.per_rule), "alerts": len(found.alerts),
                "rule_stats": detection.stats_due()}

    # Batches allocate many short-lived dicts; the default collector thresholds spend a
    # large share of parse time re-scanning the long-lived modules and rule tables.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    results.put(("ready", worker_id, None, None))
    try:
        while True:
            try:
                item = tasks.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:
                    log.error("the main process is gone; worker %d exits", worker_id)
                    return
                # idle: pick up changed rule files, let assemblers close groups that
                # waited too long (auditd)
                detection.maybe_reload()
                expired = parse_batch([])
                if expired.events:
                    extra = process(expired.events)
                    results.put(("expired", worker_id, None,
                                 {"sources": batch_stats(expired.events, expired.merged_by_source), **extra}))
                continue
            if item is None:
                pending = flush_pending()
                extra = process(pending.events) if pending.events else {}
                results.put(("flushed", worker_id, None,
                             {"sources": batch_stats(pending.events, pending.merged_by_source), **extra}))
                return
            seq, packed = item
            # No cyclic collection while a batch is alive: its events are hundreds of
            # thousands of young containers without cycles, which each collection would
            # scan again (3.5 µs/event). Once the batch is freed (reference counting), the
            # young generation is small again and collection resumes between batches.
            gc.disable()
            try:
                result = parse_batch(unpack(packed))
                extra = process(result.events) if result.events else {}
                stats = {"sources": batch_stats(result.events, result.merged_by_source), **extra}
                del result, packed, item
            finally:
                gc.enable()
            results.put(("ack", worker_id, seq, stats))
    finally:
        writer.close()
