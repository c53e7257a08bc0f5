"""The bounded buffer between sources and parser workers, cut into per-source batches.

Sources call `put` (waits while full: TCP stops reading, files pause), `offer` (UDP: a
refusal is a counted drop) or `offer_many` (HTTP: all or nothing, so a client retrying
after a 429 never duplicates). Batches hold one source's records in arrival order, so
stateful parsers (auditd groups, Zeek headers) see their stream in order and counts per
source need no bookkeeping.

`offer_many` and `offer_upto` may bring a `Receipt` (HTTP waits for the commit before it
acknowledges; files save their offset only past committed lines): the buffer keeps, per
source, which runs of records belong to which receipt and hands them out with each batch
(`Cut.runs`). A source's batch is cut at once when a *waiting* receipt (a blocked sender)
is queued in it, instead of after `max_age`: an acknowledgement waits for a commit, not
for a timer. Sources without receipts pay nothing for this.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from operator import attrgetter

from guetteur.model import RawRecord
from guetteur.pipeline.counters import Counters
from guetteur.pipeline.receipts import Receipt, ReceiptRun


@dataclass(slots=True)
class Cut:
    """One batch of one source's records, and the receipt runs covering them (empty when
    no sender waits for these records)."""

    records: list[RawRecord]
    runs: list[ReceiptRun] = field(default_factory=list)


class RecordBuffer:
    def __init__(self, capacity: int, batch_size: int, max_age: float, counters: Counters) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self.max_age = max_age
        self._counters = counters
        self._queues: dict[str, deque[RawRecord]] = {}
        # per source, only while a receipt waits in its queue: runs covering the queue
        self._runs: dict[str, deque[ReceiptRun]] = {}
        self._urgent: set[str] = set()  # sources where a waiting receipt is queued
        self._oldest: dict[str, float] = {}
        self._size = 0
        self._space = asyncio.Event()
        self._space.set()
        self._data = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return self._size

    def _append(self, record: RawRecord) -> None:
        queue = self._queues.get(record.source)
        if queue is None:
            queue = self._queues[record.source] = deque()
        if not queue:
            self._oldest[record.source] = time.monotonic()
        queue.append(record)
        runs = self._runs.get(record.source)
        if runs:
            _add_run(runs, None, 1)
        self._size += 1
        counters = self._counters.source(record.source)
        counters.received += 1
        if record.meta and record.meta.get("truncated"):
            counters.truncated += 1
        if self._size >= self.capacity:
            self._space.clear()
        if len(queue) >= self.batch_size:
            self._data.set()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("pipeline is shutting down")

    async def put(self, record: RawRecord) -> None:
        """Accept a record, waiting while the buffer is full."""
        while self._size >= self.capacity:
            self._check_open()
            await self._space.wait()
        self._check_open()
        self._append(record)

    def offer(self, record: RawRecord) -> bool:
        """Accept a record if there is room now; a refusal is counted as a drop."""
        if self._closed or self._size >= self.capacity:
            self._counters.source(record.source).dropped += 1
            return False
        self._append(record)
        return True

    def offer_many(self, records: list[RawRecord], receipt: Receipt | None = None) -> bool:
        """Accept all the records or none (nothing counted): HTTP answers 429 on False.
        With `receipt`, it is settled as the batches holding these records are committed."""
        if self._closed or self._size + len(records) > self.capacity:
            return False
        self._extend(records, 0, len(records), receipt)
        return True

    def offer_upto(self, records: list[RawRecord], start: int = 0, receipt: Receipt | None = None) -> int:
        """`put` for many records without waiting: accept `records[start:]` while there is
        room; returns the index of the first record not accepted (`len(records)`: all).
        Nothing is counted as dropped: the caller waits (`wait_for_space`) and goes on."""
        self._check_open()
        end = min(len(records), start + max(self.capacity - self._size, 0))
        if end > start:
            self._extend(records, start, end, receipt)
        return end

    async def wait_for_space(self) -> None:
        """Wait until a record fits; RuntimeError once closed (as `put`)."""
        while self._size >= self.capacity:
            self._check_open()
            await self._space.wait()
        self._check_open()

    def _extend(self, records: list[RawRecord], start: int, end: int, receipt: Receipt | None = None) -> None:
        """`_append` for `records[start:end]`, per run of one source (one lookup per run)."""
        i = start
        # Every source hands over one source's records: checked in C rather than record by record.
        single = end - start > 1 and len(set(map(_SOURCE, records[start:end]))) == 1
        while i < end:
            source = records[i].source
            j = end if single else i + 1
            while j < end and records[j].source == source:
                j += 1
            queue = self._queues.get(source)
            if queue is None:
                queue = self._queues[source] = deque()
            if not queue:
                self._oldest[source] = time.monotonic()
            run = records[i:j] if i or j < len(records) else records
            runs = self._runs.get(source)
            if receipt is not None:
                if runs is None:
                    runs = self._runs[source] = deque()
                if not runs and queue:  # records already waiting there have no receipt
                    runs.append(ReceiptRun(None, len(queue)))
                _add_run(runs, receipt, j - i)
                if receipt.waiting:  # a sender blocks on it: cut this source's batch now
                    self._urgent.add(source)
                    self._data.set()
            elif runs:
                _add_run(runs, None, j - i)
            queue.extend(run)
            self._size += j - i
            counters = self._counters.source(source)
            counters.received += j - i
            counters.truncated += _truncated(run)
            if len(queue) >= self.batch_size:
                self._data.set()
            i = j
        if self._size >= self.capacity:
            self._space.clear()

    def close(self) -> None:
        """Refuse new records; what is buffered will still be handed out by `next_batch`."""
        self._closed = True
        self._data.set()
        self._space.set()

    async def next_batch(self) -> list[RawRecord] | None:
        """The records of `next_cut()` (for consumers that acknowledge nothing)."""
        cut = await self.next_cut()
        return None if cut is None else cut.records

    async def next_cut(self) -> Cut | None:
        """The next batch due (full, older than max_age, awaited by a receipt, or anything
        once closed). None once closed and empty."""
        while True:
            now = time.monotonic()
            wait = self.max_age
            for source, queue in self._queues.items():
                if not queue:
                    continue
                age = now - self._oldest[source]
                if (self._closed or len(queue) >= self.batch_size or age >= self.max_age
                        or source in self._urgent):
                    return self._cut(source, queue)
                wait = min(wait, self.max_age - age)
            if self._closed:
                return None
            self._data.clear()
            try:
                await asyncio.wait_for(self._data.wait(), timeout=max(wait, 0.001))
            except TimeoutError:
                pass

    def _cut(self, source: str, queue: deque[RawRecord]) -> Cut:
        count = min(len(queue), self.batch_size)
        if count == len(queue):
            batch = list(queue)
            queue.clear()
        else:
            popleft = queue.popleft
            batch = [popleft() for _ in range(count)]
        self._size -= count
        if queue:
            self._oldest[source] = time.monotonic()
        if self._size < self.capacity:
            self._space.set()
        runs = self._runs.get(source)
        if not runs:
            return Cut(batch)
        taken = _take_runs(runs, count)
        if source in self._urgent and not any(run.receipt is not None and run.receipt.waiting for run in runs):
            self._urgent.discard(source)
        return Cut(batch, taken)


_SOURCE = attrgetter("source")
_META = attrgetter("meta")


def _truncated(run: list[RawRecord]) -> int:
    """How many records of `run` are tagged truncated. A source hands its records over with
    one metadata object for all (None over TCP, the request's over HTTP), so the common case
    is one identity test per record, in C."""
    metas = list(map(_META, run))
    first = metas[0]
    if metas.count(first) == len(metas):
        return len(metas) if first and first.get("truncated") else 0
    return sum(1 for meta in metas if meta and meta.get("truncated"))


def _add_run(runs: deque[ReceiptRun], receipt: Receipt | None, count: int) -> None:
    last = runs[-1] if runs else None
    if last is not None and last.receipt is receipt:
        last.count += count
    else:
        runs.append(ReceiptRun(receipt, count))


def _take_runs(runs: deque[ReceiptRun], count: int) -> list[ReceiptRun]:
    """The runs covering the first `count` records of a queue, removed from `runs` (the
    last one split when the batch ends inside it). Runs without a receipt are left out;
    once no receipt waits in the queue, `runs` is emptied (the source stops tracking)."""
    taken: list[ReceiptRun] = []
    while count > 0 and runs:
        run = runs[0]
        size = min(run.count, count)
        if size == run.count:
            runs.popleft()
        else:
            run.count -= size
        if run.receipt is not None:
            taken.append(ReceiptRun(run.receipt, size))
        count -= size
    if all(run.receipt is None for run in runs):
        runs.clear()
    return taken
