"""The per-minute counts (`event_rollup`, migration 0780): counts and histograms of compatible
queries read them, and give exactly what reading every event gives, on seeded batches: before
any rollup, after it, with late events (an old minute in a new batch), events arriving inside the
window after the rollup (batches past the cursor), windows not on whole minutes, and documents
whose field the column does not mirror (the counts are not used for them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from guetteur.search.compile import compile_query
from guetteur.search.fields import BASE_FIELDS
from guetteur.store.pool import open_pool
from guetteur.store.rollup import roll_up, split
from guetteur.store.search import TimeRange, count, histogram
from guetteur.store.writer import EventWriter

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
QUERIES = ["", "*", "event.outcome:failure", "event.outcome:failure and host.name:web-1",
           "host.name:(web-1 or web-2) and not event.dataset:linux.auth", "not event.outcome:success",
           "event.dataset:web.access or event.outcome:unknown", "host.name:nowhere"]
WINDOWS = [(T0, T0 + timedelta(hours=2)), (T0 + timedelta(seconds=17), T0 + timedelta(minutes=95, seconds=42)),
           (T0 + timedelta(minutes=3, seconds=5), T0 + timedelta(minutes=3, seconds=50)),
           (T0 - timedelta(hours=1), T0 + timedelta(hours=3)), (T0 + timedelta(minutes=59), T0 + timedelta(minutes=61))]


def _event(i: int, moment: datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": moment.isoformat().replace("+00:00", "Z"), "message": f"event {i}",
                           "event": {"outcome": ("failure", "success", "unknown")[i % 3],
                                     "dataset": ("linux.auth", "web.access")[i % 2]},
                           "host": {"name": f"web-{i % 4}"}}
    if i % 11 == 0:
        del doc["host"]  # no host: a NULL column that mirrors the document
    if i % 13 == 0:
        del doc["event"]["outcome"]
    return doc


def _write(dsn: str, events: list[dict[str, Any]], size: int = 50) -> None:
    writer = EventWriter(dsn)
    try:
        for first in range(0, len(events), size):
            writer.write_batch(events[first:first + size])
    finally:
        writer.close()


def _roll_all(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while roll_up(conn, max_batches=3):
            pass


@pytest.fixture
async def pool(fresh_dsn: str) -> AsyncIterator[Any]:
    opened = await open_pool(fresh_dsn, max_size=2, application_name="test-rollup")
    try:
        yield opened
    finally:
        await opened.close()


async def _same_answers(pool: Any) -> int:
    """Asserts counts and histograms agree with and without the rollup; returns how many answers
    the rollup gave (the rest fell back to reading events)."""
    served = 0
    for query in QUERIES:
        compiled = compile_query(query, known=BASE_FIELDS, now=T0)
        assert compiled.rollup is not None, query
        for start, end in WINDOWS:
            window = TimeRange(start, end)
            raw = await count(pool, compiled, window, use_rollup=False)
            assert await count(pool, compiled, window) == raw, (query, start, end)
            for buckets in (4, 60, 200):
                assert await histogram(pool, compiled, window, buckets=buckets) == \
                    await histogram(pool, compiled, window, buckets=buckets, use_rollup=False), (query, start, buckets)
            async with pool.connection() as conn:
                served += await split(conn, start, end) is not None
    return served


async def test_counts_and_histograms_from_the_rollup_equal_the_raw_ones(fresh_dsn: str, pool: Any) -> None:
    _write(fresh_dsn, [_event(i, T0 + timedelta(seconds=7 * i)) for i in range(1000)])  # ~1 h 57 min
    assert await _same_answers(pool) > 0  # nothing rolled up yet: every batch is pending (few rows)
    _roll_all(fresh_dsn)
    assert await _same_answers(pool) > 0
    # Late events (old minutes, new batches) and events arriving inside the windows: not counted yet.
    _write(fresh_dsn, [_event(i, T0 + timedelta(seconds=13 * i + 3)) for i in range(300)]
           + [_event(i, T0 + timedelta(minutes=90, seconds=i)) for i in range(200)], size=40)
    assert await _same_answers(pool) > 0
    with psycopg.connect(fresh_dsn) as conn:
        pending = conn.execute("SELECT count(*) FROM batches WHERE seq > (SELECT seq FROM event_rollup_cursor)"
                               ).fetchone()
    assert pending is not None and pending[0] == 13
    _roll_all(fresh_dsn)
    assert await _same_answers(pool) > 0

    # The counts are really read: a row added by hand shows in the rollup's answer only.
    everything = compile_query("", known=BASE_FIELDS, now=T0)
    window = TimeRange(T0, T0 + timedelta(hours=2))
    before = await count(pool, everything, window)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO event_rollup (minute, day, host, outcome, source_type, irregular, events)"
                     " VALUES (%s, current_date, 'fake', NULL, NULL, false, 1000)", (T0 + timedelta(minutes=5),))
    assert await count(pool, everything, window) == before + 1000
    assert await count(pool, everything, window, use_rollup=False) == before


async def test_documents_the_columns_do_not_mirror_are_read_from_events(fresh_dsn: str, pool: Any) -> None:
    """An `event.outcome` array leaves the column NULL; `event.outcome:failure` matches it through
    the document. Minutes holding such an event are not answered from the counts."""
    events = [_event(i, T0 + timedelta(seconds=10 * i)) for i in range(120)]
    events[30]["event"]["outcome"] = ["failure", "retry"]
    events[31]["host"] = {"name": ["web-1", "web-9"]}
    _write(fresh_dsn, events)
    _roll_all(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        irregular = conn.execute("SELECT sum(events) FROM event_rollup WHERE irregular").fetchone()
    assert irregular == (2,)
    assert await _same_answers(pool) >= 0
    failures = compile_query("event.outcome:failure", known=BASE_FIELDS, now=T0)
    window = TimeRange(T0, T0 + timedelta(minutes=30))
    raw = await count(pool, failures, window, use_rollup=False)
    assert await count(pool, failures, window) == raw == sum(
        1 for i, e in enumerate(events) if "failure" in str(e["event"].get("outcome")))
    async with pool.connection() as conn:
        assert await split(conn, window.start, window.end) is None  # the irregular minute is inside
        assert await split(conn, T0 + timedelta(minutes=6), window.end) is not None
