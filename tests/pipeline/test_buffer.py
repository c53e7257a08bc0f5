"""The bounded buffer: per-source batches, backpressure, all-or-nothing offers, drops counted."""

from __future__ import annotations

import asyncio
import time

import pytest

from guetteur.model import RawRecord
from guetteur.pipeline.buffer import RecordBuffer
from guetteur.pipeline.counters import Counters
from guetteur.pipeline.receipts import Receipt, settle_runs


def rec(source: str, n: int) -> RawRecord:
    return RawRecord(f"line {n}".encode(), time.time(), source)


async def test_batches_hold_one_source_in_arrival_order() -> None:
    counters = Counters()
    buf = RecordBuffer(capacity=100, batch_size=3, max_age=0.05, counters=counters)
    for n in range(4):
        await buf.put(rec("a", n))
        await buf.put(rec("b", n))
    first = await buf.next_batch()
    assert first is not None and len(first) == 3
    assert len({r.source for r in first}) == 1
    assert [r.data for r in first] == [b"line 0", b"line 1", b"line 2"]
    seen = list(first)
    buf.close()
    while (batch := await buf.next_batch()) is not None:
        assert len({r.source for r in batch}) == 1
        seen.extend(batch)
    assert sorted((r.source, r.data) for r in seen) == sorted(
        (s, f"line {n}".encode()) for s in "ab" for n in range(4)
    )
    assert counters.source("a").received == 4 and counters.source("b").received == 4


async def test_partial_batch_leaves_after_max_age() -> None:
    buf = RecordBuffer(capacity=100, batch_size=1000, max_age=0.05, counters=Counters())
    await buf.put(rec("a", 1))
    batch = await asyncio.wait_for(buf.next_batch(), timeout=5)
    assert batch is not None and len(batch) == 1


async def test_put_waits_while_full_and_resumes_when_drained() -> None:
    buf = RecordBuffer(capacity=2, batch_size=2, max_age=10, counters=Counters())
    await buf.put(rec("a", 1))
    await buf.put(rec("a", 2))
    blocked = asyncio.create_task(buf.put(rec("a", 3)))
    await asyncio.sleep(0.05)
    assert not blocked.done(), "put must wait while the buffer is full"
    batch = await buf.next_batch()
    assert batch is not None and len(batch) == 2
    await asyncio.wait_for(blocked, timeout=5)
    assert len(buf) == 1


async def test_offer_refuses_when_full_and_counts_the_drop() -> None:
    counters = Counters()
    buf = RecordBuffer(capacity=1, batch_size=10, max_age=10, counters=counters)
    assert buf.offer(rec("udp", 1))
    assert not buf.offer(rec("udp", 2))
    assert counters.source("udp").dropped == 1
    assert counters.source("udp").received == 1


async def test_offer_many_is_all_or_nothing() -> None:
    counters = Counters()
    buf = RecordBuffer(capacity=5, batch_size=10, max_age=10, counters=counters)
    assert buf.offer_many([rec("http", n) for n in range(4)])
    assert not buf.offer_many([rec("http", n) for n in range(2)])
    assert len(buf) == 4
    assert counters.source("http").received == 4
    assert counters.source("http").dropped == 0


async def test_closed_buffer_refuses_and_hands_out_the_rest() -> None:
    buf = RecordBuffer(capacity=10, batch_size=100, max_age=10, counters=Counters())
    await buf.put(rec("a", 1))
    buf.close()
    with pytest.raises(RuntimeError):
        await buf.put(rec("a", 2))
    assert not buf.offer(rec("a", 3))
    batch = await buf.next_batch()
    assert batch is not None and len(batch) == 1
    assert await buf.next_batch() is None


async def test_offer_upto_takes_what_fits_and_counts_per_source() -> None:
    counters = Counters()
    buf = RecordBuffer(capacity=5, batch_size=3, max_age=10, counters=counters)
    records = [rec("a", 0), rec("a", 1), rec("b", 2), rec("a", 3), rec("a", 4), rec("a", 5), rec("a", 6)]
    records[1].meta = {"truncated": True}
    assert buf.offer_upto(records, 0) == 5
    assert buf.offer_upto(records, 5) == 5  # full: nothing more, nothing dropped
    assert counters.source("a").received == 4 and counters.source("b").received == 1
    assert counters.source("a").truncated == 1
    assert counters.source("a").dropped == 0 and len(buf) == 5
    first = await buf.next_batch()
    assert first is not None and [r.data for r in first] == [b"line 0", b"line 1", b"line 3"]
    await asyncio.wait_for(buf.wait_for_space(), 1)
    assert buf.offer_upto(records, 5) == 7
    rest = []
    buf.close()
    while (batch := await buf.next_batch()) is not None:
        rest.extend(r.data for r in batch)
    assert sorted(rest) == sorted([b"line 2", b"line 4", b"line 5", b"line 6"])
    with pytest.raises(RuntimeError):
        buf.offer_upto(records, 0)
    with pytest.raises(RuntimeError):
        await buf.wait_for_space()


async def test_wait_for_space_waits_until_a_batch_leaves() -> None:
    buf = RecordBuffer(capacity=2, batch_size=2, max_age=10, counters=Counters())
    assert buf.offer_upto([rec("a", 0), rec("a", 1), rec("a", 2)]) == 2
    waiter = asyncio.create_task(buf.wait_for_space())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await buf.next_batch()
    await asyncio.wait_for(waiter, 1)


async def test_a_receipt_covers_exactly_its_records_across_batches() -> None:
    """Records offered with a receipt are handed out with runs that add up to the receipt's
    count, split where a batch ends, with the records of other senders left out."""
    buf = RecordBuffer(capacity=100, batch_size=4, max_age=10, counters=Counters())
    await buf.put(rec("http", 0))  # no receipt: nobody waits for it
    first, second = Receipt(5), Receipt(2)
    assert buf.offer_many([rec("http", n) for n in range(1, 6)], first)
    assert buf.offer_many([rec("http", n) for n in range(6, 8)], second)
    cuts = []
    while len(buf):
        cut = await asyncio.wait_for(buf.next_cut(), timeout=5)
        assert cut is not None
        cuts.append(cut)
    assert [len(c.records) for c in cuts] == [4, 4]
    assert [(r.receipt, r.count) for r in cuts[0].runs] == [(first, 3)]
    assert [(r.receipt, r.count) for r in cuts[1].runs] == [(first, 2), (second, 2)]
    settle_runs(cuts[0].runs)
    assert not first.done and first.remaining == 2
    settle_runs(cuts[1].runs)
    assert first.done and second.done


async def test_a_waiting_receipt_cuts_its_batch_without_waiting_for_max_age() -> None:
    """An acknowledgement waits for a commit, not for the batch timer."""
    buf = RecordBuffer(capacity=100, batch_size=1000, max_age=3600, counters=Counters())
    receipt = Receipt(2)
    assert buf.offer_many([rec("http", 1), rec("http", 2)], receipt)
    cut = await asyncio.wait_for(buf.next_cut(), timeout=5)
    assert cut is not None and len(cut.records) == 2
    assert sum(r.count for r in cut.runs) == 2


async def test_sources_without_receipts_carry_no_runs() -> None:
    buf = RecordBuffer(capacity=100, batch_size=2, max_age=10, counters=Counters())
    await buf.put(rec("syslog-tcp", 1))
    await buf.put(rec("syslog-tcp", 2))
    cut = await buf.next_cut()
    assert cut is not None and cut.runs == []


async def test_receipt_wait_times_out_without_losing_the_count() -> None:
    receipt = Receipt(3)
    assert not await receipt.wait(0.01)
    receipt.settle(3)
    assert await receipt.wait(0.01)
