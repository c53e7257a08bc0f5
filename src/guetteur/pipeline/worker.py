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

from guetteur.model import Event, RawRecord

log = logging.getLogger(__name__)

BatchStats = dict[str, int]


def batch_stats(records: list[RawRecord], events: list[Event], merged: int) -> BatchStats:
    unparsed = sum(1 for e in events if "unparsed" in (e.get("tags") or ()))
    return {
        "records": len(records),
        "parsed": len(events) - unparsed,
        "unparsed": unparsed,
        "merged": merged,
        "stored": len(events),
    }


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


def worker_main(worker_id: int, dsn: str, parse_settings: dict[str, Any], partitions_ahead: int,
                tasks: Any, results: Any) -> None:
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
    from guetteur.config import ParseSettings
    from guetteur.parse import flush_pending, parse_batch
    from guetteur.parse.context import configure
    from guetteur.store.writer import EventWriter

    configure(ParseSettings.model_validate(parse_settings))
    writer = EventWriter(dsn, partitions_ahead_days=partitions_ahead)
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
                continue
            if item is None:
                pending = flush_pending()
                if pending.events:
                    _write_with_retry(writer.write_batch, pending.events)
                results.put(("flushed", worker_id, None, {"stored": len(pending.events),
                                                           "sources": _sources(pending.events)}))
                return
            seq, records = item
            result = parse_batch(records)
            if result.events:
                _write_with_retry(writer.write_batch, result.events)
            results.put(("ack", worker_id, seq, batch_stats(records, result.events, result.merged)))
    finally:
        writer.close()


def _sources(events: list[Event]) -> dict[str, int]:
    """Per-source counts of events flushed at shutdown (`input.type` names the source)."""
    out: dict[str, int] = {}
    for event in events:
        name = (event.get("input") or {}).get("type", "unknown")
        out[name] = out.get(name, 0) + 1
    return out
