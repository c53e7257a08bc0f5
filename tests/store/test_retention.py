"""Retention (store/retention.py, migration 0785): old day partitions dropped and newer ones kept,
`verify` still proves the chain after a cut (the message texts of migration 0790 go with their days) and fails after a drop by hand, hits and closed alerts
deleted and open alerts kept, 0 = forever, dry runs, who may cut. Real PostgreSQL; old batches
are stored by the real writer with its clock moved back (`head_query`), into partitions the owner
created for those past days."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta

import psycopg
import pytest
from psycopg import sql
from store_helpers import count, realistic_event
from typer.testing import CliRunner

from guetteur.cli import app
from guetteur.config import RetentionSettings, Settings
from guetteur.model import Event
from guetteur.store.audit import verify_audit_chain
from guetteur.store.chain import verify
from guetteur.store.database import with_params
from guetteur.store.retention import RetentionTask, run_retention
from guetteur.store.writer import BatchReceipt, EventWriter

Make = Callable[..., Event]
_serial = iter(range(10_000_000))


def _day(dsn: str, days_ago: int) -> date:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT ((now() - make_interval(days => %s)) AT TIME ZONE 'UTC')::date",
                           (days_ago,)).fetchone()
    assert row is not None
    day: date = row[0]
    return day


def _partition(day: date) -> str:
    return f"events_{day:%Y%m%d}"


def write_days_ago(owner_dsn: str, app_dsn: str, days_ago: int, batches: int = 2, size: int = 5) -> list[BatchReceipt]:
    """`batches` batches stored `days_ago` days back by the real writer (as the app role): its
    `now()` and the `ingested` default are moved back for the time of the writing (a `now()` in a
    schema the writer's connection searches before pg_catalog; the column default set by the owner)."""
    day = _day(owner_dsn, days_ago)
    back = f"{days_ago} days"
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS test_clock")
        conn.execute("GRANT USAGE ON SCHEMA test_clock TO guetteur_app")
        conn.execute(sql.SQL("CREATE OR REPLACE FUNCTION test_clock.now() RETURNS timestamptz LANGUAGE sql STABLE"
                             " AS {}").format(sql.Literal(f"SELECT pg_catalog.now() - interval '{back}'")))
        conn.execute(sql.SQL("ALTER TABLE events ALTER COLUMN ingested SET DEFAULT pg_catalog.now() - {}::interval")
                     .format(sql.Literal(back)))
        if days_ago:
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})")
                         .format(sql.Identifier(_partition(day)), sql.Literal(f"{day} 00:00+00"),
                                 sql.Literal(f"{day + timedelta(days=1)} 00:00+00")))
    try:
        with EventWriter(with_params(app_dsn, options="-c search_path=test_clock,pg_catalog,public")) as writer:
            return [writer.write_batch([realistic_event(next(_serial)) for _ in range(size)]) for _ in range(batches)]
    finally:
        with psycopg.connect(owner_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE events ALTER COLUMN ingested SET DEFAULT now()")


def partitions(dsn: str, table: str = "events") -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                            " WHERE i.inhparent = %s::regclass", (table,)).fetchall()
    return {str(r[0]) for r in rows}


@pytest.fixture
def aged(fresh_dsn: str, fresh_app_dsn: str) -> dict[int, list[BatchReceipt]]:
    """Batches 40, 35 and 20 days old and of today, interleaved in the chain."""
    return {
        40: write_days_ago(fresh_dsn, fresh_app_dsn, 40),
        0: write_days_ago(fresh_dsn, fresh_app_dsn, 0, batches=1),
        35: write_days_ago(fresh_dsn, fresh_app_dsn, 35, batches=3),
        20: write_days_ago(fresh_dsn, fresh_app_dsn, 20),
    }


def test_old_partitions_dropped_newer_kept_and_verify_still_proves_the_chain(
        fresh_dsn: str, aged: dict[int, list[BatchReceipt]]) -> None:
    before = partitions(fresh_dsn)
    old = {_partition(_day(fresh_dsn, 40)), _partition(_day(fresh_dsn, 35))}
    assert old <= before
    report = run_retention(fresh_dsn, RetentionSettings(events_days=30), actor="test")
    assert report.error is None
    cut = report.cut("events")
    assert cut is not None and cut.complete
    assert set(cut.partitions) == old
    assert (cut.deleted, cut.batches) == (25, 5)  # 2 x 5 + 3 x 5 events
    assert partitions(fresh_dsn) == before - old  # 20 days ago, today and the days ahead kept
    assert partitions(fresh_dsn, "event_text") == {"event_text_" + p[7:] for p in before - old}  # messages too
    assert count(fresh_dsn) == 15
    with psycopg.connect(fresh_dsn) as conn:
        logged = conn.execute("SELECT partitions, rows_deleted, batches, last_batch_seq, encode(last_chain_hash, 'hex'),"
                              " actor FROM retention_log WHERE kind = 'events' ORDER BY id").fetchall()
    assert sorted(p for row in logged for p in row[0]) == sorted(old)
    newest_35 = aged[35][-1]
    assert (newest_35.seq, newest_35.chain_hash, "test") in {(r[3], r[4], r[5]) for r in logged}
    assert sum(r[1] for r in logged) == 25 and sum(r[2] for r in logged) == 5

    result = verify(fresh_dsn)
    assert result.ok, result.reason
    assert (result.expired_batches, result.expired_rows) == (5, 25)
    assert (result.batches_checked, result.rows_checked) == (8, 15)
    assert result.head_hash == aged[20][-1].chain_hash
    assert result.retention is not None
    assert f"5 batches (25 events) before {_day(fresh_dsn, 35) + timedelta(days=1)} expired by retention" \
        in result.retention
    assert f"contents verified from {_day(fresh_dsn, 20)}" in result.retention

    again = run_retention(fresh_dsn, RetentionSettings(events_days=30), actor="test")
    assert again.cut("events") is not None and not again.deleted_anything  # nothing left to cut


def test_a_partition_dropped_by_hand_breaks_verify(fresh_dsn: str, aged: dict[int, list[BatchReceipt]]) -> None:
    run_retention(fresh_dsn, RetentionSettings(events_days=30), actor="test")
    assert verify(fresh_dsn).ok
    with psycopg.connect(fresh_dsn) as conn:  # the owner, without retention
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(_partition(_day(fresh_dsn, 20)))))
    result = verify(fresh_dsn)
    assert not result.ok
    assert result.first_broken_batch == aged[20][0].batch_id
    assert result.reason is not None and "rows deleted" in result.reason


def test_a_forged_retention_record_does_not_hide_a_drop(fresh_dsn: str, aged: dict[int, list[BatchReceipt]]) -> None:
    del aged
    part = _partition(_day(fresh_dsn, 20))
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(part)))
        conn.execute("INSERT INTO retention_log (kind, days, cutoff, partitions, actor)"
                     " VALUES ('events', 30, now(), ARRAY[%s], 'intruder')", (part,))
    result = verify(fresh_dsn)
    assert not result.ok
    assert result.reason is not None and "retention record" in result.reason


def test_only_the_owner_cuts(fresh_dsn: str, fresh_app_dsn: str, aged: dict[int, list[BatchReceipt]]) -> None:
    del aged
    with psycopg.connect(fresh_app_dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("guetteur_app",)
        for call in ("SELECT * FROM guetteur_retention_events(1, 400, 'app', false)",
                     "SELECT * FROM guetteur_retention_hits(1, 10, 'app', false)",
                     "SELECT * FROM guetteur_retention_alerts(1, 10, 'app', false)",
                     "INSERT INTO retention_log (kind, days, cutoff, actor) VALUES ('events', 1, now(), 'app')",
                     "DELETE FROM retention_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(call.encode())
            conn.rollback()
    report = run_retention(fresh_dsn, RetentionSettings(events_days=30), actor="test")
    assert report.deleted_anything
    with psycopg.connect(fresh_dsn) as conn:  # the log is append-only, even for the owner
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM retention_log")
        conn.rollback()
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT * FROM guetteur_retention_events(0, 400, 'x', false)")  # 0 is "forever"


def test_zero_keeps_forever_and_dry_run_deletes_nothing(fresh_dsn: str, aged: dict[int, list[BatchReceipt]]) -> None:
    del aged
    before = partitions(fresh_dsn)
    forever = run_retention(fresh_dsn, RetentionSettings(), actor="test")
    assert forever.cuts == [] and not forever.deleted_anything
    assert any("kept forever" in line for line in forever.lines())
    dry = run_retention(fresh_dsn, RetentionSettings(events_days=30, hits_days=1, alerts_days=1), actor="test",
                        dry_run=True)
    cut = dry.cut("events")
    assert cut is not None and len(cut.partitions) == 2 and cut.deleted == 25
    assert not dry.deleted_anything and any("would delete 2 day partition(s)" in line for line in dry.lines())
    assert partitions(fresh_dsn) == before and count(fresh_dsn) == 40
    assert count(fresh_dsn, "SELECT count(*) FROM retention_log") == 0
    assert count(fresh_dsn, "SELECT count(*) FROM audit_log WHERE action = 'retention.run'") == 0
    assert verify(fresh_dsn).expired_batches == 0


def _alert(conn: psycopg.Connection, status: str, days_ago: int) -> int:
    closed = status == "closed"
    row = conn.execute(
        "INSERT INTO alerts (rule_id, rule_title, severity, status, close_reason, first_seen, last_seen, created, updated)"
        " VALUES ('r1', 'Rule one', 'low', %s, %s, now() - make_interval(days => %s), now() - make_interval(days => %s),"
        " now() - make_interval(days => %s), now() - make_interval(days => %s)) RETURNING id",
        (status, "false_positive" if closed else None, days_ago, days_ago, days_ago, days_ago)).fetchone()
    assert row is not None
    alert_id = int(row[0])
    hit = conn.execute("INSERT INTO hits (created, rule_id, rule_title, level) VALUES"
                       " (now() - make_interval(days => %s), 'r1', 'Rule one', 'low') RETURNING id",
                       (days_ago,)).fetchone()
    assert hit is not None
    conn.execute("INSERT INTO alert_history (alert_id, actor, action) VALUES (%s, 'system', 'created')", (alert_id,))
    conn.execute("INSERT INTO alert_hits (hit_id, alert_id) VALUES (%s, %s)", (hit[0], alert_id))
    conn.execute("INSERT INTO hit_risk (hit_id, alert_id, score) VALUES (%s, %s, 10)", (hit[0], alert_id))
    return alert_id


def test_old_hits_and_closed_alerts_deleted_open_ones_kept(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn) as conn:
        old_closed = _alert(conn, "closed", 100)
        new_closed = _alert(conn, "closed", 2)
        old_open = _alert(conn, "open", 100)
        old_acknowledged = _alert(conn, "acknowledged", 100)
    report = run_retention(fresh_dsn, RetentionSettings(hits_days=30, alerts_days=30), actor="test")
    assert report.error is None
    hits, alerts = report.cut("hits"), report.cut("alerts")
    assert hits is not None and hits.deleted == 3  # the three 100-day-old hits
    assert alerts is not None and alerts.deleted == 1
    with psycopg.connect(fresh_dsn) as conn:
        kept = {int(r[0]) for r in conn.execute("SELECT id FROM alerts").fetchall()}
        assert kept == {new_closed, old_open, old_acknowledged}
        for table in ("alert_history", "alert_hits", "hit_risk"):
            ids = {int(r[0]) for r in conn.execute(
                sql.SQL("SELECT alert_id FROM {}").format(sql.Identifier(table))).fetchall()}
            assert old_closed not in ids and kept <= ids, table
        assert count(fresh_dsn, "SELECT count(*) FROM hits") == 1
        logged = conn.execute("SELECT kind, rows_deleted, detail FROM retention_log ORDER BY id").fetchall()
    assert [(k, n) for k, n, _ in logged] == [("hits", 3), ("alerts", 1)]
    assert logged[1][2] == {"history": 1, "hit_links": 1, "hit_scores": 1, "risk_contributions": 0}
    audit = count(fresh_dsn, "SELECT count(*) FROM audit_log WHERE action = 'retention.run' AND actor = 'test'")
    assert audit == 1
    assert verify_audit_chain(fresh_dsn).ok


def test_cli_uses_the_console_setting_and_dry_run(fresh_dsn: str, aged: dict[int, list[BatchReceipt]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    del aged
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    monkeypatch.setenv("GUETTEUR_RETENTION__EVENTS_DAYS", "0")  # the file keeps forever...
    with psycopg.connect(fresh_dsn) as conn:  # ...the console says 30 days
        conn.execute("INSERT INTO runtime_settings (section, value, updated_by) VALUES ('retention',"
                     " '{\"events_days\": 30, \"hits_days\": 0, \"alerts_days\": 0}', 'admin')")
    runner = CliRunner()
    dry = runner.invoke(app, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "events: would delete 2 day partition(s)" in dry.output and "25 events in 5 batches" in dry.output
    assert "hits: kept forever" in dry.output
    assert count(fresh_dsn) == 40
    done = runner.invoke(app, ["retention", "run"])
    assert done.exit_code == 0, done.output
    assert "events: deleted 2 day partition(s)" in done.output
    assert count(fresh_dsn) == 15
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert "batches:    8  events: 15 (and 25 expired by retention)" in status.output
    checked = runner.invoke(app, ["verify"])
    assert checked.exit_code == 0, checked.output
    assert "expired by retention" in checked.output and "links verified" in checked.output
    assert count(fresh_dsn, "SELECT count(*) FROM audit_log WHERE action = 'retention.run' AND actor = 'cli'") == 1


def test_the_task_runs_at_start_with_the_settings_in_force(fresh_dsn: str, aged: dict[int, list[BatchReceipt]],
                                                           tmp_path: object) -> None:
    del aged

    class Runtime:  # what the task reads of RuntimeSettings: the settings in force now
        current = Settings(retention=RetentionSettings(events_days=30))

    async def scenario() -> dict[str, object]:
        task = RetentionTask(fresh_dsn, Settings(), runtime=Runtime(), interval=3600)
        await task.start()
        try:
            for _ in range(600):
                if task.runs:
                    break
                await asyncio.sleep(0.05)
            return task.health()
        finally:
            await task.stop()

    health = asyncio.run(scenario())
    assert health["runs"] == 1 and health["next_run"] is not None
    last = health["last_run"]
    assert isinstance(last, dict)
    assert (last["event_partitions"], last["events"], last["complete"], last["error"]) == (2, 25, True, None)
    assert count(fresh_dsn) == 15
    assert count(fresh_dsn, "SELECT count(*) FROM audit_log WHERE action = 'retention.run' AND actor = 'retention'") == 1
