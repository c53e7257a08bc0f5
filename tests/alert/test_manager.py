"""The alert manager on a real PostgreSQL: each hit into one alert exactly once, in its
transaction, across restarts and out-of-order commits; history rows; NOTIFY."""

from __future__ import annotations

import asyncio
import tracemalloc

import psycopg
import pytest
from alert_helpers import BRUTE_FORCE, hit, manager, rows, store_hits

from guetteur.alert.model import entity_key
from guetteur.store.detection import insert_hits

GROUP = {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"}


async def test_a_brute_force_burst_is_one_alert_with_its_history(fresh_app_dsn: str) -> None:
    store_hits(fresh_app_dsn, [hit(at=30 * i, group=GROUP) for i in range(4)])
    async with manager(fresh_app_dsn) as m:
        assert await m.run_round() == 4
        assert await m.run_round() == 0
    alerts = rows(fresh_app_dsn, "SELECT id, rule_id, severity, status, count, entity, entity_key, techniques,"
                                 " tactics, event_total FROM alerts")
    assert len(alerts) == 1
    alert_id, rule, severity, status, count, entity, key, techniques, tactics, total = alerts[0]
    assert (rule, severity, status, count, total) == (BRUTE_FORCE, "medium", "open", 4, 4)
    assert entity == GROUP and key == entity_key(GROUP)
    assert techniques == ["T1110.001"] and tactics == ["credential-access"]
    history = rows(fresh_app_dsn, "SELECT actor, action FROM alert_history WHERE alert_id = %s ORDER BY id",
                   (alert_id,))
    assert history == [("system", "created")]
    assert rows(fresh_app_dsn, "SELECT count(*), count(DISTINCT hit_id) FROM alert_hits") == [(4, 4)]


async def test_single_event_hits_take_the_events_host_user_and_address(fresh_app_dsn: str) -> None:
    event = {"host": {"name": "db-01"}, "user": {"name": "jdoe"}, "source": {"ip": "10.0.0.9"}}
    store_hits(fresh_app_dsn, [hit("uid0", level="high", event=event, tags=["attack.t1136.001"])])
    async with manager(fresh_app_dsn) as m:
        await m.run_round()
    assert rows(fresh_app_dsn, "SELECT entity, severity FROM alerts") == [
        ({"host.name": "db-01", "user.name": "jdoe", "source.ip": "10.0.0.9"}, "critical")]


async def test_next_rounds_update_then_escalate_then_a_closed_alert_starts_anew(fresh_app_dsn: str) -> None:
    async with manager(fresh_app_dsn) as m:
        store_hits(fresh_app_dsn, [hit(at=0, group=GROUP)])
        await m.run_round()
        store_hits(fresh_app_dsn, [hit(at=10, group=GROUP), hit(at=20, group=GROUP)])
        await m.run_round()
        store_hits(fresh_app_dsn, [hit(at=30, group=GROUP, level="critical")])
        await m.run_round()
        with psycopg.connect(fresh_app_dsn) as conn:
            conn.execute("UPDATE alerts SET status = 'closed', close_reason = 'true_positive'")
        store_hits(fresh_app_dsn, [hit(at=40, group=GROUP)])
        await m.run_round()
    assert rows(fresh_app_dsn, "SELECT status, count, severity FROM alerts ORDER BY id") == [
        ("closed", 4, "critical"), ("open", 1, "medium")]
    assert [r[0] for r in rows(fresh_app_dsn, "SELECT action FROM alert_history ORDER BY id")] == [
        "created", "updated", "escalated", "created"]


async def test_a_hit_committed_late_with_a_lower_id_is_not_skipped(fresh_app_dsn: str) -> None:
    """Worker transactions commit out of id order: hit 1 commits after hit 2 was grouped."""
    slow = psycopg.connect(fresh_app_dsn)
    try:
        insert_hits(slow, [hit(at=0, group={"host.name": "slow"})])  # id 1, not committed yet
        store_hits(fresh_app_dsn, [hit(at=1, group={"host.name": "fast"})])  # id 2, committed
        async with manager(fresh_app_dsn) as m:
            assert await m.run_round() == 1
            slow.commit()
            assert await m.run_round() == 1
            assert await m.run_round() == 0
    finally:
        slow.close()
    assert sorted(r[0] for r in rows(fresh_app_dsn, "SELECT entity->>'host.name' FROM alerts")) == ["fast", "slow"]
    assert rows(fresh_app_dsn, "SELECT hit_id FROM alert_cursor") == [(2,)]


async def test_the_cursor_waits_for_a_gap_then_passes_it_after_the_grace(fresh_app_dsn: str) -> None:
    now = [0.0]
    rolled_back = psycopg.connect(fresh_app_dsn)
    try:
        insert_hits(rolled_back, [hit(group={"host.name": "never"})])  # id 1, rolled back below
        store_hits(fresh_app_dsn, [hit(group={"host.name": "kept"})])
        async with manager(fresh_app_dsn, gap_grace=30) as m:
            m._clock = lambda: now[0]
            await m.run_round()
            assert rows(fresh_app_dsn, "SELECT hit_id FROM alert_cursor") == [(0,)]
            rolled_back.rollback()
            now[0] = 31.0
            await m.run_round()
    finally:
        rolled_back.close()
    assert rows(fresh_app_dsn, "SELECT hit_id FROM alert_cursor") == [(2,)]


async def test_a_restarted_manager_neither_repeats_nor_loses_a_hit(fresh_app_dsn: str) -> None:
    """A round cut in the middle (here: the write fails) rolls back whole; a new manager (a
    restart) reads the cursor and the links, and does each hit once."""
    store_hits(fresh_app_dsn, [hit(at=i, group={"host.name": f"h{i % 3}"}) for i in range(30)])
    async with manager(fresh_app_dsn, batch_size=10) as m:
        assert await m.run_round() == 10
    async with manager(fresh_app_dsn, batch_size=10) as m:
        import guetteur.store.alerts as store

        real = store.write_changes

        async def broken(*args: object) -> list[int]:
            await real(*args)  # type: ignore[arg-type]
            raise psycopg.OperationalError("connection lost mid-round")

        store.write_changes = broken  # type: ignore[assignment]
        try:
            with pytest.raises(psycopg.OperationalError):
                await m.run_round()
        finally:
            store.write_changes = real
    async with manager(fresh_app_dsn, batch_size=10) as m:
        while await m.run_round():
            pass
    assert rows(fresh_app_dsn, "SELECT count(*), count(DISTINCT hit_id) FROM alert_hits") == [(30, 30)]
    assert rows(fresh_app_dsn, "SELECT sum(count) FROM alerts") == [(30,)]
    assert rows(fresh_app_dsn, "SELECT count(*) FROM alerts") == [(3,)]


async def test_created_and_escalated_alerts_are_notified(fresh_app_dsn: str) -> None:
    listener = await psycopg.AsyncConnection.connect(fresh_app_dsn, autocommit=True)
    try:
        await listener.execute("LISTEN guetteur_alerts")
        store_hits(fresh_app_dsn, [hit(group=GROUP)])
        async with manager(fresh_app_dsn) as m:
            await m.run_round()
            store_hits(fresh_app_dsn, [hit(at=5, group=GROUP)])  # a plain update: no notification
            await m.run_round()
        got = [n.payload async for n in listener.notifies(timeout=1.0)]
    finally:
        await listener.close()
    assert got == [str(rows(fresh_app_dsn, "SELECT id FROM alerts")[0][0])]


async def test_the_running_task_groups_a_hit_soon_after_its_commit(fresh_app_dsn: str) -> None:
    async with manager(fresh_app_dsn, poll_interval=30) as m:  # only the writers' NOTIFY can wake it
        await m.start()
        try:
            await asyncio.sleep(0.3)  # the listener is connected
            store_hits(fresh_app_dsn, [hit(group=GROUP)])
            for _ in range(100):
                if rows(fresh_app_dsn, "SELECT count(*) FROM alerts")[0][0]:
                    break
                await asyncio.sleep(0.05)
        finally:
            await m.stop()
    assert rows(fresh_app_dsn, "SELECT count(*) FROM alerts") == [(1,)]


@pytest.mark.slow
async def test_100000_hits_in_bounded_memory_and_the_right_counts(fresh_app_dsn: str) -> None:
    """A storm: 100,000 hits over 200 entities and 5 rules. Rounds read `batch_size` hits at a
    time, so the manager's memory does not grow with the storm."""
    batch = [hit(f"rule-{i % 5}", at=i * 0.0006, group={"host.name": f"h{i % 200}"}) for i in range(100_000)]
    for start in range(0, len(batch), 20_000):
        store_hits(fresh_app_dsn, batch[start:start + 20_000])
    del batch
    async with manager(fresh_app_dsn, batch_size=5000) as m:
        tracemalloc.start()
        try:
            rounds = 0
            while await m.run_round():
                rounds += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rounds == 20
    assert peak < 64 * 1024 * 1024, peak
    assert rows(fresh_app_dsn, "SELECT count(*), sum(count), sum(event_total) FROM alerts") == [(200, 100_000, 100_000)]
    assert rows(fresh_app_dsn, "SELECT count(*) FROM alert_hits") == [(100_000,)]
    assert rows(fresh_app_dsn, "SELECT action, count(*) FROM alert_history GROUP BY 1 ORDER BY 1") == [
        ("created", 200), ("updated", 200 * 19)]
