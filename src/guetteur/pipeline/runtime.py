"""The running pipeline: buffer -> dispatcher -> worker processes -> acknowledgements.

Every arrow is bounded: the buffer holds `pipeline.queue_size` records, each worker's
task queue holds two batches. When workers fall behind, the dispatcher blocks, the
buffer fills and the sources feel it (TCP stops reading, HTTP answers 429, UDP drops
and counts). `stop()` refuses new records, hands every buffered record to a worker,
asks workers to flush and waits for each acknowledgement: nothing accepted is lost.
A worker that dies is replaced and its unacknowledged batches are sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from guetteur.config import Settings, detect_settings
from guetteur.model import RawRecord
from guetteur.pipeline.buffer import RecordBuffer
from guetteur.pipeline.counters import Counters, DetectionCounters
from guetteur.pipeline.detection import CorrelationStage
from guetteur.pipeline.receipts import Receipt, ReceiptRun, settle_runs
from guetteur.pipeline.transfer import PackedBatch, batch_records, first_record, pack
from guetteur.pipeline.worker import worker_main
from guetteur.stats.stage import StatsStage

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT = 120.0
# Batches fed to the correlation thread and not yet correlated beyond which no new batch is
# dispatched (memory stays bounded; correlation is seconds behind at most, never skipped).
CORRELATION_BACKLOG = 8


def worker_count(settings: Settings) -> int:
    """`pipeline.workers`, or one per core: a worker waits on PostgreSQL during its COPY and
    commit, so cores - 1 workers left CPU idle (2 cores: 1 worker 12k events/s, 2 workers
    20k, 3 workers 20k in bench/ingest.py)."""
    configured = settings.pipeline.workers
    return configured if configured > 0 else max(1, os.cpu_count() or 2)


@dataclass
class _Worker:
    worker_id: int
    process: Any
    tasks: Any
    inflight: dict[int, PackedBatch] = field(default_factory=dict)
    receipts: dict[int, list[ReceiptRun]] = field(default_factory=dict)  # per inflight seq, when awaited
    ready: bool = False
    flushed: bool = False


def _is_auditd(batch: PackedBatch) -> bool:
    first = first_record(batch)
    if first.hint == "auditd":
        return True
    head = first.data[:5] if isinstance(first.data, bytes) else first.data[:5].encode()
    return head in (b"type=", b"node=")


class Pipeline:
    def __init__(self, settings: Settings, dsn: str, correlation_snapshot: str | None = "main") -> None:
        self.settings = settings
        self.dsn = dsn
        self.counters = Counters()
        self.buffer = RecordBuffer(
            settings.pipeline.queue_size, settings.pipeline.batch_size, settings.pipeline.batch_max_age, self.counters
        )
        self._ctx = multiprocessing.get_context("spawn")
        self._results: Any = self._ctx.Queue()
        self._workers: dict[int, _Worker] = {}
        self._next_id = itertools.count()
        self._seq = itertools.count()
        self._executor: ThreadPoolExecutor | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._reader: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._stopping = False
        self.detection = DetectionCounters()
        self.correlation: CorrelationStage | None = None
        self.correlation_snapshot = correlation_snapshot  # None: windows of its own (an import)
        self._pool: Any = None
        self._correlation_task: asyncio.Task[None] | None = None
        self.statistics: StatsStage | None = None  # the live server's statistical detectors
        self._statistics_task: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------

    async def start(self, pool: Any = None) -> None:
        """Start the workers. With `pool` (an async connection pool), correlation rules run
        too, their windows restored from the last snapshot."""
        self._loop = asyncio.get_running_loop()
        self._pool = pool
        if pool is not None:
            detect = detect_settings(self.settings)
            self.correlation = await asyncio.to_thread(CorrelationStage, detect, self.correlation_snapshot)
            await self.correlation.restore(pool)
            self.correlation.start_thread()
            self._correlation_task = asyncio.create_task(self._correlate(), name="pipeline-correlation")
            if self.settings.stats.enabled and self.correlation_snapshot is not None:
                self.statistics = await asyncio.to_thread(StatsStage, self.settings, time.time())
                await self.statistics.restore(pool)
                self._statistics_task = asyncio.create_task(self._judge_statistics(), name="pipeline-statistics")
        count = worker_count(self.settings)
        self._executor = ThreadPoolExecutor(max_workers=count + 1, thread_name_prefix="dispatch")
        self._reader = threading.Thread(target=self._read_results, name="pipeline-results", daemon=True)
        self._reader.start()
        for _ in range(count):
            self._spawn()
        await self._wait_for(lambda: all(w.ready for w in self._workers.values()), WORKER_START_TIMEOUT,
                             "parser workers did not start")
        self._dispatcher = asyncio.create_task(self._dispatch(), name="pipeline-dispatch")
        self._monitor = asyncio.create_task(self._watch_workers(), name="pipeline-monitor")

    async def stop(self) -> None:
        """Refuse new records, store every accepted one, then stop the workers."""
        if self._stopping:
            return
        self._stopping = True
        self.buffer.close()
        if self._statistics_task is not None:  # judged once more below, after the last batch
            self._statistics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._statistics_task
        if self._dispatcher is not None:
            await self._dispatcher
        await self._wait_for(lambda: not any(w.inflight for w in self._workers.values()), None, "")
        if self._monitor is not None:
            self._monitor.cancel()
        for worker in self._workers.values():
            await self._put(worker, None)
        await self._wait_for(lambda: all(w.flushed or not w.process.is_alive() for w in self._workers.values()),
                             None, "")
        if self._correlation_task is not None:
            self._correlation_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._correlation_task
            if self.correlation is not None:
                await asyncio.to_thread(self.correlation.stop_thread)  # correlates what is queued
            await self._store_fired()
            if self.correlation is not None:
                await self.correlation.close(self._pool)
        if self.statistics is not None:
            await self.statistics.store(self._pool, self.statistics.judge(time.time()))
            await self.statistics.save(self._pool, time.time())
        for worker in self._workers.values():
            await asyncio.to_thread(worker.process.join, 30)
        self._results.put(("exit", -1, None, None))
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5)
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def kill_workers(self) -> None:
        """SIGKILL the workers (a stop that gave up waiting for the database): their open
        transactions roll back, so nothing half-stored remains and nothing unstored was
        acknowledged. The monitor stops first: a killed worker is not replaced."""
        if self._monitor is not None:
            self._monitor.cancel()
        for worker in self._workers.values():
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)

    # -- what sources call (the RecordSink protocol) ----------------------------------------

    async def put(self, record: RawRecord) -> None:
        await self.buffer.put(record)

    def offer(self, record: RawRecord) -> bool:
        return self.buffer.offer(record)

    def offer_many(self, records: list[RawRecord], receipt: Receipt | None = None) -> bool:
        return self.buffer.offer_many(records, receipt)

    def offer_upto(self, records: list[RawRecord], start: int = 0, receipt: Receipt | None = None) -> int:
        return self.buffer.offer_upto(records, start, receipt)

    async def wait_for_space(self) -> None:
        await self.buffer.wait_for_space()

    # -- health -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        inflight = sum(batch_records(b) for w in self._workers.values() for b in w.inflight.values())
        detection = self.detection.snapshot()
        if self.correlation is not None:
            detection.update(self.correlation.health())
        statistics = {} if self.statistics is None else {"statistics": self.statistics.health()}
        return {**statistics,
            "sources": self.counters.snapshot(),
            "totals": self.counters.totals(),
            "detection": detection,
            "queues": {
                "buffer": len(self.buffer),
                "buffer_capacity": self.buffer.capacity,
                "in_workers": inflight,
                "workers": sum(1 for w in self._workers.values() if w.process.is_alive()),
            },
        }

    # -- internals ------------------------------------------------------------------------

    async def _wait_for(self, condition: Any, timeout: float | None, message: str) -> None:
        async def wait() -> None:
            while not condition():
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), 0.5)
                except TimeoutError:
                    pass

        if timeout is None:
            await wait()
            return
        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise RuntimeError(message) from None

    def _spawn(self) -> _Worker:
        worker_id = next(self._next_id)
        tasks = self._ctx.Queue(maxsize=2)
        process = self._ctx.Process(
            target=worker_main,
            args=(worker_id, self.dsn, self.settings.parse.model_dump(mode="json"),
                  detect_settings(self.settings).model_dump(mode="json"), self.settings.store.partitions_ahead_days,
                  tasks, self._results, self.statistics is not None),
            name=f"guetteur-worker-{worker_id}",
            daemon=True,
        )
        process.start()
        worker = _Worker(worker_id, process, tasks)
        self._workers[worker_id] = worker
        return worker

    async def _put(self, worker: _Worker, item: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._executor, lambda: worker.tasks.put(item, timeout=1.0))
                return
            except queue.Full:
                if not worker.process.is_alive():
                    raise RuntimeError(f"worker {worker.worker_id} died") from None

    def _pick_worker(self, batch: PackedBatch) -> _Worker:
        alive = [w for w in self._workers.values() if w.process.is_alive()] or list(self._workers.values())
        if _is_auditd(batch):
            # auditd groups span batches: one worker's assembler must see them all
            return min(alive, key=lambda w: w.worker_id)
        return min(alive, key=lambda w: len(w.inflight))

    async def _dispatch(self) -> None:
        while True:
            cut = await self.buffer.next_cut()
            if cut is None:
                return
            batch = pack(cut.records)
            seq = next(self._seq)
            while self.correlation is not None and self.correlation.backlog >= CORRELATION_BACKLOG:
                await asyncio.sleep(0.02)  # the correlation thread is behind: bounds its queue
            while True:
                worker = self._pick_worker(batch)
                worker.inflight[seq] = batch
                if cut.runs:
                    worker.receipts[seq] = cut.runs
                try:
                    await self._put(worker, (seq, batch))
                    break
                except RuntimeError:
                    worker.inflight.pop(seq, None)
                    worker.receipts.pop(seq, None)
                    await asyncio.sleep(0.2)  # the monitor replaces the dead worker

    async def _watch_workers(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for worker in list(self._workers.values()):
                if worker.process.is_alive() or worker.flushed:
                    continue
                log.error("worker %d exited (code %s); replacing it", worker.worker_id, worker.process.exitcode)
                del self._workers[worker.worker_id]
                replacement = self._spawn()
                for seq, batch in sorted(worker.inflight.items()):
                    replacement.inflight[seq] = batch
                    if seq in worker.receipts:
                        replacement.receipts[seq] = worker.receipts[seq]
                    await self._put(replacement, (seq, batch))

    def _read_results(self) -> None:
        while True:
            message = self._results.get()
            if message[0] == "exit":
                return
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_result, message)

    def _on_result(self, message: tuple[str, int, int | None, Any]) -> None:
        kind, worker_id, seq, stats = message
        worker = self._workers.get(worker_id)
        if kind == "ready" and worker is not None:
            worker.ready = True
        elif kind == "ack" and worker is not None and seq is not None:
            if worker.inflight.pop(seq, None) is not None:
                self._count(stats, worker_id)
                runs = worker.receipts.pop(seq, None)
                if runs:
                    settle_runs(runs)
        elif kind == "flushed" and worker is not None:
            worker.flushed = True
            self._count(stats, worker_id)
        elif kind == "expired":
            self._count(stats, worker_id)
        self._changed.set()

    async def _correlate(self) -> None:
        """Once a second: store fired correlation alerts, close windows by wall-clock time."""
        assert self.correlation is not None
        failing = False
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._store_fired()
                await self.correlation.tick(self._pool)
            except Exception as exc:  # the database may be restarting: keep the alerts, retry
                if not failing:  # once per outage, not a traceback a second
                    log.exception("correlation stage: storing or snapshot failed; retrying every second")
                else:
                    log.debug("correlation stage still failing: %s", exc)
                failing = True
            else:
                if failing:
                    log.info("correlation stage: storing works again")
                failing = False

    async def _judge_statistics(self) -> None:
        """Once a second: the statistical detectors judge, store their hits, save now and then."""
        assert self.statistics is not None
        failing = False
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.statistics.tick(self._pool, time.time())
            except Exception as exc:  # the database may be restarting: the hits wait, retried
                if not failing:
                    log.exception("statistics: storing hits or saving failed; retrying every second")
                else:
                    log.debug("statistics still failing: %s", exc)
                failing = True
            else:
                if failing:
                    log.info("statistics: storing works again")
                failing = False

    async def _store_fired(self) -> None:
        if self.correlation is None:
            return
        fired = self.correlation.take_fired()
        if fired:
            try:
                await self.correlation.store(self._pool, fired)
            except Exception:
                self.correlation.give_back(fired)
                raise

    def _count(self, stats: dict[str, Any], worker_id: int = 0) -> None:
        for source, counts in stats["sources"].items():
            counters = self.counters.source(source)
            counters.stored += counts["stored"]
            counters.unparsed += counts["unparsed"]
            counters.parsed += counts["stored"] - counts["unparsed"]
            counters.merged += counts["merged"]
            counters.quarantined += counts.get("quarantined", 0)
        self.detection.count(stats, worker_id)
        batch = stats.get("stats")
        if batch and self.statistics is not None:
            self.statistics.observe(batch, time.time())
        items = stats.get("correlation")
        if items and self.correlation is not None and self.correlation.active:
            # queued for the correlation thread (in order); the alerts wait for `_correlate`
            self.correlation.feed(items)
