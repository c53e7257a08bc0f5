"""A batch holding a record that always fails no longer stalls its worker: the record is
quarantined and counted, the rest stored, the next batch taken; a database that goes away and
comes back is still waited for, and nothing is lost or stored twice."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from psycopg import sql
from worker_helpers import NUL_TITLE_RULE, POISON_MARKER, YEAR_ZERO, app_line, records, running_worker

from guetteur.config import Settings
from guetteur.pipeline.runtime import Pipeline
from guetteur.store.chain import verify


def scalar(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_a_record_that_always_fails_is_quarantined_and_the_worker_moves_on(fresh_app_dsn: str, fresh_dsn: str,
                                                                          tmp_path: Path) -> None:
    """60 application error lines that a built-in rule flags, one line that a rule whose hits
    can never be stored flags (its title holds a NUL), and one line stamped in year 0 (UTC) whose
    hit could not be converted: acknowledged with 62 stored, 1 quarantined; the year-0 line and
    its alert are stored normally (its hit's time is unknown); the next batch is acknowledged;
    the chain verifies."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "nul_title.yml").write_text(NUL_TITLE_RULE)
    poison = app_line(999, message=POISON_MARKER)
    first = ([app_line(i) for i in range(30)] + [poison, app_line(998, YEAR_ZERO)]
             + [app_line(i) for i in range(30, 60)])
    with running_worker(fresh_app_dsn, [tmp_path / "rules"]) as worker:
        worker.send(1, records(first))
        kind, _, seq, stats = worker.next(timeout=120)  # before: never (retried forever)
        assert (kind, seq) == ("ack", 1)
        assert stats["sources"]["http"]["stored"] == 62
        assert stats["sources"]["http"]["quarantined"] == 1
        worker.send(2, records([app_line(i) for i in range(60, 80)]))
        kind, _, seq, stats = worker.next(timeout=120)
        assert (kind, seq) == ("ack", 2)
        assert stats["sources"]["http"]["stored"] == 20
        assert stats["sources"]["http"]["quarantined"] == 0
    assert scalar(fresh_dsn, "SELECT count(*) FROM events") == 82
    assert scalar(fresh_dsn, "SELECT count(*) FROM hits") == 81  # every line but the poison
    assert scalar(fresh_dsn, "SELECT count(*) FROM hits WHERE event_times = ARRAY[NULL]::timestamptz[]") == 1
    with psycopg.connect(fresh_dsn) as conn:
        [(source, kind, error, record)] = conn.execute(
            "SELECT source, error_kind, error, record FROM quarantined_events").fetchall()
    assert (source, kind) == ("http", "RecordRejected")
    assert "cannot contain NUL" in error
    assert json.loads(record)["event"]["original"] == poison.decode()  # the line as received
    assert verify(fresh_dsn).ok


def test_a_database_that_goes_away_is_waited_for_and_nothing_is_lost(fresh_app_dsn: str, fresh_dsn: str,
                                                                     pg_server_dsn: str) -> None:
    """The database stops accepting connections and the worker's connection is cut (as in a
    restart): the batch is not acknowledged while it is away (recoverable: retried with backoff,
    nothing quarantined), then stored exactly once when it is back."""
    name = psycopg.conninfo.conninfo_to_dict(fresh_dsn)["dbname"]
    assert isinstance(name, str)

    def allow(allowed: bool) -> None:
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.Literal(allowed)))
            if not allowed:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    with running_worker(fresh_app_dsn) as worker:
        allow(False)
        try:
            worker.send(1, records([app_line(i) for i in range(50)]))
            assert worker.idle_for(3.0), "acknowledged while the database was away"
        finally:
            allow(True)
        kind, _, seq, stats = worker.next(timeout=120)
        assert (kind, seq) == ("ack", 1)
        assert stats["sources"]["http"] == {"stored": 50, "unparsed": 0, "merged": 0, "quarantined": 0}
    assert scalar(fresh_dsn, "SELECT count(*) FROM events") == 50
    assert scalar(fresh_dsn, "SELECT count(DISTINCT id) FROM events") == 50
    assert scalar(fresh_dsn, "SELECT count(*) FROM hits") == 50
    assert verify(fresh_dsn).ok


def test_health_shows_what_workers_quarantined(settings: Settings) -> None:
    """The counts a worker sends back reach the health answer, per source and in the totals."""
    pipeline = Pipeline(settings, "")
    pipeline._count({"sources": {"http": {"stored": 61, "unparsed": 0, "merged": 0, "quarantined": 1}}})
    health = pipeline.health()
    assert health["sources"]["http"]["stored"] == 61
    assert health["sources"]["http"]["quarantined"] == 1
    assert health["totals"]["quarantined"] == 1
