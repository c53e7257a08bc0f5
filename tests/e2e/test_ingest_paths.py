"""From a log line to a stored, searchable event, through every transport of a running Guetteur."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path
from typing import Any

import orjson
import psycopg
from tests.e2e.conftest import send_tcp, send_udp

SSH_FAIL = "<38>Nov 21 08:40:01 web-01 sshd[123]: Failed password for invalid user admin{n} from 203.0.113.{m} port 4242 ssh2"


def stored_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        return int(row[0])


async def test_every_transport_is_stored_counted_and_searchable(make_running: Any) -> None:
    async with make_running() as running:
        newline = "".join(SSH_FAIL.format(n=n, m=n % 250) + "\n" for n in range(300)).encode()
        octet = b"".join(b"%d %s" % (len(line), line) for line in
                         (SSH_FAIL.format(n=n, m=7).encode() for n in range(300, 400)))
        await asyncio.to_thread(send_tcp, running.tcp, newline)
        await asyncio.to_thread(send_tcp, running.tcp, octet)
        await asyncio.to_thread(send_udp, running.udp,
                                [b"<13>Nov 21 08:40:00 db-01 app: udp line %d" % n for n in range(50)])
        ndjson = b"\n".join(orjson.dumps({"@timestamp": "2026-11-21T08:00:00Z", "message": f"json {n}",
                                          "user": {"name": "alice"}, "event": {"category": ["web"]}})
                            for n in range(40))
        assert (await running.ingest(ndjson, "application/x-ndjson")).json() == {"accepted": 40}
        array = orjson.dumps([{"msg": f"array {n}", "level": "warn", "user": "bob"} for n in range(10)])
        assert (await running.ingest(array, "application/json")).json() == {"accepted": 10}
        plain = b"2026-04-06 16:21:41,594 - WARNING - patient record 12 read\n" * 5
        assert (await running.ingest(plain, "text/plain")).json() == {"accepted": 5}

        total = 300 + 100 + 50 + 40 + 10 + 5
        health = await running.wait_stored(total)
        sources = health["sources"]
        assert sources["syslog-tcp"]["received"] == sources["syslog-tcp"]["stored"] == 400
        assert sources["syslog-udp"]["stored"] == 50
        assert sources["http"]["stored"] == 55
        assert health["totals"]["dropped"] == 0
        assert stored_rows(running.owner_dsn) == total
        transports = health["transports"]
        assert transports["syslog-tcp"]["connections"] == 2
        assert transports["syslog-tcp"]["connections_open"] == 0
        assert transports["syslog-udp"]["received"] == 50

        page = await running.events(source_ip="203.0.113.7", limit=1000)
        assert page["count"] == 100 + 2  # the 100 octet-counted lines, and n=7 and n=257 of the first 300
        assert all(e["event"]["outcome"] == "failure" for e in page["data"])
        assert page["data"][0]["event"]["original"].startswith("<38>")
        assert (await running.events(user="alice", limit=1000))["count"] == 40

        # keyset pagination returns every row exactly once
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 97}
            if cursor:
                params["cursor"] = cursor
            page = await running.events(**params)
            seen.extend(e["event"]["id"] for e in page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == total
    assert running.final["totals"]["received"] == running.final["totals"]["stored"] == total


async def test_import_command_path(make_running: Any, tmp_path: Path) -> None:
    """`guetteur import` runs the same pipeline: files, folders and gz, all stored and counted."""
    from guetteur.cli.commands_ingest import run_import

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text("".join(SSH_FAIL.format(n=n, m=1)[4:] + "\n" for n in range(120)))
    with gzip.open(tmp_path / "logs" / "old.log.gz", "wt") as handle:
        handle.write("garbage \x01\x02 line\n" * 30)
    async with make_running() as running:
        settings = running.settings
    totals = await run_import(settings, [tmp_path / "logs"], None, progress=False)
    assert totals["received"] == 150
    assert totals["stored"] == 150
    assert totals["unparsed"] == 30
    assert stored_rows(running.owner_dsn) == 150
