"""Reading events: filters, time bounds, newest first, keyset pages that return each row once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from guetteur.ecs import iso_utc
from guetteur.model import Event
from guetteur.store.events import count_events, get_event, query_events
from guetteur.store.writer import EventWriter

Make = Callable[..., Event]
NOW = datetime.now(UTC).replace(microsecond=0)
# Spread over every search window: the future, minutes, hours, days, months, years ago.
OFFSETS = [timedelta(days=3650), timedelta(seconds=-5), timedelta(minutes=-30), timedelta(hours=-5),
           timedelta(days=-3), timedelta(days=-20), timedelta(days=-400), timedelta(days=-3000)]


def corpus(make: Make) -> list[Event]:
    events: list[Event] = []
    for n in range(400):
        event = make(n, NOW + OFFSETS[n % len(OFFSETS)])
        if n % 10 == 0:  # many rows sharing one timestamp
            event["@timestamp"] = iso_utc(NOW - timedelta(hours=2))
        events.append(event)
    return events


async def all_pages(pool: AsyncConnectionPool, limit: int, **kwargs: Any) -> list[Event]:
    seen: list[Event] = []
    cursor = None
    for _ in range(1000):
        page, cursor = await query_events(pool, limit=limit, after=cursor, **{"start": None, "end": None,
                                                                               "filters": {}, **kwargs})
        assert len(page) <= limit
        seen.extend(page)
        if cursor is None:
            return seen
    raise AssertionError("pagination does not end")


def key(event: Event) -> tuple[str, str]:
    return (event["event"]["id"], event["event"]["ingested"])


@pytest.fixture
async def stored(app_pool: AsyncConnectionPool, fresh_app_dsn: str, make_event: Make) -> list[Event]:
    events = corpus(make_event)
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch(events[:150])
        writer.write_batch(events[150:])
        writer.write_batch(events[:20])  # the same events again: same ids in another batch
    return events


async def test_pages_return_every_row_once_newest_first(app_pool: AsyncConnectionPool, stored: list[Event]) -> None:
    for limit in (1, 7, 50, 1000):
        got = await all_pages(app_pool, limit)
        assert len(got) == 420
        assert len({key(e) for e in got}) == 420
        times = [datetime.fromisoformat(e["@timestamp"]) for e in got]
        assert times == sorted(times, reverse=True)
    assert await count_events(app_pool) == 420


async def test_filters(app_pool: AsyncConnectionPool, stored: list[Event]) -> None:
    def expected(pred: Callable[[Event], bool]) -> set[str]:
        ids = {e["event"]["id"] for e in stored if pred(e)}
        return ids

    async def ids(**filters: str) -> set[str]:
        return {e["event"]["id"] for e in await all_pages(app_pool, 33, filters=filters)}

    assert await ids(host="web-3") == expected(lambda e: e["host"]["name"] == "web-3")
    assert await ids(user="user5", outcome="success") == expected(
        lambda e: e["user"]["name"] == "user5" and e["event"]["outcome"] == "success")
    assert await ids(source_ip="203.0.1.7") == expected(lambda e: e["source"]["ip"] == "203.0.1.7")
    assert await ids(source_ip="203.0.1.0/24") == expected(lambda e: e["source"]["ip"].startswith("203.0.1."))
    assert await ids(destination_ip="10.0.0.5", category="authentication", severity="5",
                     source_type="linux.auth", action="ssh_login") == expected(lambda e: True)
    assert await ids(category="network") == set()
    assert await ids(host="web-3' OR '1'='1") == set()
    # values are exact, through the KQL compiler: quotes, wildcards and KQL syntax are literal
    for hostile in ('web-3" or *:* or "', "web-*", "*", "web-3\\", "(web-3)", "host.name:web-3"):
        assert await ids(host=hostile) == set(), hostile


async def test_time_bounds(app_pool: AsyncConnectionPool, stored: list[Event]) -> None:
    start, end = NOW - timedelta(days=30), NOW
    got = await all_pages(app_pool, 9, start=start, end=end)
    want = {e["event"]["id"] for e in stored if start <= datetime.fromisoformat(e["@timestamp"]) < end}
    assert {e["event"]["id"] for e in got} == want and len(got) == len({key(e) for e in got})
    assert all(start <= datetime.fromisoformat(e["@timestamp"]) < end for e in got)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": {"nope": "x"}}, "unknown filter"),
        ({"filters": {"source_ip": "300.1.1.1"}}, "not an IP"),
        ({"filters": {"severity": "high"}}, "severity"),
        ({"filters": {"severity": "99999999"}}, "severity"),
        ({"after": "garbage!!"}, "cursor"),
        ({"after": "MTIzLnh5ei4x"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 10**6}, "limit"),
    ],
)
async def test_bad_requests_raise_value_error(app_pool: AsyncConnectionPool, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"start": None, "end": None, "filters": {}, "limit": 10, "after": None, **kwargs}
    with pytest.raises(ValueError, match=message):
        await query_events(app_pool, **args)


async def test_events_come_back_as_stored(app_pool: AsyncConnectionPool, fresh_app_dsn: str, make_event: Make) -> None:
    event = make_event(3, NOW)
    event["message"] = "nul\x00 and émoji 🛡️"
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch([event])
    page, cursor = await query_events(app_pool, start=None, end=None, filters={}, limit=5, after=None)
    assert cursor is None and len(page) == 1
    got = page[0]
    assert got["event"]["original"] == event["event"]["original"]
    assert got["event"]["ingested"] == iso_utc(receipt.stored_at)  # type: ignore[arg-type]
    assert got["message"] == "nul\ufffd and émoji 🛡️"
    assert got["source"] == event["source"] and got["@timestamp"] == event["@timestamp"]
    assert await get_event(app_pool, receipt.ids[0]) == got
    assert await get_event(app_pool, "01890000-0000-7000-8000-000000000000") is None
    assert await get_event(app_pool, "not an id") is None
