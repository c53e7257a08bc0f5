"""`guetteur up` keeps the per-minute counts (search.rollup_interval): events sent over HTTP end
up counted in `event_rollup`, and `/search/count` and `/search/histogram` answer the same
as reading every event."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from tests.api.people import add_user, bearer

from guetteur.config import SearchSettings, Settings
from guetteur.search.compile import compile_query
from guetteur.search.fields import BASE_FIELDS
from guetteur.store.pool import open_pool
from guetteur.store.search import TimeRange, count, histogram


async def test_guetteur_up_keeps_the_counts_and_the_api_reads_them(settings: Settings, make_running: Any) -> None:
    settings.search = SearchSettings(rollup_interval=0.2)
    base = datetime(2025, 5, 4, 8, 0, 30, tzinfo=UTC)
    lines = [orjson.dumps({"@timestamp": (base + timedelta(seconds=37 * i)).isoformat(), "message": f"line {i}",
                           "host": {"name": f"h{i % 3}"},
                           "event": {"outcome": "failure" if i % 4 == 0 else "success"}}) for i in range(400)]
    async with make_running() as running:
        response = await running.ingest(b"\n".join(lines), "application/x-ndjson")
        assert response.status_code == 202, response.text
        await running.wait_stored(400)
        deadline = time.monotonic() + 60
        while True:  # the task counts every stored batch
            with psycopg.connect(running.owner_dsn) as conn:
                row = conn.execute("SELECT (SELECT seq FROM event_rollup_cursor), (SELECT max(seq) FROM batches),"
                                   " (SELECT sum(events) FROM event_rollup)").fetchone()
            assert row is not None
            if row[0] == row[1]:
                break
            assert time.monotonic() < deadline, row
            await asyncio.sleep(0.2)
        assert row[2] >= 400  # the audit events of the test's logins are counted too
        headers = await bearer(running.http, add_user(running.owner_dsn, "reader", "viewer"))
        window = {"start": (base - timedelta(seconds=10)).isoformat(), "end": (base + timedelta(hours=4)).isoformat()}
        pool = await open_pool(running.owner_dsn, max_size=1, application_name="test-rollup-api")
        try:
            for query in ("", "event.outcome:failure", "host.name:h1 and not event.outcome:failure"):
                compiled = compile_query(query, known=BASE_FIELDS, now=datetime.now(UTC))
                span = TimeRange(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"]))
                raw = await count(pool, compiled, span, use_rollup=False)
                assert raw > 0
                got = await running.http.get("/api/v1/search/count", params={"q": query, **window}, headers=headers)
                assert got.status_code == 200 and got.json()["count"] == raw, (query, got.text)
                _, buckets = await histogram(pool, compiled, span, buckets=24, use_rollup=False)
                chart = await running.http.get("/api/v1/search/histogram", params={"q": query, "buckets": 24, **window},
                                               headers=headers)
                assert [b["count"] for b in chart.json()["buckets"]] == [n for _, n in buckets], query
        finally:
            await pool.close()
