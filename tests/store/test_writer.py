"""The write path: every accepted event is stored, whatever its content."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from store_helpers import count

from guetteur.errors import StoreUnavailable
from guetteur.model import Event
from guetteur.store.chain import verify
from guetteur.store.ids import new_event_id, parse_event_id
from guetteur.store.writer import EventWriter

Make = Callable[..., Event]


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def hostile_events(make: Make) -> list[Event]:
    """One event per kind of bad value, mixed into realistic ones."""
    deep: Any = "bottom"
    for _ in range(2000):
        deep = {"d": deep}
    nested_list: Any = 1
    for _ in range(300):
        nested_list = [nested_list]
    weird: list[Event] = [
        {"@timestamp": "not a time", "source": {"ip": "999.1.1.1"}, "destination": {"ip": "::zz"}},
        {"@timestamp": "2025-02-30T00:00:00Z", "source": {"ip": "10.0.0.1\x00"}, "message": "nul\x00inside"},
        {"@timestamp": 12345, "event": {"severity": 10**9, "category": "single", "original": "\x00" * 10}},
        {"event": {"severity": "3", "category": [1, None, "web"], "action": {"nested": "obj"}}},
        {"event": {"severity": True, "outcome": ["a", "b"]}, "host": "not-a-dict", "user": {"name": 42}},
        {"message": "x" * 1_048_576, "event": {"original": "y" * 1_048_576}},
        {"message": "emoji 🛡️ RTL \u202e gnp.exe, zero-width \u200b, CJK 監視, combining e\u0301"},
        {"message": "lone surrogate \ud800 here", "labels": {"k\x00ey": "v", "\udfff": 1}},
        {"deep": deep, "lists": nested_list},
        {"big": 2**80, "neg": -(2**70), "nan": float("nan"), "inf": float("inf"), "obj": Unprintable()},
        {"keys": {1: "int key", (1, 2): "tuple key", None: "none key"}, "set": {1, 2}, "bytes": b"\xff\x00"},
        {"@timestamp": "0001-01-01T00:00:00+14:00", "source": {"ip": "fe80::1%eth0"}, "destination": {"ip": "::ffff:1.2.3.4"}},
        {"@timestamp": "9999-12-31T23:59:59.999999Z", "event": "not a dict", "tags": "not a list"},
        {"event": {"id": "not-a-uuid"}, "message": "source id"},
        {"event": {"id": "0192d1a6-2b5c-4c3b-8a43-9f5b2b0c1d2e"}, "message": "uuid v4 is not ours"},
        {"event": {"original": "tab\there\nnewline\rcr\\backslash\"quote"}},
        {},
    ]
    events = [make(i) for i in range(3000)]
    for n, event in enumerate(weird):
        events.insert(n * 150, event)
    return events


def test_hostile_batch_is_stored_whole(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    events = hostile_events(make_event)
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch(events)
    assert receipt.rows == len(events) == count(fresh_dsn)
    assert receipt.quarantined == []
    assert len(set(receipt.ids)) == len(events)
    assert all(parse_event_id(i) for i in receipt.ids)
    assert [e["event"]["id"] for e in events] == receipt.ids
    assert verify(fresh_dsn).ok
    with psycopg.connect(fresh_dsn) as conn:
        bad = conn.execute(
            "SELECT ts = ingested, source_ip, destination_ip, doc->'source'->>'ip' FROM events"
            " WHERE doc->>'@timestamp' = 'not a time'"
        ).fetchone()
        assert bad == (True, None, None, "999.1.1.1")  # bad values: NULL column, kept in doc
        mapped = conn.execute(
            "SELECT destination_ip FROM events WHERE doc->'destination'->>'ip' = '::ffff:1.2.3.4'"
        ).fetchone()
        assert mapped is not None and mapped[0] == ipaddress.ip_address("::ffff:1.2.3.4")
        big = conn.execute(
            "SELECT length(original), length(doc->>'message') FROM events WHERE length(original) > 1000000"
        ).fetchone()
        assert big == (1_048_576, 1_048_576)
        nul = conn.execute(
            "SELECT doc->>'message', doc->'tags' FROM events WHERE doc->>'message' LIKE 'nul%%'"
        ).fetchone()
        assert nul == ("nul\ufffdinside", ["store_sanitized"])
        severity = conn.execute(
            "SELECT severity, category FROM events WHERE doc->'event'->>'severity' = '3'"
        ).fetchone()
        assert severity == (3, ["web"])
        weird_text = conn.execute(
            "SELECT doc->>'message' FROM events WHERE doc->>'message' LIKE 'emoji%%'"
        ).fetchone()
        assert weird_text == ("emoji 🛡️ RTL \u202e gnp.exe, zero-width \u200b, CJK 監視, combining e\u0301",)
        src = conn.execute(
            "SELECT doc->'labels'->>'source_event_id' FROM events WHERE doc->>'message' = 'source id'"
        ).fetchone()
        assert src == ("not-a-uuid",)
        escaped = conn.execute(
            "SELECT original FROM events WHERE original LIKE 'tab%%'"
        ).fetchone()
        assert escaped == ("tab\there\nnewline\rcr\\backslash\"quote",)
        # the original line is not stored twice
        assert conn.execute("SELECT count(*) FROM events WHERE doc->'event' ? 'original'").fetchone() == (0,)


def test_hot_columns_are_filled(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    event = make_event(7)
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([event])
    with psycopg.connect(fresh_dsn) as conn:
        row = conn.execute(
            "SELECT ts, host, user_name, source_ip, destination_ip, category, action, outcome, severity,"
            " source_type, original, doc->'event'->>'id' = id::text FROM events"
        ).fetchone()
    assert row == (
        datetime(2025, 3, 14, 12, 0, 0, 7000, tzinfo=UTC), "web-0", "user7", ipaddress.ip_address("203.0.0.8"),
        ipaddress.ip_address("10.0.0.5"), ["authentication"], "ssh_login", "failure", 5, "linux.auth",
        event["event"]["original"], True,
    )


def test_existing_ids_are_kept_and_duplicates_replaced(fresh_app_dsn: str, make_event: Make) -> None:
    known = new_event_id()
    a, b, c = make_event(1), make_event(2), make_event(3)
    a["event"]["id"] = known
    b["event"]["id"] = known.upper()  # same id, other spelling: a duplicate
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch([a, b, c])
    assert receipt.ids[0] == known
    assert receipt.ids[1] != known and parse_event_id(receipt.ids[1])
    assert len(set(receipt.ids)) == 3


def test_refused_rows_are_quarantined_without_loss(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    """PostgreSQL itself refuses some rows (a CHECK constraint added for the test): the batch
    is split until they are isolated, and they are stored in the quarantine form, tagged."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE events ADD CONSTRAINT test_refuse CHECK (host IS DISTINCT FROM 'refuse-me')")
    events = [make_event(i) for i in range(1000)]
    for i in (0, 417, 999):
        events[i]["host"]["name"] = "refuse-me"
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch(events)
    assert receipt.rows == 1000 == count(fresh_dsn)
    assert receipt.quarantined == [0, 417, 999]
    assert verify(fresh_dsn).ok
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute(
            "SELECT id::text, host, doc, original FROM events WHERE doc->'tags' ? 'quarantined' ORDER BY id"
        ).fetchall()
    assert len(rows) == 3
    for event_id, host, doc, original in rows:
        assert host is None
        assert doc["event"]["id"] == event_id
        assert "test_refuse" in doc["error"]["message"]
        whole = json.loads(original)  # the full event survives in `original`
        assert whole["host"]["name"] == "refuse-me"
        assert whole["event"]["id"] == event_id
        assert whole["event"]["original"].startswith("Mar 14")


def test_many_batches_and_empty_batch(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    with EventWriter(fresh_app_dsn) as writer:
        assert writer.write_batch([]).rows == 0
        receipts = [writer.write_batch([make_event(i) for i in range(n * 100, n * 100 + 100)]) for n in range(5)]
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
    assert count(fresh_dsn) == 500
    assert count(fresh_dsn, "SELECT count(DISTINCT ingested) FROM events") == 5
    report = verify(fresh_dsn)
    assert report.ok and report.batches_checked == 5 and report.rows_checked == 500
    assert report.head_hash == receipts[-1].chain_hash


def test_writer_reconnects_after_losing_its_connection(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([make_event(1)])
        with psycopg.connect(fresh_dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'guetteur-writer'"
                " AND datname = current_database()"
            )
        try:
            writer.write_batch([make_event(2)])
        except StoreUnavailable as exc:  # the batch in flight is not stored; the caller retries it
            assert exc.recoverable
        writer.write_batch([make_event(3)])
    assert count(fresh_dsn) in (2, 3)
    assert verify(fresh_dsn).ok


def test_a_connection_left_busy_by_a_failure_is_replaced(fresh_app_dsn: str, fresh_dsn: str,
                                                         make_event: Make) -> None:
    """A failure can leave the connection neither broken nor usable: libpq still holds a command
    in progress, so every query is refused with "another command is already in progress". The
    writer must not retry on it for ever (seen after a test cut the database mid-COPY)."""
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([make_event(1)])
        assert writer._conn is not None
        writer._conn.pgconn.send_query(b"SELECT pg_sleep(30)")  # sent, its result never read
        try:
            writer.write_batch([make_event(2)])
        except StoreUnavailable as exc:
            assert exc.recoverable and "another command is already in progress" in str(exc)
        else:
            raise AssertionError("a busy connection accepted a batch")
        receipt = writer.write_batch([make_event(3)])  # the caller's retry
        assert receipt.rows == 1
    assert count(fresh_dsn) == 2
    assert verify(fresh_dsn).ok
