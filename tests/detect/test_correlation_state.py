"""Correlation windows survive a restart: snapshot to PostgreSQL, restore, fire; hits table; replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from correlation_helpers import T0, engine, event, feed, ruleset
from test_correlation import BRUTE_FORCE, ORDERED, VALUE_COUNT_LT, failed, proc

from guetteur.detect.correlation import CorrelationEngine
from guetteur.store import detection as state


def test_snapshot_restore_round_trip_through_postgresql(app_dsn: str) -> None:
    """4 failures, save, 'restart' (a new engine), restore: the 5th failure fires with all 5."""
    eng, rules = engine(BRUTE_FORCE, lateness=30)
    for i in range(4):
        assert feed(eng, rules, "ssh_failed", failed(T0 + i, eid=f"before-{i}")) == []
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        state.save_snapshot(conn, eng, name="round-trip")
        state.save_snapshot(conn, eng, name="round-trip")  # upsert: saving twice keeps one row
        row = conn.execute(
            "SELECT count(*), max(groups) FROM correlation_state WHERE engine = 'round-trip'"
        ).fetchone()
        assert row == (1, 1)

    restarted = CorrelationEngine(ruleset(BRUTE_FORCE).correlations, lateness=30)
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        assert state.restore_engine(conn, restarted, name="round-trip") == 1
    out = feed(restarted, rules, "ssh_failed", failed(T0 + 4, eid="after"))
    assert len(out) == 1
    assert out[0].event_ids == ["before-0", "before-1", "before-2", "before-3", "after"]
    # the stream clocks were restored too: an event older than its stream's newest - lateness
    # is late (counted, and still placed)
    feed(restarted, rules, "ssh_failed", failed(T0 - 100))
    assert restarted.stats()["late"] == 1 and restarted.stats()["entries"] == 1


async def test_async_snapshot_and_ordered_state(app_dsn: str) -> None:
    eng, rules = engine(ORDERED)
    feed(eng, rules, "recon_a", proc(T0))
    feed(eng, rules, "recon_b", proc(T0 + 1))
    async with await psycopg.AsyncConnection.connect(app_dsn, autocommit=True) as conn:
        await state.asave_snapshot(conn, eng, name="partition-1")
        restarted = CorrelationEngine(ruleset(ORDERED).correlations, lateness=0)
        assert await state.arestore_engine(conn, restarted, name="partition-1") == 1
        assert await state.aload_snapshot(conn, name="other") is None
    out = feed(restarted, rules, "recon_c", proc(T0 + 2))
    assert len(out) == 1 and out[0].correlation == "temporal_ordered"


def test_closing_windows_are_restored_and_close(app_dsn: str) -> None:
    eng, rules = engine(VALUE_COUNT_LT)
    feed(eng, rules, "ssh_failed", failed(T0, ip="198.51.100.1"))
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        state.save_snapshot(conn, eng, name="closing")
        restarted = CorrelationEngine(ruleset(VALUE_COUNT_LT).correlations, lateness=0)
        state.restore_engine(conn, restarted, name="closing")
    assert [h.group_key for h in restarted.advance(T0 + 3600)] == [{"source.ip": "198.51.100.1"}]


def test_changed_rule_does_not_inherit_old_windows() -> None:
    eng, rules = engine(BRUTE_FORCE)
    for i in range(4):
        feed(eng, rules, "ssh_failed", failed(T0 + i))
    data = eng.snapshot()
    changed = CorrelationEngine(
        ruleset(BRUTE_FORCE.replace("timespan: 1m", "timespan: 2m")).correlations, lateness=0
    )
    assert changed.restore(data) == 0
    same = CorrelationEngine(
        ruleset(BRUTE_FORCE.replace("level: high", "level: low")).correlations, lateness=0
    )
    assert same.restore(data) == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"[]",
        b'{"version": 99}',
        b'{"version": 1, "rules": {"6a0c5a52-4f7c-4c4b-9a43-000000000002": 5}}',
        b'{"version": 1, "rules": {"6a0c5a52-4f7c-4c4b-9a43-000000000002": {"fingerprint": "%s",'
        b' "groups": [[["k"], [[1, null, 7, null]]]]}}}',
        b'{"version": 1, "rules": {"6a0c5a52-4f7c-4c4b-9a43-000000000002": {"fingerprint": "%s",'
        b' "groups": [[["k"], [["x", null, 0, null]]]]}}}',
        b"\xff" * 1000,
    ],
)
def test_corrupt_snapshot_is_refused_without_damage(data: bytes) -> None:
    eng, rules = engine(BRUTE_FORCE)
    feed(eng, rules, "ssh_failed", failed(T0))
    fingerprint = eng.specs[0].fingerprint.encode()
    data = data.replace(b"%s", fingerprint)
    with pytest.raises(ValueError):
        eng.restore(data)
    assert eng.stats()["entries"] == 1


def test_corrupt_snapshot_in_the_database_is_ignored(app_dsn: str) -> None:
    """A bad row is logged and the engine starts with what it has, rather than not at all."""
    eng, rules = engine(BRUTE_FORCE)
    feed(eng, rules, "ssh_failed", failed(T0))
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO correlation_state (engine, version, data) VALUES ('corrupt', 1, %s)"
            " ON CONFLICT (engine) DO UPDATE SET data = excluded.data",
            (b"\x00garbage",),
        )
        assert state.restore_engine(conn, eng, name="corrupt") == 0
        assert state.restore_engine(conn, eng, name="never-saved") == 0
    assert eng.stats()["entries"] == 1


def test_hits_are_stored(fresh_app_dsn: str) -> None:
    eng, rules = engine(BRUTE_FORCE)
    out = []
    for i in range(5):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i))
    with psycopg.connect(fresh_app_dsn, autocommit=True) as conn:
        assert state.insert_hits(conn, out) == 1
        row = conn.execute(
            "SELECT rule_id, level, tags, cardinality(event_ids), event_times[1], group_key, correlation,"
            " extra->>'condition' FROM hits"
        ).fetchone()
    assert row is not None
    assert row[0] == "6a0c5a52-4f7c-4c4b-9a43-000000000002"
    assert row[1:4] == ("high", ["attack.credential-access", "attack.t1110.001"], 5)
    assert row[4] == datetime.fromtimestamp(T0, UTC)
    assert row[5:] == ({"source.ip": "203.0.113.5"}, "event_count", "gte 5")


def test_stored_events_replay(fresh_dsn: str) -> None:
    """`stored_events` streams stored documents in time order with event.original restored."""
    now = datetime.now(UTC)
    docs = [event(now.timestamp() - 60 * k, f"0190f0f0-0000-7000-8000-00000000000{k}") for k in range(3)]
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("SELECT guetteur_ensure_event_partitions(1)")
        for k, doc in enumerate(docs):
            conn.execute(
                "INSERT INTO events (id, ts, batch_id, doc, original) VALUES (%s, %s, 1, %s, %s)",
                (doc["event"]["id"], doc["@timestamp"], orjson.dumps(doc).decode(), f"line {k}"),
            )
        got = list(state.stored_events(conn, now - timedelta(minutes=5)))
        assert [g["event"]["original"] for g in got] == ["line 2", "line 1", "line 0"]
        assert len(list(state.stored_events(conn, now - timedelta(minutes=5), limit=1))) == 1
        assert list(state.stored_events(conn, now + timedelta(minutes=5))) == []
