"""Receipts: how a sender learns that what it handed over is durable.

An acknowledgement means *committed to PostgreSQL* (docs/security.md, "Acknowledged
means stored"). A source that acknowledges (HTTP ingest today; `_bulk`, OTLP and the
agent later) offers its records with a `Receipt`; the buffer remembers which records of
each batch belong to which receipt (`ReceiptRun`s, in arrival order), the pipeline settles
the runs of a batch when its worker reports the batch committed, and the receipt's
`wait()` returns once every record it covers is committed. Records without a receipt
(syslog, which has no acknowledgement, and file reads) cost nothing here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


class Receipt:
    """Counts the records of one acknowledgement still waiting for their commit."""

    __slots__ = ("_done", "count", "remaining", "waiting")

    def __init__(self, count: int, waiting: bool = True) -> None:
        self.count = count
        self.remaining = count
        # a sender blocks on it (HTTP): its batch is cut at once, not after max_age
        self.waiting = waiting
        self._done = asyncio.Event()
        if count == 0:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def settle(self, committed: int) -> None:
        """`committed` more of its records are in the database."""
        self.remaining -= committed
        if self.remaining <= 0:
            self._done.set()

    def release(self, count: int) -> None:
        """`count` of its records were not taken by the buffer (`offer_upto` accepted a
        prefix): nothing to wait for on their behalf."""
        self.count -= count
        self.settle(count)

    async def wait(self, timeout: float | None = None) -> bool:
        """True once every record is committed; False when `timeout` passes first
        (the records stay in the pipeline and will still be stored)."""
        if self._done.is_set():
            return True
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass(slots=True)
class ReceiptRun:
    """`count` consecutive records of one source's queue covered by `receipt` (None: no
    acknowledgement is waiting for them)."""

    receipt: Receipt | None
    count: int


def settle_runs(runs: list[ReceiptRun]) -> None:
    """A batch made of these runs was committed."""
    for run in runs:
        if run.receipt is not None:
            run.receipt.settle(run.count)
