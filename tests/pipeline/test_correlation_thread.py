"""Correlation runs on a thread of its own: the event loop (API, listeners) stays free while a
batch of SSH failures is correlated, batches are correlated in arrival order, and what fires
is exactly what the engine fires when fed on the caller's thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from guetteur.config import DetectSettings, Settings
from guetteur.model import RawRecord
from guetteur.parse import parse_batch
from guetteur.pipeline.detection import CorrelationFeed, CorrelationStage, WorkerDetection
from guetteur.pipeline.runtime import Pipeline

BATCH = 5000
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _ssh_failures(batch: int) -> list[RawRecord]:
    """One batch of sshd failures from 50 addresses against 20 users, one second apart."""
    records = []
    for i in range(BATCH):
        n = batch * BATCH + i
        moment = (START + timedelta(milliseconds=200 * n)).strftime("%b %d %H:%M:%S")
        ip = f"203.0.113.{n % 50 + 1}"
        line = f"{moment} web-1 sshd[{1000 + n % 97}]: Failed password for user{n % 20} from {ip} port {40000 + n % 999} ssh2"
        records.append(RawRecord(line.encode(), time.time(), "syslog-tcp"))
    return records


def _feeds(batches: int) -> list[CorrelationFeed]:
    detection = WorkerDetection(DetectSettings(correlation_lateness=5.0))
    feeds = [detection.run(parse_batch(_ssh_failures(b)).events).correlation for b in range(batches)]
    assert all(len(feed) == BATCH for feed in feeds), "every SSH failure must feed a correlation"
    return feeds


def _key(hit: Any) -> tuple[Any, ...]:
    return (hit.rule_id, tuple(sorted((hit.group_key or {}).items())), tuple(hit.event_ids), hit.extra.get("value"))


def test_the_event_loop_stays_free_while_batches_are_correlated(tmp_path: Path) -> None:
    """Acknowledged batches of 5,000 SSH failures reach correlation through `Pipeline._count`
    on the event loop; the loop only queues them, and every batch is correlated on the
    correlation thread, never on the loop's. Correlating on the loop, as before, held it for the
    whole batch (0.25-0.45 s each, 2 s or more for these 12). The longest stall a 10 ms ticker
    saw is printed, not asserted: it is wall-clock time, which a loaded machine stretches."""
    feeds = _feeds(12)
    pipeline = Pipeline(Settings(data_dir=tmp_path), "")
    stage = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    assert stage.active
    pipeline.correlation = stage
    correlating_threads: list[int] = []
    correlate = stage.correlate

    def recorded(items: CorrelationFeed) -> list[Any]:
        correlating_threads.append(threading.get_ident())
        return correlate(items)

    stage.correlate = recorded  # type: ignore[method-assign]
    stage.start_thread()

    async def run() -> tuple[float, float]:
        worst = 0.0
        done = False

        async def ticker() -> None:
            nonlocal worst
            last = time.monotonic()
            while not done:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                worst = max(worst, now - last)
                last = now

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        started = time.monotonic()
        for feed in feeds:  # acknowledgements arriving together, as `_on_result` callbacks
            pipeline._count({"sources": {}, "correlation": feed})
        await asyncio.to_thread(stage.drain)
        spent = time.monotonic() - started
        done = True
        await task
        return worst, spent

    try:
        worst, spent = asyncio.run(run())
    finally:
        stage.stop_thread()
    print(f"correlated {len(feeds) * BATCH} events in {spent:.2f} s; longest event-loop stall {worst * 1000:.0f} ms")
    assert stage.backlog == 0
    assert len(correlating_threads) == len(feeds)
    assert threading.get_ident() not in correlating_threads  # asyncio.run ran the loop on this thread
    assert stage.take_fired(), "the brute force must fire"


def test_the_thread_fires_what_the_engine_fires_in_order() -> None:
    """Fed batch after batch through the thread, the stage fires the same alerts, in the same
    order, as the engine fed the same batches on the caller's thread; `stop_thread` correlates
    everything still queued before it returns."""
    feeds = _feeds(3)
    reference = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    expected = [hit for feed in feeds for hit in reference.correlate(feed)]
    stage = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    stage.start_thread()
    for feed in feeds:
        stage.feed(feed)
    stage.stop_thread()
    fired = stage.take_fired()
    assert expected, "the brute force must fire"
    assert list(map(_key, fired)) == list(map(_key, expected))
    assert stage.take_fired() == []
    assert stage.health()["engine"]["groups"] == reference.health()["engine"]["groups"]


def test_alerts_that_could_not_be_stored_come_back_first() -> None:
    """`give_back` puts alerts a failed store returned ahead of the ones fired since."""
    stage = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    feeds = _feeds(2)
    stage.feed(feeds[0])  # no thread: correlated at once
    first = stage.take_fired()
    stage.feed(feeds[1])
    stage.give_back(first)
    again = stage.take_fired()
    assert again[:len(first)] == first
    assert len(again) > len(first)


class _Pool:
    """Stands in for the connection pool; `save` is cancelled before it uses a connection."""

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[object]:
        yield object()


def test_a_snapshot_cancelled_while_waiting_for_the_engine_leaves_it_free() -> None:
    """`stop()` cancels the once-a-second task; if that happens while a snapshot waits for the
    engine (the thread is correlating a batch), the engine must not stay locked: the thread
    goes on correlating and `stop_thread` returns."""
    stage = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    stage.start_thread()

    async def run() -> None:
        stage._lock.acquire()  # the thread is busy with a batch
        saving = asyncio.create_task(stage.save(_Pool()))
        await asyncio.sleep(0.2)
        saving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saving
        stage._lock.release()  # the batch is done
        await asyncio.sleep(0.2)

    asyncio.run(run())
    assert stage._lock.acquire(timeout=5), "the engine stayed locked after a cancelled snapshot"
    stage._lock.release()
    stage.feed(_feeds(1)[0])
    assert stage.drain(timeout=60)
    stage.stop_thread()
    assert stage.take_fired()
