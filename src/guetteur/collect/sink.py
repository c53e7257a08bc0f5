"""Where sources hand their records: the `RecordSink` protocol and an in-memory sink.

The pipeline provides the real sink (a bounded queue in front of the parser workers).
Backpressure is the sink's job: `put` waits while the pipeline is full, which makes a
TCP source stop reading its socket and a file source stop reading its file; `offer`
never waits and answers False when full, which a UDP source counts as a drop (a
datagram socket cannot push back on its senders).
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from guetteur.model import RawRecord
from guetteur.pipeline.receipts import Receipt


@runtime_checkable
class RecordSink(Protocol):
    """The receiving end of every source."""

    async def put(self, record: RawRecord) -> None:
        """Accept `record`, waiting while the pipeline is full (backpressure)."""
        ...

    def offer(self, record: RawRecord) -> bool:
        """Accept `record` if there is room now; False when full (the caller counts a drop).
        Must not count the refusal itself: a source may use it for a fast path."""
        ...


@runtime_checkable
class AcknowledgingSink(Protocol):
    """A sink that tells when records are committed (the pipeline): a source that must
    know (files, whose saved offset is their acknowledgement) hands records over with a
    `Receipt` that is settled as they are stored."""

    def offer_upto(self, records: list[RawRecord], start: int = 0, receipt: Receipt | None = None) -> int:
        """Accept `records[start:]` while there is room; the index of the first not accepted."""
        ...

    async def wait_for_space(self) -> None:
        """Wait until a record fits."""
        ...


class MemorySink:
    """A bounded in-memory `RecordSink`: for tests, benchmarks and one-shot tools.

    `capacity` records fit; `put` waits for room, `offer` refuses when full. Consumers
    take records with `get()` / `take_all()`. `pause()` makes the sink report full
    whatever its size (to exercise backpressure); `resume()` undoes it.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: list[RawRecord] = []
        self._paused = False
        self._room = asyncio.Event()
        self._room.set()
        self._arrived = asyncio.Event()
        self.put_waits = 0  # how many `put` calls had to wait: proof that backpressure happened

    def __len__(self) -> int:
        return len(self._items)

    def _full(self) -> bool:
        return self._paused or len(self._items) >= self.capacity

    async def put(self, record: RawRecord) -> None:
        if self._full():
            self.put_waits += 1
            while self._full():
                self._room.clear()
                await self._room.wait()
        self._items.append(record)
        self._arrived.set()

    def offer(self, record: RawRecord) -> bool:
        if self._full():
            return False
        self._items.append(record)
        self._arrived.set()
        return True

    def pause(self) -> None:
        """Report full from now on, whatever the number of records held."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        if not self._full():
            self._room.set()

    def take_all(self) -> list[RawRecord]:
        """Every record held, oldest first; frees the room."""
        items, self._items = self._items, []
        self._arrived.clear()
        self._wake()
        return items

    async def get(self) -> RawRecord:
        """The oldest record, waiting for one."""
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        record = self._items.pop(0)
        if not self._items:
            self._arrived.clear()
        self._wake()
        return record

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[RawRecord]:
        """Wait until at least `count` records are held, then return a copy of all of them
        (without taking them). Raises TimeoutError when they do not arrive in time."""

        async def _until() -> None:
            while len(self._items) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(_until(), timeout)
        return list(self._items)
