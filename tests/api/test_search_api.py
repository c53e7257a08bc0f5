"""The search endpoints over HTTP against a running Guetteur and real PostgreSQL: pages and
cursors, count, histogram, top values, fields, exports, surrounding events, saved searches,
errors with positions, hostile input, the concurrency cap and the statement timeout; and
`guetteur search` gives the same events as the API."""

from __future__ import annotations

import asyncio
import copy
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from tests.api.people import add_user, bearer
from tests.search.dataset import DOCS
from typer.testing import CliRunner

from guetteur.cli import app as cli_app
from guetteur.config import SearchSettings, Settings
from guetteur.store.writer import EventWriter

WINDOW = {"start": "2023-01-01", "end": "2025-01-01"}
CONTEXT_BASE = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def store(dsn: str, events: list[dict[str, Any]]) -> None:
    writer = EventWriter(dsn)
    try:
        writer.write_batch(copy.deepcopy(events))
    finally:
        writer.close()


def context_events() -> list[dict[str, Any]]:
    """Five events of host `ctx`, a minute apart, and one of another host in between."""
    events = [{"@timestamp": (CONTEXT_BASE + timedelta(minutes=i)).isoformat(), "host": {"name": "ctx"},
               "message": f"step {i}", "labels": {"doc": f"c{i}"}, "event": {}} for i in range(5)]
    events.append({"@timestamp": (CONTEXT_BASE + timedelta(minutes=2, seconds=30)).isoformat(),
                   "host": {"name": "other"}, "message": "elsewhere", "labels": {"doc": "x"}, "event": {}})
    return events


def names(body: dict[str, Any]) -> list[str]:
    return [e["labels"]["doc"] for e in body["data"]]


async def test_search_endpoints(make_running: Any) -> None:
    """Every search endpoint answers as documented on the fixed data set."""
    async with make_running() as running:
        store(running.owner_dsn, [*DOCS, *context_events()])
        http = running.http
        viewer = {"Authorization": f"Bearer {running.read_key}"}

        # search: newest first, paginated by cursor without gaps or repeats
        r = await http.get("/api/v1/search", params={"q": "host.name:web-*", **WINDOW}, headers=viewer)
        assert r.status_code == 200, r.text
        assert names(r.json()) == ["d02", "d08", "d01"]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"q": "host.name:web-*", "limit": 1, **WINDOW}
            if cursor:
                params["cursor"] = cursor
            page = (await http.get("/api/v1/search", params=params, headers=viewer)).json()
            seen += names(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["d02", "d08", "d01"]
        r = await http.get("/api/v1/search", params={"q": "host.name:web-*", "sort": "asc", **WINDOW}, headers=viewer)
        assert names(r.json()) == ["d01", "d08", "d02"]
        # the stored document comes back whole, event.original and event.ingested included
        r = await http.get("/api/v1/search", params={"q": '"failed password"', **WINDOW}, headers=viewer)
        [doc] = r.json()["data"]
        assert doc["user"]["name"] == "alice" and "ingested" in doc["event"]
        # the default window is the last 15 minutes: the 2024 events are not in it
        r = await http.get("/api/v1/search", params={"q": "host.name:web-1"}, headers=viewer)
        assert r.json()["data"] == []

        # count and histogram
        r = await http.get("/api/v1/search/count", params={"q": "@timestamp:2024-03-05", **WINDOW}, headers=viewer)
        assert r.json()["count"] == 6
        r = await http.get("/api/v1/search/histogram", headers=viewer,
                           params={"start": "2024-03-05", "end": "2024-03-05", "buckets": 24})
        hist = r.json()
        assert r.status_code == 200, r.text
        assert hist["interval_seconds"] == 3600 and len(hist["buckets"]) == 24
        assert sum(b["count"] for b in hist["buckets"]) == 6
        assert {b["start"][11:13]: b["count"] for b in hist["buckets"] if b["count"]} == {
            "00": 1, "10": 3, "11": 1, "23": 1}

        # top values (a sample of recent matches, said so) and the field list
        r = await http.get("/api/v1/search/top", params={"field": "user.name", **WINDOW}, headers=viewer)
        top = r.json()
        assert top["sampled"] is True and top["sample_size"] == len(DOCS) + 6
        assert top["values"][0] == {"value": "alice", "count": 2}
        r = await http.get("/api/v1/search/fields", params=WINDOW, headers=viewer)
        fields = {f["name"]: f for f in r.json()["fields"]}
        assert fields["message"]["kind"] == "text" and fields["source.ip"]["kind"] == "ip"
        assert fields["host.name"]["kind"] == "keyword" and fields["host.name"]["count"] == 11
        assert fields["http.response.status_code"]["count"] == 2

        # surrounding events: same host, by time, the other host left out
        [middle] = (await http.get("/api/v1/search", params={"q": "labels.doc:c2", **WINDOW}, headers=viewer)).json()["data"]
        r = await http.get(f"/api/v1/events/{middle['event']['id']}/surrounding", params={"size": 1}, headers=viewer)
        around = r.json()
        assert [e["labels"]["doc"] for e in around["before"]] == ["c1"]
        assert around["event"]["labels"]["doc"] == "c2"
        assert [e["labels"]["doc"] for e in around["after"]] == ["c3"]
        r = await http.get("/api/v1/events/00000000-0000-7000-8000-000000000000/surrounding", headers=viewer)
        assert r.status_code == 404

        # errors: 400 with a message and the character position
        r = await http.get("/api/v1/search", params={"q": "host.name:(web-1", **WINDOW}, headers=viewer)
        assert r.status_code == 400
        assert r.json()["detail"]["position"] == 16 and "expected" in r.json()["detail"]["message"]
        r = await http.get("/api/v1/search", params={"q": "source.ip:not-an-ip", **WINDOW}, headers=viewer)
        assert r.status_code == 400 and r.json()["detail"]["position"] == 10
        r = await http.get("/api/v1/search", params={"q": "x", "start": "yesterday"}, headers=viewer)
        assert r.status_code == 400
        r = await http.get("/api/v1/search", params={"cursor": "bm9wZQ", **WINDOW}, headers=viewer)
        assert r.status_code == 400

        # hostile input anywhere finds nothing or is a 400, never a server error
        for q in ("'; DROP TABLE events; --", '"a\'); DELETE FROM events; --":x', "a:\\u0000", "*'*:*",
                  "host.name:" + "(" * 60 + "x" + ")" * 60, "message:" + "a*" * 500):
            r = await http.get("/api/v1/search", params={"q": q, **WINDOW}, headers=viewer)
            assert r.status_code in (200, 400), (q, r.status_code, r.text)
        r = await http.get("/api/v1/search/top", params={"field": "x') OR 1=1 --", **WINDOW}, headers=viewer)
        assert r.status_code == 200 and r.json()["values"] == []

        # export: analysts only; CSV and NDJSON, capped
        r = await http.get("/api/v1/search/export", params={"q": "host.name:*", **WINDOW}, headers=viewer)
        assert r.status_code == 403
        analyst = await bearer(http, add_user(running.owner_dsn, "ana", "analyst"))
        r = await http.get("/api/v1/search/export", params={"q": "host.name:web-*", "format": "csv", **WINDOW},
                           headers=analyst)
        rows = list(csv.reader(io.StringIO(r.text)))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert rows[0][:2] == ["@timestamp", "host.name"] and [row[1] for row in rows[1:]] == ["web-2", "web-10", "web-1"]
        r = await http.get("/api/v1/search/export", params={"format": "ndjson", "max_rows": 4, **WINDOW},
                           headers=analyst)
        lines = r.content.splitlines()
        assert len(lines) == 4 and all("@timestamp" in orjson.loads(line) for line in lines)

        # saved searches belong to their owner
        r = await http.put("/api/v1/saved-searches", json={"name": "web", "query": "host.name:web-*"}, headers=viewer)
        assert r.status_code == 200, r.text
        saved = r.json()
        r = await http.put("/api/v1/saved-searches", json={"name": "bad", "query": "a:(b"}, headers=viewer)
        assert r.status_code == 400 and r.json()["detail"]["position"] == 4
        assert [s["name"] for s in (await http.get("/api/v1/saved-searches", headers=viewer)).json()] == ["web"]
        assert (await http.get("/api/v1/saved-searches", headers=analyst)).json() == []
        assert (await http.delete(f"/api/v1/saved-searches/{saved['id']}", headers=analyst)).status_code == 404
        assert (await http.delete(f"/api/v1/saved-searches/{saved['id']}", headers=viewer)).status_code == 204
        assert (await http.get("/api/v1/saved-searches", headers=viewer)).json() == []

        # no credentials: 401
        assert (await http.get("/api/v1/search", params=WINDOW)).status_code == 401


async def test_cli_and_api_give_the_same_events(make_running: Any, tmp_path: Path) -> None:
    """`guetteur search QUERY --format ndjson` prints the events the API returns, in the same order."""
    queries = ("host.name:web-*", "password or error", "not user.name:* and message:*", "@timestamp >= 2024-03-05T10")
    async with make_running() as running:
        store(running.owner_dsn, list(DOCS))
        runner = CliRunner()
        env = {"GUETTEUR_DATABASE_URL": running.owner_dsn, "GUETTEUR_DATA_DIR": str(tmp_path / "cli")}
        for q in queries:
            api = await running.http.get("/api/v1/search", params={"q": q, **WINDOW},
                                         headers={"Authorization": f"Bearer {running.read_key}"})
            result = await asyncio.to_thread(
                runner.invoke, cli_app, ["search", q, "--start", WINDOW["start"], "--end", WINDOW["end"],
                                         "--format", "ndjson"], env=env)
            assert result.exit_code == 0, result.output
            cli = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
            assert [e["event"]["id"] for e in cli] == [e["event"]["id"] for e in api.json()["data"]], q
            assert cli, q
        table = await asyncio.to_thread(runner.invoke, cli_app, ["search", "host.name:web-1", "--start", "2024-03-05",
                                                                 "--end", "2024-03-05"], env=env)
        assert table.exit_code == 0 and "web-1" in table.stdout and "1 events" in table.stdout
        bad = await asyncio.to_thread(runner.invoke, cli_app, ["search", "a:(b"], env=env)
        assert bad.exit_code == 2 and "^" in bad.output


def many_events() -> list[dict[str, Any]]:
    base = datetime(2024, 3, 5, tzinfo=UTC)
    return [{"@timestamp": (base + timedelta(seconds=i)).isoformat(), "message": f"line {i} of a long day",
             "host": {"name": f"h{i % 50}"}, "event": {}} for i in range(20_000)]


SLOW = {"q": "*o*f* or message:*a*y*", **WINDOW}


async def test_concurrency_cap(make_running: Any, settings: Settings) -> None:
    """More searches at once than `search.max_concurrent` get 429 at once; the others run."""
    settings.search = SearchSettings(max_concurrent=1, statement_timeout=30)
    async with make_running() as running:
        store(running.owner_dsn, many_events())
        viewer = {"Authorization": f"Bearer {running.read_key}"}

        async def one() -> int:
            return (await running.http.get("/api/v1/search/count", params=SLOW, headers=viewer)).status_code

        codes = await asyncio.gather(*(one() for _ in range(8)))
        assert set(codes) <= {200, 429} and 200 in codes and 429 in codes, codes


async def test_statement_timeout(make_running: Any, settings: Settings) -> None:
    """A search longer than `search.statement_timeout` is cut by PostgreSQL and answered 400
    with the reason, not 500; the API goes on answering."""
    settings.search = SearchSettings(statement_timeout=0.001)
    async with make_running() as running:
        store(running.owner_dsn, many_events())
        r = await running.http.get("/api/v1/search/count", params=SLOW,
                                   headers={"Authorization": f"Bearer {running.read_key}"})
        assert r.status_code == 400 and "longer than 1 ms" in r.json()["detail"]["message"], r.text
        health = await running.http.get("/api/v1/health")
        assert health.status_code == 200
